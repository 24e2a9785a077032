"""The mean 3-D face X of Eq. 2, estimated from training data (no external model file).

Model (DATA_FACTS 1.4, orthographic 3DDFA): the 2-D landmarks of sample i are ``x_il = s_i F R_i X_l + t_i``
with R_i = ``angles.rotation_from_ypr`` of the labelled pose, ``F = diag(1, -1)`` (image y down) and unknown
per-sample scale s_i and translation t_i. With the poses known, X (L, 3) is found by alternating least
squares: (s_i, t_i) in closed form given X, then each X_l by a 3x3 normal equation given all (s_i, t_i).
The gauge (X's centroid and scale) is fixed: centroid 0, RMS radius 1. Depth is observable only
through pose variety (yaw / pitch), which 300W-LP and the synthetic heads have.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from hmtl_tf.angles import rotation_from_ypr
from hmtl_tf.data import records
from hmtl_tf.data.synthetic import head_landmarks_3d, sample_head

FLIP_Y = np.diag([1.0, -1.0])
RIDGE = 1e-9  # relative ridge of the 3x3 normal equations (unobservable depth -> 0)


@dataclass(frozen=True)
class MeanFace:
    points: np.ndarray       # (L, 3) float64, centroid 0, RMS radius 1, head frame (x right, y up, z to camera)
    rms_residual: float      # RMS 2-D fit error, in units of each sample's RMS landmark radius
    n_samples: int
    iterations: int


def normalise(points: np.ndarray) -> np.ndarray:
    """Centroid 0, RMS distance to it 1."""
    x = np.asarray(points, np.float64)
    x = x - x.mean(axis=0)
    return x / np.sqrt(np.mean(np.sum(x * x, axis=1)))


def projection_rows(ypr: np.ndarray) -> np.ndarray:
    """(N, 3) degrees -> (N, 2, 3) ``F R[:2]``: unit-scale projection of head-frame points to image axes."""
    return np.stack([FLIP_Y @ rotation_from_ypr(a)[:2] for a in np.asarray(ypr, np.float64)])


def fit_scale_translation(landmarks: np.ndarray, points: np.ndarray, rows: np.ndarray,
                          weights: Optional[np.ndarray] = None):
    """Least-squares (s_i, t_i) of ``x_il ~ s_i A_i X_l + t_i`` -> ((N,), (N, 2)); ``rows`` = A (N, 2, 3)."""
    x = np.asarray(landmarks, np.float64)
    w = np.ones(x.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    p = np.einsum("nij,lj->nli", rows, points)
    ws = np.maximum(w.sum(1, keepdims=True), 1e-12)
    pm = (w[..., None] * p).sum(1) / ws
    xm = (w[..., None] * x).sum(1) / ws
    pc, xc = p - pm[:, None], x - xm[:, None]
    s = (w * np.sum(pc * xc, -1)).sum(1) / np.maximum((w * np.sum(pc * pc, -1)).sum(1), 1e-12)
    return s, xm - s[:, None] * pm


def solve_points(landmarks: np.ndarray, s: np.ndarray, t: np.ndarray, rows: np.ndarray,
                 weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Least-squares X (L, 3) given every sample's (s_i, t_i): ``sum_i w_il s_i^2 A_i^T A_i X_l =
    sum_i w_il s_i A_i^T (x_il - t_i)``."""
    x = np.asarray(landmarks, np.float64)
    w = np.ones(x.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    ata = np.einsum("nki,nkj->nij", rows, rows)                                  # (N, 3, 3)
    m = np.einsum("nl,n,nij->lij", w, s * s, ata)                                # (L, 3, 3)
    b = np.einsum("nl,n,nki,nlk->li", w, s, rows, x - t[:, None, :])             # (L, 3)
    m = m + RIDGE * np.trace(m, axis1=1, axis2=2)[:, None, None] * np.eye(3)
    return np.linalg.solve(m, b[..., None])[..., 0]


def estimate_mean_face(landmarks, ypr, weights=None, iterations: int = 200, tol: float = 1e-10) -> MeanFace:
    """X from N samples' (N, L, 2) landmarks (any image frame: y down) and (N, 3) poses (degrees)."""
    x = np.asarray(landmarks, np.float64)
    a = np.asarray(ypr, np.float64)
    if x.ndim != 3 or x.shape[-1] != 2 or a.shape != (x.shape[0], 3):
        raise ValueError(f"mean face: expected landmarks (N, L, 2) and poses (N, 3), got {x.shape} and {a.shape}")
    if x.shape[0] < 3:
        raise ValueError(f"mean face: need at least 3 samples with landmarks, got {x.shape[0]}")
    w = np.ones(x.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    rows = projection_rows(a)
    xc = x - (w[..., None] * x).sum(1, keepdims=True) / np.maximum(w.sum(1), 1e-12)[:, None, None]
    radius = np.sqrt((w * np.sum(xc * xc, -1)).sum(1) / np.maximum(w.sum(1), 1e-12))   # per-sample size
    s, t = radius, x.mean(1)        # initial guess: scale = landmark radius, translation = centroid
    points, prev, it = None, np.inf, 0
    for it in range(1, iterations + 1):
        points = normalise(solve_points(x, s, t, rows, w))
        s, t = fit_scale_translation(x, points, rows, w)
        res = np.einsum("n,nij,lj->nli", s, rows, points) + t[:, None] - x
        cost = float((w * np.sum(res * res, -1) / np.maximum(radius, 1e-12)[:, None] ** 2).sum() / w.sum())
        if prev - cost <= tol * max(cost, 1e-30):
            break
        prev = cost
    return MeanFace(points, float(np.sqrt(cost)), int(x.shape[0]), it)


def synthetic_mean_face(n_heads: int = 64, seed: int = 0) -> np.ndarray:
    """Reference: the normalised mean of the normalised 3-D landmarks of ``n_heads`` synthetic heads."""
    rng = np.random.default_rng(seed)
    pts = [normalise(head_landmarks_3d(sample_head(rng))) for _ in range(n_heads)]
    return normalise(np.mean(pts, axis=0))


def read_shard_landmarks(shard_dir: str, split: str, max_samples: int = 2000, max_abs_yaw: float = 90.0):
    """(landmarks (N, 68, 2) source pixels, ypr (N, 3)) of the first ``max_samples`` records with landmarks
    (and |yaw| <= max_abs_yaw) of a shard directory, in file order."""
    import tensorflow as tf

    spec = records.feature_spec()
    keep = {k: spec[k] for k in ("pose/ypr", "landmarks/xy", "landmarks/present")}
    ds = tf.data.TFRecordDataset(records.shard_files(shard_dir, split))
    ds = ds.map(lambda s_: tf.io.parse_single_example(s_, keep))
    ds = ds.filter(lambda e: (e["landmarks/present"] > 0) & (tf.abs(e["pose/ypr"][0]) <= max_abs_yaw))
    lms, yprs = [], []
    for e in ds.take(max_samples).batch(256).as_numpy_iterator():
        lms.append(e["landmarks/xy"].reshape(-1, records.NUM_LANDMARKS, 2))
        yprs.append(e["pose/ypr"])
    if not lms:
        raise ValueError(f"{shard_dir} ({split}): no record with landmarks; --family=mnn needs landmark-annotated "
                         f"training shards (e.g. 300w_lp)")
    return np.concatenate(lms).astype(np.float64), np.concatenate(yprs).astype(np.float64)


def from_shards(shard_dir: str, split: str, max_samples: int = 2000, max_abs_yaw: float = 90.0) -> MeanFace:
    """The mean face of a training shard directory (deterministic: the first records in file order)."""
    lm, ypr = read_shard_landmarks(shard_dir, split, max_samples, max_abs_yaw)
    return estimate_mean_face(lm, ypr)
