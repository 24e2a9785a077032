"""Synthetic AFLW2000-3D (DATA_FACTS 1.3): ``imageNNNNN.{jpg,mat}``, 450x450, with the 21 AFLW points and ``pt3d_68``.

Non-contiguous increasing ids like the real set; ~2 % of the samples have an |angle| > 99 (the +-99 filter,
DATA_FACTS 1.3); invisible points carry the sentinel of the real files.

Poses: drawn from the distribution of the synthetic 300W-LP-layout samples (``samples.training_pose``), so the test
set lies inside what the training layout covers, as the real 300W-LP's views profiled to +-90 degrees of yaw cover
the real AFLW2000. Until 2026-12-03 this layout drew 45 % of its yaws uniformly in +-90 and pitch / roll up to 60 /
45 against the training layout's 40 / 30: 15 % of its faces lay outside the training range and the models' test MAE
measured that extrapolation, not learning (issue 13; docs/PROTOCOL.md, "Why the AFLW2000-layout test numbers lag").
"""
from __future__ import annotations

import os

import numpy as np

from hmtl_tf.data.synthetic.head import sample_head
from hmtl_tf.data.synthetic.landmarks import AFLW21_FROM_73, AFLW_SENTINEL
from hmtl_tf.data.synthetic.layouts.files import _jpg, _mat, _write
from hmtl_tf.data.synthetic.layouts.samples import (_box68, _fit_params, _gt, _Progress, _render_450, _rng,
                                                    training_pose)


def _aflw_sample(seed: int, i: int):
    rng = _rng(seed, "aflw2000", i)
    number = 2 + 2 * i + int(rng.integers(2))            # non-contiguous, increasing ids like the real set
    params = sample_head(rng)
    ypr = list(training_pose(_rng(seed, "aflw2000", i, 3)))  # the poses the training layout covers (module doc)
    if i % 50 == 17:                                     # ~2 %: an |angle| > 99 (the +-99 filter, DATA_FACTS 1.3)
        j = int(rng.integers(3))
        ypr[j] = float(rng.choice([-1, 1]) * rng.uniform(100, 130))
    return f"image{number:05d}", params, tuple(ypr), rng.uniform(118, 150), rng.normal(0, 10, 2)


def _write_aflw2000(root: str, seed: int, n: int, progress: bool) -> dict:
    gt, size = {}, (450, 450)
    prog = _Progress("AFLW2000", n, progress)
    for i in range(n):
        name, params, ypr, scale, shift = _aflw_sample(seed, i)
        paths = [os.path.join(root, name + ext) for ext in (".jpg", ".mat")]
        draw = not all(os.path.exists(q) for q in paths)
        out = _render_450(seed, "aflw2000", i, params, ypr, scale, shift, draw)
        pt21 = out.landmarks[AFLW21_FROM_73].copy()
        pt21[out.visibility[AFLW21_FROM_73] == 0] = AFLW_SENTINEL
        keys = _fit_params(_rng(seed, "aflw2000", i, 2), params, out.pose_para, _box68(out.landmarks[:68]))
        pt3d = np.concatenate([out.landmarks[:68], out.z[:68, None]], 1).T.astype(np.float32)
        mat = {"pt2d": pt21.T.copy(), **{q: keys[q] for q in ("Illum_Para", "Color_Para", "Tex_Para", "Shape_Para",
                                                               "Exp_Para", "Pose_Para", "roi")}, "pt3d_68": pt3d}
        written = False
        if draw:
            written |= _write(paths[0], _jpg(out.image))
            written |= _write(paths[1], _mat(mat))
        gt[name] = dict(_gt(out, ypr), pt2d=pt21)
        prog.step(written)
    return gt
