"""MNN network (Valle et al., mnn-multitask-head-pose.md Sec. 3.1, Fig. 2; SPEC section 6).

U-Net-like encoder-decoder of bottleneck residual blocks (He et al.) with lateral skip connections
(concatenation). The encoder halves the map at every stage down to 1x1 (256 px -> 9 stages; 64 px -> 7);
widths grow from ``base`` to ``4 * base`` (paper: 64 -> 256), BN + ReLU after every convolution.
Head pose is regressed at the bottleneck: ``mnn_pose_{angle}`` (p^ED, Eq. 1, degrees) and ``mnn_pose_ae``
(p^AE, Eq. 2: 6 raw values, see ``hmtl_tf.mnn.losses.decode_ae``). The decoder end gives 68 heatmap
logits ``mnn_heatmaps`` (spatial softmax in the loss, Eq. 3) and visibility logits ``mnn_visibility``
(1x1 conv then a full-map average pooling, Eq. 4).

Task sets (``cfg.model.tasks``; "" = ``all``), the rows of their Table 1 / Fig. 4:
  ``landmarks``   pre-training, L_CE(h) only (full network, pose heads untrained);
  ``pose``        single-task "Pose" row: L_ED only, encoder-only network (no decoder is built);
  ``all``         Eq. 5 with all four terms: "Sym" from scratch, "Pre+Sym" after ``load_pretrained``
                  (and ``pose`` after ``load_pretrained`` is "Pre+Pose");
  ``all_decoder`` Fig. 4 green curve: like ``all`` but both pose losses at the decoder end.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple

import keras

from hmtl_tf.config import ConfigError, TrainConfig
from hmtl_tf.models.layers import ImagePreprocess, SqueezeLast

NUM_LANDMARKS = 68
POSE_UNIT_DEG = 45.0   # p^ED layers output units of 45 degrees (conditioning of a linear regressor)
AE_PARAMS = 6          # p^AE: yaw, pitch, roll (units of POSE_UNIT_DEG), log-scale, tx, ty


@dataclass(frozen=True)
class TaskSet:
    losses: FrozenSet[str]        # subset of {"ed", "ae", "heatmap", "visibility"}
    decoder: bool                 # build the decoder (heatmaps, visibility)
    pose_at: str = "encoder"      # where p^ED / p^AE are attached: encoder (bottleneck) | decoder (end)


TASKS: Dict[str, TaskSet] = {
    "landmarks": TaskSet(frozenset({"heatmap"}), True),
    "pose": TaskSet(frozenset({"ed"}), False),
    "all": TaskSet(frozenset({"ed", "ae", "heatmap", "visibility"}), True),
    "all_decoder": TaskSet(frozenset({"ed", "ae", "heatmap", "visibility"}), True, "decoder"),
}


def task_set(tasks: str) -> TaskSet:
    """The :class:`TaskSet` of ``cfg.model.tasks`` ("" = ``all``); ConfigError naming the flag otherwise."""
    name = tasks or "all"
    if name not in TASKS:
        raise ConfigError(f"--tasks={tasks!r}: expected one of {', '.join(TASKS)} for --family=mnn")
    return TASKS[name]


@dataclass(frozen=True)
class MNNArch:
    sizes: Tuple[int, ...]        # map size per stage, S down to 1
    widths: Tuple[int, ...]       # channels per stage
    blocks: int = 1               # bottleneck blocks per stage (encoder and decoder)


def arch_for(image_size: int, base: Optional[int] = None, blocks: int = 1) -> MNNArch:
    """Depth and width from the input size: one stage per halving down to 1x1 (ceil), widths
    ``min(base * 2^k, 4 * base)`` with ``base = clip(64 * S / 256, 16, 64)`` (paper at 256 px: 64 -> 256)."""
    s = int(image_size)
    if s < 8:
        raise ConfigError(f"--image_size={s}: the MNN encoder needs at least 8 px")
    sizes = [s]
    while sizes[-1] > 1:
        sizes.append(math.ceil(sizes[-1] / 2))
    b = int(base) if base else int(min(64, max(16, round(64 * s / 256))))
    widths = tuple(min(b * 2 ** k, 4 * b) for k in range(len(sizes)))
    return MNNArch(tuple(sizes), widths, blocks)


# ----------------------------------------------------------------------------------------- blocks
def conv_bn_relu(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def bottleneck_block(x, filters: int, stride: int, name: str):
    """He et al. bottleneck: 1x1 (filters/4) -> 3x3 (stride) -> 1x1 (filters), projection shortcut when the
    shape changes, add, ReLU; BN after every convolution."""
    mid = max(filters // 4, 8)
    y = conv_bn_relu(x, mid, 1, 1, f"{name}_a")
    y = conv_bn_relu(y, mid, 3, stride, f"{name}_b")
    y = conv_bn_relu(y, filters, 1, 1, f"{name}_c", relu=False)
    if stride != 1 or x.shape[-1] != filters:
        x = conv_bn_relu(x, filters, 1, stride, f"{name}_proj", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _stage(x, filters: int, stride: int, blocks: int, name: str):
    for b in range(blocks):
        x = bottleneck_block(x, filters, stride if b == 0 else 1, f"{name}_b{b}")
    return x


def _pose_heads(features, angles, name_pool: str) -> Dict[str, object]:
    """p^ED: per angle Dense(1) * POSE_UNIT_DEG -> (B,) degrees (keys = angle names); p^AE: (B, 6) raw.
    Zero-initialised kernels: training starts from the frontal pose at the mean scale and centre."""
    x = keras.layers.GlobalAveragePooling2D(name=name_pool)(features)
    out = {}
    for a in angles:
        z = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32", name=f"mnn_pose_{a}")(x)
        z = keras.layers.Rescaling(POSE_UNIT_DEG, dtype="float32", name=f"mnn_pose_{a}_deg")(z)
        out[a] = SqueezeLast(name=a)(z)
    out["pose_ae"] = keras.layers.Dense(AE_PARAMS, kernel_initializer="zeros", dtype="float32", name="mnn_pose_ae")(x)
    return out


# ----------------------------------------------------------------------------------------- networks
def build_network(cfg: TrainConfig) -> keras.Model:
    """Input ``"image"`` (S, S, 3) raw RGB [0, 255]. Outputs: ``{angle}`` (B,) degrees (p^ED), ``pose_ae``
    (B, 6) raw p^AE, and with a decoder ``heatmaps`` (B, S, S, 68) logits and ``visibility`` (B, 68) logits."""
    ts = task_set(cfg.model.tasks)
    arch = arch_for(cfg.data.image_size)
    s = arch.sizes[0]
    image = keras.Input((s, s, 3), name="image")
    x = ImagePreprocess(name="mnn_preprocess")(image)
    x = conv_bn_relu(x, arch.widths[0], 3, 1, "mnn_enc0_stem")
    skips: List[object] = []
    for k, width in enumerate(arch.widths):
        x = _stage(x, width, 1 if k == 0 else 2, arch.blocks, f"mnn_enc{k}")
        skips.append(x)
    outputs: Dict[str, object] = {}
    if ts.pose_at == "encoder":
        outputs.update(_pose_heads(x, cfg.model.angles, "mnn_pose_pool"))
    if ts.decoder:
        for k in range(len(arch.sizes) - 2, -1, -1):
            x = keras.layers.UpSampling2D(2, name=f"mnn_dec{k}_up")(x)
            extra = 2 * arch.sizes[k + 1] - arch.sizes[k]
            if extra:
                x = keras.layers.Cropping2D(((0, extra), (0, extra)), name=f"mnn_dec{k}_crop")(x)
            x = keras.layers.Concatenate(name=f"mnn_dec{k}_skip")([x, skips[k]])
            x = _stage(x, arch.widths[k], 1, arch.blocks, f"mnn_dec{k}")
        outputs["heatmaps"] = keras.layers.Conv2D(NUM_LANDMARKS, 1, dtype="float32", name="mnn_heatmaps")(x)
        v = keras.layers.Conv2D(NUM_LANDMARKS, 1, dtype="float32", name="mnn_visibility_conv")(x)
        outputs["visibility"] = keras.layers.GlobalAveragePooling2D(dtype="float32", name="mnn_visibility")(v)
        if ts.pose_at == "decoder":
            outputs.update(_pose_heads(x, cfg.model.angles, "mnn_pose_pool"))
    return keras.Model(image, outputs, name=f"mnn_{cfg.model.tasks or 'all'}")


def build_inference_model(cfg: TrainConfig, network: keras.Model) -> keras.Model:
    """The pose-only sub-graph of ``network`` (shared layers): raw RGB in, ``{angle: (B,) degrees}`` (p^ED) out.
    With pose at the encoder (every task set but ``all_decoder``) it holds no decoder layer."""
    outputs = {a: network.get_layer(a).output for a in cfg.model.angles}
    return keras.Model(network.input, outputs, name="mnn_inference")


# ----------------------------------------------------------------------------------------- pre-training
PRETRAINED_PREFIXES = ("mnn_enc", "mnn_dec", "mnn_heatmaps")  # what the landmark stage trains


def load_pretrained(network: keras.Model, path: str, cfg: Optional[TrainConfig] = None) -> List[str]:
    """Copies the encoder, decoder and heatmap layers of a ``tasks=landmarks`` run (its ``best.weights.h5``,
    or the run directory) into ``network`` by layer name ("Pre+Sym" / "Pre+Pose", Sec. 4.3.2); pose and
    visibility heads keep their initialisation. Returns the copied layer names."""
    import copy

    file = os.path.join(path, "best.weights.h5") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ConfigError(f"--init={path!r}: expected a landmark pre-training run directory or its best.weights.h5")
    if cfg is None:
        size = int(network.input.shape[1])
        cfg = TrainConfig()
        cfg.data.image_size = size
    src_cfg = copy.deepcopy(cfg)
    src_cfg.model.tasks = "landmarks"
    source = build_network(src_cfg)
    try:
        source.load_weights(file)
    except ValueError as e:
        raise ConfigError(f"--init={path!r}: not the weights of an MNN landmark network at "
                          f"{cfg.data.image_size} px ({e})".splitlines()[0]) from None
    copied = []
    for layer in network.layers:
        if not layer.name.startswith(PRETRAINED_PREFIXES) or not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        weights = src.get_weights()
        if [w.shape for w in weights] != [tuple(w.shape) for w in layer.weights]:
            raise ConfigError(f"--init={path!r}: layer {layer.name} has other shapes than this network's")
        layer.set_weights(weights)
        copied.append(layer.name)
    if not copied:
        raise ConfigError(f"--init={path!r}: no encoder/decoder layer in common with this network")
    return copied
