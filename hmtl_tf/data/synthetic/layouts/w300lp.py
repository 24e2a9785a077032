"""Synthetic 300W-LP (DATA_FACTS 1.1, 1.2): ``{AFW,HELEN,IBUG,LFPW}[_Flip]/<name>_<view>.{jpg,mat}``, 450x450.

Source faces in the real subsets' shares, each with 1-4 views profiled in yaw (the names and view numbering of the
real set), every sample with its mirrored ``_Flip`` copy (DATA_FACTS 1.5: image flipped, (pitch, -yaw, -roll),
x -> W + 1 - x, iBUG indices re-paired). Rendered over several processes for large sets, byte-identically.
"""
from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.head import sample_head
from hmtl_tf.data.synthetic.landmarks import FLIP_68
from hmtl_tf.data.synthetic.layouts.files import _jpg, _mat, _write
from hmtl_tf.data.synthetic.layouts.samples import (_box68, _fit_params, _gt, _Progress, _render_450, _rng,
                                                    profiled_views)


W300LP_SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
_W300LP_P = (0.085, 0.615, 0.03, 0.27)             # share of each subset in the real 61,225 (DATA_FACTS 1.1)


def _w300lp_face(seed: int, f: int):
    """One source face: subset, name stem, person, background seed and its profiled views (ypr, scale, shift)."""
    rng = _rng(seed, "300w_lp", f, 0)
    subset = W300LP_SUBSETS[f] if f < 4 else W300LP_SUBSETS[int(rng.choice(4, p=_W300LP_P))]
    stem = {"AFW": f"AFW_{134212 + 7919 * f}_1", "HELEN": f"HELEN_{1269874180 + 7919 * f}_1",
            "IBUG": f"IBUG_image_{f:03d}_1", "LFPW": f"LFPW_image_train_{f:04d}"}[subset]
    params = sample_head(rng)
    return subset, stem, params, profiled_views(rng)


def _w300lp_plan(seed: int, n: int):
    """The first ``n`` (face, view) samples; a prefix of an endless deterministic sequence."""
    plan, f = [], 0
    while len(plan) < n:
        subset, stem, params, views = _w300lp_face(seed, f)
        for k, view in enumerate(views[: n - len(plan)]):
            plan.append((f, k, subset, f"{stem}_{k}", params, view))
        f += 1
    return plan


def _w300lp_item(root: str, seed: int, item) -> Tuple[dict, bool]:
    """Renders and writes one 300W-LP sample and its ``_Flip`` copy (files that exist are kept); returns its
    ground truth ``{source_id: ...}`` and whether anything was written. A pure function of (seed, item)."""
    size = (450, 450)
    f, k, subset, name, params, (ypr, scale, shift) = item
    paths = [os.path.join(root, sub, name + ext) for sub in (subset, subset + "_Flip") for ext in (".jpg", ".mat")]
    draw = not all(os.path.exists(q) for q in paths)
    out = _render_450(seed, "300w_lp", f, params, ypr, scale, shift, draw)
    mrng = _rng(seed, "300w_lp", f, 2 + k)
    keys = _fit_params(mrng, params, out.pose_para, _box68(out.landmarks[:68]))
    mat = {"pt2d": out.landmarks[:68].T.astype(np.float64), "roi": keys["roi"], **{
        q: keys[q] for q in ("Illum_Para", "Color_Para", "Tex_Para", "Shape_Para", "Exp_Para", "Pose_Para")}}
    # the mirrored copy: image flipped, (pitch, -yaw, -roll), x -> W + 1 - x, iBUG indices re-paired
    fl = out.landmarks[:68][FLIP_68].copy()
    fl[:, 0] = size[0] + 1.0 - fl[:, 0]
    fpose = out.pose_para * np.array([1, -1, -1, -1, 1, 1, 1.0]) + np.array([0, 0, 0, size[0] + 1.0, 0, 0, 0])
    fmat = dict(mat, pt2d=fl.T.copy(), Pose_Para=fpose.astype(np.float32)[None])
    written = False
    if draw:
        written |= _write(paths[0], _jpg(out.image))
        written |= _write(paths[1], _mat(mat))
        written |= _write(paths[2], _jpg(np.ascontiguousarray(out.image[:, ::-1])))
        written |= _write(paths[3], _mat(fmat))
    gt = {f"{subset}/{name}": _gt(out, ypr),
          f"{subset}_Flip/{name}": {"ypr": angles.flip_ypr(ypr), "landmarks68": fl,
                                    "visibility68": out.visibility[:68][FLIP_68].copy(), "pose_para": fpose}}
    return gt, written


def _w300lp_chunk(args) -> List[Tuple[dict, bool]]:
    root, seed, items = args
    return [_w300lp_item(root, seed, it) for it in items]


def render_workers(n: int) -> int:
    """Processes used to render ``n`` samples: 1 for small sets (a process start costs ~2 s), else the cores
    (``HMTL_RENDER_WORKERS`` overrides). The output is identical for any count: every sample is a pure function
    of (seed, index)."""
    env = os.environ.get("HMTL_RENDER_WORKERS")
    if env:
        return max(1, int(env))
    return 1 if n < 600 else max(1, min(os.cpu_count() or 1, 8))


def _write_300wlp(root: str, seed: int, n: int, progress: bool) -> dict:
    gt = {}
    prog = _Progress("300W_LP", n, progress)
    plan = _w300lp_plan(seed, n)
    workers = render_workers(n)
    if workers == 1:
        results = (_w300lp_item(root, seed, it) for it in plan)
        for g, written in results:
            gt.update(g)
            prog.step(written)
        return gt
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = 50
    jobs = [(root, seed, plan[i:i + chunk]) for i in range(0, len(plan), chunk)]
    # fork: works from any caller (spawn re-imports an unguarded __main__); the children run numpy / OpenCV only
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for part in pool.map(_w300lp_chunk, jobs):
            for g, written in part:
                gt.update(g)
                prog.step(written)
    return gt
