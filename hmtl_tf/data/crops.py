"""Crop policies (SPEC section 8, DATA_FACTS 2.2 and 4): named, recorded with every shard.

A policy turns a *base box* (landmark extent or a detector box) into the crop box with margins that
grow with a factor ``k``; HopeNet applies the updates sequentially, so the right/bottom margins use the
already-moved left/top edge::

    x_min' = x0 - c0*k*|x1 - x0|          y_min' = y0 - c1*k*|y1 - y0|
    x_max' = x1 + c2*k*|x1 - x_min'|      y_max' = y1 + c3*k*|y1 - y_min'|

and the box passed to PIL is ``int()`` of these (truncation toward zero; outside the image is black).

Policies:
  ``hopenet``  base = min/max over **all** ``pt2d`` columns, the (-1, 452) AFLW2000 sentinels included
               (the reference code's boxes; all HopeNet-family numbers were measured this way).
               300W-LP train: k ~ U[0.2, 0.4), coef (0.6, 2, 0.6, 0.6); AFLW2000 test: k = 0.2,
               coef (2, 2, 2, 0.6); BIWI test: base = face box, k = 0.35, coef (0.6, 1, 0.6, 0.6).
               The crop then follows HopeNet's ``Scale(S) + CenterCrop(S)``: the central square.
  ``visible``  as ``hopenet`` with the sentinel / negative points dropped from the base box.
  ``boxes``    a user-given face box (e.g. KD-OE's published YOLOv5 boxes), no margin, resized to the
               model size without keeping the aspect ratio (KD-OE datasets.py: ``max(0, int(x1))``...).
  ``none``     the whole image (ETH-XGaze patches are already face crops).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from hmtl_tf.data import datasets

# (c0, c1, c2, c3) margin coefficients and (k_min, k_max) for each (policy family, role).
HOPENET_TRAIN = ((0.6, 2.0, 0.6, 0.6), (0.2, 0.4))   # Pose_300W_LP, datasets.py:100-113
HOPENET_TEST = ((2.0, 2.0, 2.0, 0.6), (0.2, 0.2))    # AFLW2000, datasets.py:246-258
HOPENET_BIWI = ((0.6, 1.0, 0.6, 0.6), (0.35, 0.35))  # BIWI, datasets.py:505-552
NO_MARGIN = ((0.0, 0.0, 0.0, 0.0), (0.0, 0.0))

SENTINEL_XY = (-1.0, 452.0)
OUTER_CONTEXT = 0.125  # extra stored context around the largest crop (fraction of its width/height)


@dataclass(frozen=True)
class CropSpec:
    """Everything the input pipeline needs to crop one sample (stored per record in the shards)."""

    policy: str
    base: Tuple[float, float, float, float]   # base box, source-image pixels
    coef: Tuple[float, float, float, float]
    k_range: Tuple[float, float]              # train: random k in [k_min, k_max); test: k_min == k_max
    square: bool                              # True: HopeNet central square; False: stretch to the model size
    clamp_min: bool = False                   # KD-OE: x_min, y_min clamped at 0 before cropping

    def box(self, k: Optional[float] = None) -> Tuple[int, int, int, int]:
        """The integer crop box at margin factor ``k`` (default k_min), exactly as the reference code."""
        return policy_box_np(self.base, self.coef, self.k_range[0] if k is None else k, self.clamp_min)

    def outer_box(self, context: float = OUTER_CONTEXT) -> Tuple[int, int, int, int]:
        """A box containing every crop the policy can produce (k_min..k_max) plus ``context`` x (w, h) on each
        side, so shifted crops (KD-OE's offset ensemble, Eq. 5: up to K/S of the box size) stay inside the
        stored region. Used to store only that region in the shards."""
        b_lo = policy_box_np(self.base, self.coef, self.k_range[0], self.clamp_min)
        b_hi = policy_box_np(self.base, self.coef, self.k_range[1], self.clamp_min)
        x0, y0 = min(b_lo[0], b_hi[0]), min(b_lo[1], b_hi[1])
        x1, y1 = max(b_lo[2], b_hi[2]), max(b_lo[3], b_hi[3])
        mx, my = int(np.ceil(context * (x1 - x0))) + 1, int(np.ceil(context * (y1 - y0))) + 1
        return (x0 - mx, y0 - my, x1 + mx, y1 + my)


def points_box(pt2d: np.ndarray, drop_sentinels: bool = False) -> Tuple[float, float, float, float]:
    """min/max box of (N, 2) points; ``drop_sentinels`` removes AFLW2000's (-1, 452) and non-positive points."""
    pts = np.asarray(pt2d, dtype=np.float64).reshape(-1, 2)
    if drop_sentinels:
        keep = (pts[:, 0] > 0) & (pts[:, 1] > 0)
        keep &= ~((pts[:, 0] == SENTINEL_XY[0]) & (pts[:, 1] == SENTINEL_XY[1]))
        pts = pts[keep]
    if pts.shape[0] == 0:
        raise ValueError("no usable landmark points for a crop box")
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


def policy_box_np(base, coef, k: float, clamp_min: bool = False) -> Tuple[int, int, int, int]:
    """The sequential HopeNet margin update, then ``int()`` truncation (module docstring). NumPy reference."""
    x0, y0, x1, y1 = (float(v) for v in base)
    c0, c1, c2, c3 = (float(v) for v in coef)
    x_min = x0 - c0 * k * abs(x1 - x0)
    y_min = y0 - c1 * k * abs(y1 - y0)
    x_max = x1 + c2 * k * abs(x1 - x_min)
    y_max = y1 + c3 * k * abs(y1 - y_min)
    box = [int(x_min), int(y_min), int(x_max), int(y_max)]
    if clamp_min:
        box[0], box[1] = max(0, box[0]), max(0, box[1])
    return tuple(box)


def policy_box_tf(base, coef, k, clamp_min=False):
    """TF twin of :func:`policy_box_np` (graph-safe). ``base``/``coef`` (4,), ``k`` scalar -> int32 (4,)."""
    import tensorflow as tf

    base = tf.cast(base, tf.float64)
    coef = tf.cast(coef, tf.float64)
    k = tf.cast(k, tf.float64)
    x0, y0, x1, y1 = base[0], base[1], base[2], base[3]
    x_min = x0 - coef[0] * k * tf.abs(x1 - x0)
    y_min = y0 - coef[1] * k * tf.abs(y1 - y0)
    x_max = x1 + coef[2] * k * tf.abs(x1 - x_min)
    y_max = y1 + coef[3] * k * tf.abs(y1 - y_min)
    box = tf.cast(tf.stack([x_min, y_min, x_max, y_max]), tf.int32)  # truncation toward zero, like int()
    clamp = tf.cast(clamp_min, tf.bool)
    lo = tf.where(clamp, tf.maximum(box[:2], 0), box[:2])
    return tf.concat([lo, box[2:]], axis=0)


def central_square(box):
    """HopeNet's ``Scale(S) + CenterCrop(S)`` as a box: the centred square of side min(w, h). Works on NumPy
    or TF numbers (float output)."""
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    w, h = x1 - x0, y1 - y0
    s = (w + h - abs(w - h)) / 2.0  # min(w, h) without a Python branch: graph-safe on TF tensors too
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return (cx - s / 2.0, cy - s / 2.0, cx + s / 2.0, cy + s / 2.0)


def make_crop_spec(policy: str, dataset: str, split: str, *, pt2d=None, box=None,
                   image_size: Optional[Tuple[int, int]] = None) -> CropSpec:
    """The crop of one sample under a named policy.

    ``dataset``/``split`` choose the margin rule (300W-LP train, AFLW2000 test, BIWI test); ``pt2d`` are the
    source's points for ``hopenet``/``visible``; ``box`` the face box for ``boxes`` and for BIWI;
    ``image_size`` (w, h) is needed by ``none``.
    """
    if policy == "none":
        if image_size is None:
            raise ValueError("crop policy 'none' needs the image size")
        w, h = image_size
        return CropSpec("none", (0.0, 0.0, float(w), float(h)), *NO_MARGIN, square=False)
    if policy == "boxes":
        if box is None:
            raise ValueError("crop policy 'boxes' needs a face box from a box file (--boxes)")
        return CropSpec("boxes", tuple(float(v) for v in box), *NO_MARGIN, square=False, clamp_min=True)
    if policy not in ("hopenet", "visible"):
        raise ValueError(f"unknown crop policy {policy!r}: expected hopenet, visible, boxes or none")
    source = datasets.find(dataset)
    if source is not None and source.crop_from_box:  # BIWI: HopeNet's margins around the face box
        if box is None:
            raise ValueError(f"{source.label} crops need a face box (KD-OE JSON, Dockerface text or FSA-Net npz)")
        return CropSpec(policy, tuple(float(v) for v in box), *HOPENET_BIWI, square=True)
    if pt2d is None:
        raise ValueError(f"crop policy {policy!r} needs landmark points (pt2d)")
    base = points_box(pt2d, drop_sentinels=(policy == "visible"))
    coef, k_range = HOPENET_TRAIN if split == "train" else HOPENET_TEST
    return CropSpec(policy, base, coef, k_range, square=True)
