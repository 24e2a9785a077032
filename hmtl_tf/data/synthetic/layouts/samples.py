"""What the synthetic layout writers share per sample: seeding, the 450x450 face, labels, boxes and progress.

Every sample is seeded by (seed, dataset, index...) only (``DATASET_CODES`` numbers the datasets' seed streams), so
files are resumable. Stand-ins for the 3DMM fitting keys of 300W-LP / AFLW2000 (DATA_FACTS 1.2), detector-like face
boxes with the forehead (KD-OE boxes, DATA_FACTS 4), and the ground truth the writers return.
"""
from __future__ import annotations

import sys
from typing import List, Tuple

import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.head import HeadParams
from hmtl_tf.data.synthetic.raster import Render, _centre_for, make_background, render_rotation


DATASET_CODES = {"300w_lp": 1, "aflw2000": 2, "biwi": 3, "eth_xgaze": 4}


def _rng(seed: int, dataset: str, *index: int) -> np.random.Generator:
    """The generator of one sample: seeded by (seed, dataset, index...) only, so files are resumable."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), DATASET_CODES[dataset]] + [int(i) for i in index]))


def _fit_params(rng: np.random.Generator, p: HeadParams, pose_para: np.ndarray, box) -> dict:
    """Stand-ins for the 3DMM fitting keys of 300W-LP / AFLW2000 (shapes and dtypes as real, DATA_FACTS 1.2)."""
    lx, ly, lz = p.light
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 1.3 * max(x1 - x0, y1 - y0)
    return {
        "roi": np.array([[cx - half, cy - half, cx + half, cy + half]]).round().astype(np.int16),
        "Illum_Para": np.array([[p.ambient * 2, p.ambient * 2, p.ambient * 2, p.diffuse, p.diffuse, p.diffuse,
                                 np.arcsin(ly), np.arctan2(lx, lz), 0.0, 20.0]], dtype=np.float64),
        "Color_Para": np.concatenate([rng.uniform(0.8, 1.1, 3), rng.uniform(-0.1, 0.15, 3), [1.0]])[None]
        .astype(np.float32),
        "Tex_Para": rng.normal(0, 500.0, (199, 1)),
        "Shape_Para": rng.normal(0, 4e4, (199, 1)),
        "Exp_Para": rng.normal(0, 0.5, (29, 1)),
        "Pose_Para": pose_para.astype(np.float32)[None],
    }


def _box68(lm: np.ndarray) -> Tuple[float, float, float, float]:
    return float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())


def face_box(render: Render, size) -> List[float]:
    """A detector-like face box [x0, y0, x1, y1] (0-based px): the 68-point extent with the forehead added
    (KD-OE boxes include the forehead, DATA_FACTS 4), clipped to the image."""
    x0, y0, x1, y1 = _box68(render.landmarks[:68] - 1.0)
    y0 -= 0.3 * (y1 - y0)
    w, h = size
    return [float(np.clip(x0, 0, w - 1)), float(np.clip(y0, 0, h - 1)), float(np.clip(x1, 0, w - 1)),
            float(np.clip(y1, 0, h - 1))]


class _Progress:
    """Rendering progress (hmtl_tf.progress: rate, ETA; plain periodic lines when stderr is not a terminal)."""

    def __init__(self, name: str, total: int, enabled: bool):
        from hmtl_tf.progress import Progress

        self.written = 0
        self._p = Progress(f"[make_synthetic] {name}", total, "images", stream=sys.stderr, enabled=enabled,
                           extra=lambda: f"written {self.written}")

    def step(self, written: bool) -> None:
        self.written += int(written)
        self._p.update(1)


def _gt(render: Render, ypr) -> dict:
    return {"ypr": np.asarray(ypr, dtype=np.float64), "landmarks68": render.landmarks[:68].copy(),
            "visibility68": render.visibility[:68].copy(), "pose_para": render.pose_para.copy()}


def _clip_angles(a, lim):
    return float(np.clip(a, -lim, lim))


MAX_VIEWS = 4  # profiled views per 300W-LP-layout source face: 1-4


def profiled_views(rng: np.random.Generator) -> list:
    """The profiled views of one 300W-LP-layout source face, ``[(ypr, scale, shift)]``: a source pose (yaw
    N(0, 20) clipped at 50, pitch N(0, 13) at 40, roll N(0, 9) at 30), then 1-4 views stepping yaw by 12-28 degrees,
    away from frontal for 80 % of the faces, while |yaw| <= 92, pitch / roll jittered by 3 degrees (the face
    profiling of 300W-LP, DATA_FACTS 1.1). The pose distribution both 300W-LP and AFLW2000 layouts draw from."""
    yaw0 = _clip_angles(rng.normal(0, 20), 50)
    pitch0, roll0 = _clip_angles(rng.normal(0, 13), 40), _clip_angles(rng.normal(0, 9), 30)
    step, sgn = rng.uniform(12, 28), (1.0 if yaw0 >= 0 else -1.0) * (1 if rng.uniform() < 0.8 else -1)
    views = []
    for k in range(int(rng.integers(1, MAX_VIEWS + 1))):
        yaw = yaw0 + sgn * k * step
        if abs(yaw) > 92:
            break
        ypr = (yaw, _clip_angles(pitch0 + rng.normal(0, 3), 40), _clip_angles(roll0 + rng.normal(0, 3), 30))
        views.append((ypr, rng.uniform(118, 150), rng.normal(0, 8, 2)))
    return views


def training_pose(rng: np.random.Generator) -> tuple:
    """One (yaw, pitch, roll) drawn from the distribution of the 300W-LP-layout *samples* (a face contributes
    each of its views): a face accepted with probability views / MAX_VIEWS, then one of its views uniformly."""
    while True:
        views = profiled_views(rng)
        if rng.uniform() < len(views) / MAX_VIEWS:  # never empty: the source view (|yaw| <= 50) always fits
            return views[int(rng.integers(len(views)))][0]


def _render_450(seed: int, dataset: str, index: int, params: HeadParams, ypr, scale: float, shift, draw: bool):
    """One 450x450 face of the 300W-LP / AFLW2000 layouts: 3DDFA rotation of ``ypr``, centred at the image
    centre + ``shift``, its own seeded background (only when ``draw``); Pose_Para angles set exactly."""
    size = (450, 450)
    yaw, pitch, roll = np.radians(ypr)
    rot = angles.rotation_3ddfa(pitch, yaw, roll)
    centre = _centre_for(rot, scale, size, (225.5 + shift[0], 225.5 + shift[1]))
    bg = make_background(_rng(seed, dataset, index, 1), size) if draw else None
    out = render_rotation(params, rot, size, scale, centre, background=bg, draw=draw)
    out.pose_para[:3] = (pitch, yaw, roll)
    return out
