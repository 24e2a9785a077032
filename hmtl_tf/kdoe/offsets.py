"""The offset set of KD-OE's Eq. 5 (kd-offset-ensemble-head-pose.md §3.3, DATA_FACTS 4).

``R_ij(b) = (x1 + i*d*s_x, y1 + j*d*s_y, x2 + i*d*s_x, y2 + j*d*s_y)`` with ``s_x = (x2 - x1) / w``,
``s_y = (y2 - y1) / h`` (w, h = network input), over all integers i, j with ``|i*d| <= K`` and ``|j*d| <= K``.
So a shift of ``i*d`` *input* pixels, expressed in source pixels. Sizes: (K, d) = (15, 5) -> 49,
(8, 1) -> 289, (15, 15) -> 9, K < d -> 1 (the plain prediction).
"""
from __future__ import annotations

from typing import Tuple, Union

import numpy as np

Size = Union[int, Tuple[int, int]]


def _hw(input_size: Size) -> Tuple[float, float]:
    """``input_size`` as (h, w): an int (square) or an (h, w) pair."""
    if np.ndim(input_size) == 0:
        return float(input_size), float(input_size)
    h, w = input_size
    return float(h), float(w)


def offset_set(K: int, d: int) -> np.ndarray:
    """All integer (i, j) with |i*d| <= K and |j*d| <= K, shape (n, 2) int32; i (x) varies fastest; (0, 0)
    is the centre row ``n // 2``."""
    if int(K) != K or K < 0:
        raise ValueError(f"K={K}: expected an integer >= 0 (offset range in input pixels, Eq. 5)")
    if int(d) != d or d < 1:
        raise ValueError(f"d={d}: expected an integer >= 1 (offset step in input pixels, Eq. 5)")
    m = int(K) // int(d)
    r = np.arange(-m, m + 1, dtype=np.int32)
    jj, ii = np.meshgrid(r, r, indexing="ij")
    return np.stack([ii.ravel(), jj.ravel()], axis=1)


def parse_ensemble(text: str) -> Tuple[int, int]:
    """``"K,d"`` (e.g. the ``--ensemble=15,5`` flag) -> (K, d), validated."""
    try:
        K, d = (int(v) for v in str(text).split(","))
    except ValueError:
        from hmtl_tf.config import ConfigError

        raise ConfigError(f"--ensemble={text!r}: expected 'K,d' with integers K >= 0, d >= 1 (e.g. 15,5)") from None
    offset_set(K, d)
    return K, d


def shifted_boxes_np(box, offsets, d: int, input_size: Size) -> np.ndarray:
    """Eq. 5 in NumPy: ``box`` (..., 4) as (x1, y1, x2, y2) -> (..., n, 4) float64."""
    b = np.asarray(box, dtype=np.float64)[..., None, :]
    off = np.asarray(offsets, dtype=np.float64) * float(d)
    h, w = _hw(input_size)
    s_x = (b[..., 2] - b[..., 0]) / w
    s_y = (b[..., 3] - b[..., 1]) / h
    dx, dy = off[:, 0] * s_x, off[:, 1] * s_y
    return b + np.stack([dx, dy, dx, dy], axis=-1)


def shifted_boxes_tf(boxes, offsets, d: int, input_size: Size):
    """Eq. 5 in TF (graph-safe): ``boxes`` (B, 4) -> (B, n, 4) float32."""
    import tensorflow as tf

    b = tf.cast(boxes, tf.float32)[:, None, :]
    off = tf.constant(np.asarray(offsets, dtype=np.float32) * float(d))
    h, w = _hw(input_size)
    s_x = (b[..., 2] - b[..., 0]) / w
    s_y = (b[..., 3] - b[..., 1]) / h
    dx, dy = off[None, :, 0] * s_x, off[None, :, 1] * s_y
    return b + tf.stack([dx, dy, dx, dy], axis=-1)
