"""ResNet backbones with named taps ``stage1..stage4`` = flags 1-4 = conv2_x..conv5_x (Sec. 3.2, Fig. 2).

All are written here with ``keras.applications``' layer names and layer order: ResNet50/101/152 as its ResNet v1
(bottleneck blocks, stride on the first 1x1 convolution, convolution biases), so its notop ImageNet ``.h5`` files
load layer for layer (tested against ``keras.applications.ResNet50`` output for output); ResNet18/34 (BasicBlock,
for the KD-OE students) with the same naming. Writing them here lets every batch norm be
:class:`~hmtl_tf.models.batchnorm.FusedBatchNormalization` (Keras' numbers, TensorFlow's fused training kernel).
The backbone's input is raw RGB [0, 255]; its first layer is ``ImagePreprocess`` (the ImageNet "caffe"
normalisation the Keras ImageNet weights expect).
"""
from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

import keras

from hmtl_tf.config import ConfigError
from hmtl_tf.models.batchnorm import batch_norm, set_fused_batchnorm
from hmtl_tf.models.layers import ImagePreprocess

TAP_STRIDES = {1: 4, 2: 8, 3: 16, 4: 32}  # flag -> stride of its feature map w.r.t. the input
STAGE_BLOCKS = {
    "resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3),
    "resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3),
}
STAGE_CHANNELS = {
    "resnet18": (64, 128, 256, 512), "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048), "resnet101": (256, 512, 1024, 2048), "resnet152": (256, 512, 1024, 2048),
}
# keras.applications' ResNets: the bottleneck ones, and the ones with ImageNet files
_APPLICATIONS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}
BN_EPSILON = 1.001e-5  # as keras.applications.resnet


def imagenet_filename(name: str) -> str:
    """The Keras notop ImageNet file of ``name`` (as cached by ``keras.applications``)."""
    if name not in _APPLICATIONS:
        raise ConfigError(f"--backbone={name}: no Keras ImageNet weights exist (only {', '.join(_APPLICATIONS)})")
    return f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def keras_cache_dir() -> str:
    """``$KERAS_HOME/models`` or ``~/.keras/models`` (where keras.applications caches weights)."""
    return os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")


def tap_layer_names(name: str) -> Dict[str, str]:
    """``{"stage1": "conv2_block3_out", ...}`` for backbone ``name``."""
    if name not in STAGE_BLOCKS:
        raise ValueError(f"--backbone={name!r}: expected one of {', '.join(STAGE_BLOCKS)}")
    return {f"stage{k}": f"conv{k + 1}_block{n}_out" for k, n in enumerate(STAGE_BLOCKS[name], start=1)}


def _bn(name: str) -> keras.layers.Layer:
    return batch_norm(name, epsilon=BN_EPSILON)


def _bottleneck_block(x, filters: int, stride: int, project: bool, name: str):
    """ResNet v1 bottleneck (He et al. 2016) as ``keras.applications.resnet.residual_block_v1``: 1x1 (stride) -
    3x3 - 1x1 (4 x filters), identity or 1x1 projection shortcut, biased convolutions, same names, same order."""
    shortcut = x
    if project:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = _bn(name + "_0_bn")(shortcut)
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = keras.layers.Activation("relu", name=name + "_1_relu")(_bn(name + "_1_bn")(x))
    x = keras.layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
    x = keras.layers.Activation("relu", name=name + "_2_relu")(_bn(name + "_2_bn")(x))
    x = keras.layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = keras.layers.Add(name=name + "_add")([shortcut, _bn(name + "_3_bn")(x)])
    return keras.layers.Activation("relu", name=name + "_out")(x)


def _basic_block(x, filters: int, stride: int, project: bool, name: str):
    """ResNet BasicBlock (He et al. 2016): 3x3-3x3 with identity or 1x1 projection shortcut."""
    shortcut = x
    if project:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name + "_0_conv")(x)
        shortcut = _bn(name + "_0_bn")(shortcut)
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name + "_1_conv")(x)
    x = keras.layers.Activation("relu", name=name + "_1_relu")(_bn(name + "_1_bn")(x))
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(x)
    x = keras.layers.Add(name=name + "_add")([shortcut, _bn(name + "_2_bn")(x)])
    return keras.layers.Activation("relu", name=name + "_out")(x)


