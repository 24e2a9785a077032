"""Serializable custom layers used inside the networks (load with ``import hmtl_tf.models``).

``ImagePreprocess``: raw RGB [0, 255] -> ImageNet "caffe" input (DESIGN.md: exported models take raw RGB).
``HopeNetDecode``: bin logits -> softmax expectation in degrees (Eq. 2's E, SPEC section 8).
``SqueezeLast``: a regression head's (B, 1) output -> (B,) degrees.
"""
from __future__ import annotations

import keras
from keras import ops

from hmtl_tf.bins import Bins
from hmtl_tf.losses import hopenet_expectation

# keras.applications.imagenet_utils "caffe" mode: RGB -> BGR, minus these per-channel means (BGR), no scaling.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def output_dtype() -> str:
    """Dtype of output layers: float32 under a mixed policy (float16 outputs would lose the logits), else floatx."""
    policy = keras.config.dtype_policy()
    return "float32" if policy.compute_dtype in ("float16", "bfloat16") else policy.name


@keras.saving.register_keras_serializable(package="hmtl_tf")
class ImagePreprocess(keras.layers.Layer):
    """In-graph twin of ``keras.applications.resnet50.preprocess_input`` for NHWC RGB in [0, 255]."""

    def call(self, images):
        x = ops.cast(images, self.compute_dtype)
        bgr = ops.flip(x, axis=-1)
        return bgr - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="hmtl_tf")
class HopeNetDecode(keras.layers.Layer):
    """Logits (B, n) -> (B,) degrees: ``sum_i softmax_i * value_i`` with the bins' left edges or centres."""

    def __init__(self, bin_size: float = 3.0, lo: float = -99.0, hi: float = 99.0, decode: str = "left_edge",
                 **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.bin_size, self.lo, self.hi, self.decode = float(bin_size), float(lo), float(hi), decode
        self.values = Bins(self.bin_size, self.lo, self.hi).decode_values(decode).astype("float32")

    def call(self, logits):
        return hopenet_expectation(ops.cast(logits, "float32"), self.values)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]

    def get_config(self):
        return {**super().get_config(), "bin_size": self.bin_size, "lo": self.lo, "hi": self.hi,
                "decode": self.decode}


@keras.saving.register_keras_serializable(package="hmtl_tf")
class SqueezeLast(keras.layers.Layer):
    """(B, 1) -> (B,) (regression heads' degrees, float32)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, x):
        return ops.squeeze(ops.cast(x, "float32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]
