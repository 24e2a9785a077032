"""Angle bins for classification heads (HopeNet, DATA_FACTS 2.3; KD-OE RvC, SPEC 8).

HopeNet: edges ``range(-99, 102, 3)``, class = ``np.digitize(angle, edges) - 1``; class i covers
[-99 + i*b, -99 + (i+1)*b). Decoding: the reference uses the *left edge* ``sum(p_i * i) * b - 99``; bin
centres add b/2. KD-OE: bin size 4 does not divide 198, so its range is [-100, 100] (50 bins, centres -98..98).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bins:
    size: float
    lo: float = -99.0
    hi: float = 99.0

    @property
    def count(self) -> int:
        return int(round((self.hi - self.lo) / self.size))

    def edges(self) -> np.ndarray:
        """The count+1 edges lo, lo+size, ..., hi."""
        return self.lo + self.size * np.arange(self.count + 1, dtype=np.float64)

    def left_edges(self) -> np.ndarray:
        return self.edges()[:-1]

    def centres(self) -> np.ndarray:
        return self.left_edges() + self.size / 2.0

    def decode_values(self, decode: str = "left_edge") -> np.ndarray:
        """Value of each class for the softmax expectation: ``left_edge`` (HopeNet reference) or ``centre``."""
        if decode == "left_edge":
            return self.left_edges()
        if decode == "centre":
            return self.centres()
        raise ValueError(f"decode={decode!r}: expected left_edge or centre")

    def index_np(self, angle) -> np.ndarray:
        """``np.digitize(angle, edges) - 1`` (HopeNet datasets.py:134-136), clipped to [0, count-1]."""
        idx = np.digitize(np.asarray(angle, dtype=np.float64), self.edges()) - 1
        return np.clip(idx, 0, self.count - 1)

    def index_tf(self, angle):
        """Graph-safe twin of :meth:`index_np` (int32). Out-of-range angles clip to the end bins."""
        import tensorflow as tf

        a = tf.cast(angle, tf.float64)
        idx = tf.cast(tf.floor((a - self.lo) / self.size), tf.int32)
        return tf.clip_by_value(idx, 0, self.count - 1)


def hopenet_bins(bin_size: float) -> Bins:
    """HopeNet bins of ``bin_size`` degrees over [-99, 99) (3 -> 66, 1 -> 198)."""
    if bin_size <= 0 or abs(198.0 / bin_size - round(198.0 / bin_size)) > 1e-9:
        raise ValueError(f"bin_size={bin_size}: expected a positive divisor of 198")
    return Bins(float(bin_size))


def kdoe_bins(bin_size: int) -> Bins:
    """KD-OE RvC bins: sizes 1, 2, 3 over [-99, 99]; size 4 over [-100, 100] (50 bins, SPEC section 8)."""
    if bin_size == 4:
        return Bins(4.0, -100.0, 100.0)
    return hopenet_bins(bin_size)
