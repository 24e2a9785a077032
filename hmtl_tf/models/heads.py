"""Heads on backbone taps: supervised heads (SHs, SPEC 3) and the SSL branch (SSHs, Sec. 4.1, Fig. 5).

Output layers are float32 under mixed precision (``layers.output_dtype``). Layer names: ``head_{angle}`` for the SHs,
``ssl_f{flag}_{task}_block_*`` / ``ssl_f{flag}_{task}_tile{i}`` for an SSL branch.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import keras

from hmtl_tf.config import ssl_task
from hmtl_tf.models.batchnorm import batch_norm
from hmtl_tf.models.layers import output_dtype


def pooled_features(feature_map, dropout: float, prefix: str = "sh"):
    """Global average pooling then dropout (HopeNet's AvgPool before its fc heads; dropout 0.4/0.5, Sec. 4)."""
    x = keras.layers.GlobalAveragePooling2D(name=f"{prefix}_pool")(feature_map)
    return keras.layers.Dropout(dropout, name=f"{prefix}_dropout")(x)


def dense_logits(x, units: int, name: str):
    """A linear output layer (float32 under mixed precision) (a regression unit, HopeNet/RvC bin logits or an SSL head)."""
    return keras.layers.Dense(units, dtype=output_dtype(), name=name)(x)


def supervised_heads(features, angles: Sequence[str], head: str, n_bins: int = 0) -> Dict[str, object]:
    """One head per angle on pooled features: ``regression`` -> (B, 1) degrees, ``hopenet`` -> (B, n_bins) logits."""
    if head == "regression":
        return {a: dense_logits(features, 1, f"head_{a}") for a in angles}
    if head == "hopenet":
        if n_bins <= 0:
            raise ValueError(f"hopenet head: n_bins={n_bins}, expected a positive bin count")
        return {a: dense_logits(features, n_bins, f"head_{a}") for a in angles}
    raise ValueError(f"--head={head!r}: expected hopenet or regression")


def ssl_head_specs(task: str) -> List[Tuple[str, int, int]]:
    """``[(branch, n_tiles, n_classes)]`` of an SSL task as its registry entry declares (Sec. 3.1: puzzle N²
    classes, rotation 4); ``[]`` for ``none``."""
    return [] if task == "none" else ssl_task(task).head_specs()


def _conv_bn(x, filters: int, size: int, name: str, relu: bool):
    x = keras.layers.Conv2D(filters, size, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def residual_block(x, name: str):
    """Three conv + BN layers inside an identity skip (1x1-3x3-1x1 bottleneck, width C/4), then ReLU (Fig. 5)."""
    channels = int(x.shape[-1])
    width = max(channels // 4, 1)
    y = _conv_bn(x, width, 1, f"{name}_1", relu=True)
    y = _conv_bn(y, width, 3, f"{name}_2", relu=True)
    y = _conv_bn(y, channels, 1, f"{name}_3", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def ssl_branch(feature_map, flag: int, branch: str, n_tiles: int, n_classes: int, dropout: float) -> list:
    """SSL branch at ``flag``: residual block, GAP, dropout, one Dense logits head per tile (Sec. 4.1, Fig. 5)."""
    prefix = f"ssl_f{flag}_{branch}"
    x = residual_block(feature_map, f"{prefix}_block")
    x = pooled_features(x, dropout, prefix=prefix)
    return [dense_logits(x, n_classes, f"{prefix}_tile{i}") for i in range(n_tiles)]
