"""Steady video (issue 16): per-face tracks across frames and One Euro smoothing of the angles per track.

**Tracks** (:class:`IoUTracker`): each frame's boxes are assigned to the live tracks by maximum total IoU (the
Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``); a pair with IoU below ``min_iou`` (0.3) is no
match; an unmatched box starts a new track (ids 0, 1, ... in order of appearance, never reused); a track matched
in none of the last ``max_missed`` + 1 frames ends. A track's box is its last matched box.

**Smoothing** (:class:`OneEuroFilter`): the 1€ filter of Casiez, Roussel and Vogel, "1€ Filter: A Simple
Speed-based Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012 (its Algorithm 1): an exponential
low-pass filter whose cutoff frequency rises with the signal's speed, so a still head stops jittering while a
turning one does not lag. With ``T_e`` the time since the previous sample::

    alpha(f_c) = 1 / (1 + tau / T_e),   tau = 1 / (2 pi f_c)
    dx_i  = (x_i - x^_{i-1}) / T_e                          (speed, from the previous filtered value)
    dx^_i = alpha(d_cutoff) dx_i + (1 - alpha(d_cutoff)) dx^_{i-1}
    f_c   = min_cutoff + beta |dx^_i|
    x^_i  = alpha(f_c) x_i + (1 - alpha(f_c)) x^_{i-1}      (x^_0 = x_0, dx^_0 = 0)

applied per angle (degrees; no wrap-around at +-180, head-pose angles stay within +-99). ``min_cutoff`` (Hz)
sets the jitter removed at rest, ``beta`` (1/deg) how fast the cutoff opens with speed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np


# -------------------------------------------------------------------------------------------- tracks
def _xyxy(boxes: Sequence) -> np.ndarray:
    return np.array([[float(v) for v in list(b)[:4]] for b in boxes], np.float64).reshape(-1, 4)


def iou_matrix(a: Sequence, b: Sequence) -> np.ndarray:
    """(len(a), len(b)) IoU of (x0, y0, x1, y1[, ...]) boxes."""
    A, B = _xyxy(a), _xyxy(b)
    ix = np.clip(np.minimum(A[:, None, 2], B[None, :, 2]) - np.maximum(A[:, None, 0], B[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(A[:, None, 3], B[None, :, 3]) - np.maximum(A[:, None, 1], B[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda X: (X[:, 2] - X[:, 0]) * (X[:, 3] - X[:, 1])  # noqa: E731
    union = area(A)[:, None] + area(B)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(prev: Sequence, boxes: Sequence, min_iou: float = 0.3) -> List[tuple]:
    """Pairs (i into ``prev``, j into ``boxes``) of the maximum-total-IoU assignment with IoU >= ``min_iou``."""
    if not len(prev) or not len(boxes):
        return []
    from scipy.optimize import linear_sum_assignment

    m = iou_matrix(prev, boxes)
    rows, cols = linear_sum_assignment(m, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if m[i, j] >= min_iou]


@dataclass
class Track:
    id: int
    box: tuple
    last_frame: int


@dataclass
class IoUTracker:
    """Track ids for the boxes of successive frames (module docstring)."""

    min_iou: float = 0.3
    max_missed: int = 5
    tracks: List[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, boxes: Sequence, frame: int) -> List[int]:
        """The track id of each box of frame ``frame`` (frames in increasing order)."""
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.max_missed + 1]
        ids: List[Optional[int]] = [None] * len(boxes)
        for i, j in match_boxes([t.box for t in self.tracks], boxes, self.min_iou):
            t = self.tracks[i]
            t.box, t.last_frame, ids[j] = tuple(boxes[j]), frame, t.id
        for j, b in enumerate(boxes):
            if ids[j] is None:
                self.tracks.append(Track(self.next_id, tuple(b), frame))
                ids[j], self.next_id = self.next_id, self.next_id + 1
        return [int(i) for i in ids]

    def live(self) -> List[int]:
        return [t.id for t in self.tracks]


# --------------------------------------------------------------------------------------- smoothing
@dataclass(frozen=True)
class OneEuroParams:
    """The 1€ filter's three parameters (``--smooth_min_cutoff``, ``--smooth_beta``, ``--smooth_d_cutoff``)."""

    min_cutoff: float = 1.0     # Hz: cutoff at rest
    beta: float = 0.05          # 1/deg: cutoff increase per deg/s of speed
    d_cutoff: float = 1.0       # Hz: cutoff of the speed estimate

    def __post_init__(self):
        if not (self.min_cutoff > 0 and self.d_cutoff > 0 and self.beta >= 0):
            raise ValueError(f"One Euro filter: min_cutoff={self.min_cutoff}, d_cutoff={self.d_cutoff} must be > 0 "
                             f"and beta={self.beta} >= 0")


def smoothing_factor(t_e: float, cutoff) -> np.ndarray:
    """alpha = 1 / (1 + tau / T_e), tau = 1 / (2 pi f_c) (Casiez et al. 2012)."""
    tau = 1.0 / (2 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / t_e)


class OneEuroFilter:
    """One 1€ filter over a vector of values (the angles of one track); module docstring for the equations."""

    def __init__(self, params: OneEuroParams = OneEuroParams()):
        self.p = params
        self.x: Optional[np.ndarray] = None
        self.dx: Optional[np.ndarray] = None
        self.t: Optional[float] = None

    def __call__(self, x, t: float) -> np.ndarray:
        """The filtered value of sample ``x`` at time ``t`` seconds (increasing)."""
        x = np.asarray(x, np.float64)
        if self.x is None:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        t_e = max(float(t) - self.t, 1e-6)
        a_d = smoothing_factor(t_e, self.p.d_cutoff)
        self.dx = a_d * (x - self.x) / t_e + (1 - a_d) * self.dx
        a = smoothing_factor(t_e, self.p.min_cutoff + self.p.beta * np.abs(self.dx))
        self.x, self.t = a * x + (1 - a) * self.x, float(t)
        return self.x.copy()


class TrackSmoother:
    """One :class:`OneEuroFilter` per track id; filters of ended tracks are dropped."""

    def __init__(self, params: OneEuroParams):
        self.params = params
        self.filters: Dict[int, OneEuroFilter] = {}

    def __call__(self, track_ids: Sequence[int], angles: np.ndarray, t: float, live: Sequence[int]) -> np.ndarray:
        out = np.array(angles, np.float64, copy=True)
        for k, tid in enumerate(track_ids):
            out[k] = self.filters.setdefault(tid, OneEuroFilter(self.params))(out[k], t)
        keep = set(live)
        self.filters = {k: v for k, v in self.filters.items() if k in keep}
        return out
