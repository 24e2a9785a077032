"""Batch normalisation with TensorFlow's fused kernel in training: the same numbers as Keras' layer, a faster step.

Keras 3's ``BatchNormalization`` computes batch moments and the normalisation as separate element-wise passes
(``tf.nn.moments`` then ``tf.nn.batch_normalization``, and as many again in the backward pass). TensorFlow's
``FusedBatchNormV3`` kernel does each direction in one pass; on this project's 2-core CPU a 64-px ResNet50 training
step of 32 is ~1.2x faster with it (``benchmarks/train_step.py`` prints the ratio side by side).

:class:`FusedBatchNormalization` is a drop-in subclass: same weights, same config, same moving-average rule
(``moving = momentum * moving + (1 - momentum) * batch``, with the *biased* batch variance, as Keras). The fused
kernel is used only where it computes exactly that (training, NHWC, float32 inputs, per-replica statistics, centre
and scale on, no mask, no renorm, epsilon >= 1.001e-5, TensorFlow backend); everywhere else, inference included, it is Keras' own
``call``. ``fused=False`` (``--fused_bn=false``) switches it off per layer.
"""
from __future__ import annotations

import keras
import tensorflow as tf


FUSED_MIN_EPSILON = 1.001e-5  # tf.nn.fused_batch_norm raises a smaller epsilon to this value


@keras.saving.register_keras_serializable(package="hmtl_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training pass runs ``tf.compat.v1.nn.fused_batch_norm``."""

    def __init__(self, *args, fused: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fused = bool(fused)

    def fused_applies(self, inputs, training, mask) -> bool:
        """True where the fused kernel gives Keras' result (see the module docstring)."""
        return bool(self.fused and training is True and self.trainable and mask is None and not self.renorm
                    and not self.synchronized and self.center and self.scale
                    and keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
                    and self.axis in (-1, 3) and inputs.dtype == tf.float32 and self.compute_dtype == "float32"
                    and self.epsilon >= FUSED_MIN_EPSILON)

    def call(self, inputs, training=None, mask=None):
        if not self.fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta), epsilon=self.epsilon,
            data_format="NHWC", is_training=True)
        # The kernel returns the Bessel-corrected variance (n / (n - 1)); Keras' moving average uses the biased one.
        n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = tf.stop_gradient(unbiased) * tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0)
        mean = tf.stop_gradient(mean)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return y

    def get_config(self):
        return dict(super().get_config(), fused=self.fused)


def batch_norm(name: str, epsilon: float = 1.001e-5) -> keras.layers.Layer:
    """The project's BN layer (channels last; ResNet's epsilon): :class:`FusedBatchNormalization`, fused on
    (:func:`set_fused_batchnorm` switches a built model)."""
    return FusedBatchNormalization(axis=-1, epsilon=epsilon, name=name)


def set_fused_batchnorm(layers, enabled: bool) -> int:
    """Turns the fused training kernel on or off in every :class:`FusedBatchNormalization` of ``layers`` (an
    iterable of layers, e.g. ``backbone.iter_layers(model)``); returns how many layers it set."""
    count = 0
    for layer in layers:
        if isinstance(layer, FusedBatchNormalization):
            layer.fused = bool(enabled)
            count += 1
    return count