def _resnet_body(x, name: str):
    """ResNet ``name`` body on ``x`` (stem as keras.applications.ResNet50: a biased 7x7 convolution for the
    bottleneck nets, unbiased for ResNet18/34); returns the last tensor."""
    bottleneck = name in _APPLICATIONS
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=bottleneck, name="conv1_conv")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for k, (blocks, channels) in enumerate(zip(STAGE_BLOCKS[name], STAGE_CHANNELS[name]), start=2):
        for b in range(1, blocks + 1):
            first = b == 1
            stride = 2 if first and k > 2 else 1
            if bottleneck:  # every stage's first block projects (stage 2 too: 64 -> 256 channels)
                x = _bottleneck_block(x, channels // 4, stride, first, f"conv{k}_block{b}")
            else:
                x = _basic_block(x, channels, stride, first and k > 2, f"conv{k}_block{b}")
    return x


def _resolve_weights(name: str, weights: Optional[str], imagenet_file: str) -> Optional[str]:
    """The weights file to load (None = random init); raises a one-line error when it is missing."""
    if weights in (None, "", "random"):
        return None
    if weights == "imagenet":
        fname = imagenet_filename(name)
        path = imagenet_file or os.path.join(keras_cache_dir(), fname)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"--init=imagenet: ImageNet weights file {path} not found; expected the Keras notop file {fname} "
                f"there (put it in {keras_cache_dir()} or pass --imagenet_weights=PATH; nothing is downloaded)")
        return path
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"--init={weights}: backbone weights file not found (expected a .weights.h5 file "
                                f"saved from a {name} backbone of our pre-training)")
    return weights


def build_backbone(name: str = "resnet50", input_shape: Tuple[int, int, int] = (224, 224, 3),
                   weights: Optional[str] = None, imagenet_file: str = "", sync_bn: bool = False,
                   model_name: str = "backbone", fused_bn: bool = True) -> keras.Model:
    """Functional ResNet ``name`` on raw RGB input; outputs ``{"stage1": ..., "stage4": ...}``.

    weights: None | "imagenet" (``imagenet_file`` or the Keras cache; never downloaded) | a weights file of our
    own pre-training (backbone only). ``sync_bn``: batch statistics over all replicas under tf.distribute.
    ``fused_bn``: the batch norms' fused training kernel (same numbers, faster; ``batchnorm.py``).
    """
    taps = tap_layer_names(name)
    path = _resolve_weights(name, weights, imagenet_file)
    image = keras.Input(shape=tuple(input_shape), name="image")
    body = keras.Model(image, _resnet_body(ImagePreprocess(name="preprocess")(image), name))
    model = keras.Model(image, {k: body.get_layer(v).output for k, v in taps.items()}, name=model_name)
    if path is not None:
        load_backbone_weights(model, path)
    if sync_bn:
        set_sync_batchnorm(model)
    set_fused_batchnorm(iter_layers(model), fused_bn)
    return model


def load_backbone_weights(model: keras.Model, path: str) -> None:
    """Loads a Keras notop ImageNet ``.h5`` or our own ``.weights.h5`` into ``model``; one-line error on mismatch."""
    try:
        model.load_weights(path)
    except Exception as exc:  # keras raises several types; re-raise one line naming the file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"backbone weights {path}: do not fit backbone {model.name!r} ({first})") from exc


def set_sync_batchnorm(model: keras.Model, enabled: bool = True) -> None:
    """Makes every BatchNormalization of ``model`` use global (cross-replica) batch statistics."""
    for layer in iter_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = enabled


def iter_layers(model):
    """Every layer of ``model``, nested models' layers included (depth first)."""
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from iter_layers(layer)
