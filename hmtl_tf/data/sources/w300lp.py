"""300W-LP reader (DATA_FACTS 1.1, 1.2): ``300W_LP/<SUBSET>/<name>.{jpg,mat}``, split ``train``.

All eight subset folders (the four originals, 61,225 images, and their ``_Flip`` copies: 122,450 in all) are
read in sorted order, so one prepared shard set serves both protocols: training keeps the subsets of
``data.w300lp_subsets`` (default the four originals, HMTL Sec. 3.4; ``hmtl_tf.data.pipeline``), each record's
``subject`` being its subset folder. ``Code/`` and ``landmarks/`` are ignored; a missing subset is reported, not fatal.
Labels: ``Pose_Para`` -> (yaw, pitch, roll) degrees (angles.pose_para_to_ypr); ``pt2d`` (2, 68) -> (68, 2),
also the 68 landmarks, whose visibility is their self-occlusion under the labelled pose
(:func:`visibility.self_occlusion_visibility`: the files hold no 3-D landmark or visibility data).
"""
from __future__ import annotations

import pathlib
from typing import Iterator, Optional, Sequence

import numpy as np

from ... import angles
from ...config import W300LP_ORIGINALS, W300LP_SUBSETS
from ..sample import DataError, RawSample
from . import _common
from .images import load_rgb
from .visibility import self_occlusion_visibility

NAME = "300w_lp"
SUBSETS = W300LP_SUBSETS      # the eight folders, originals each followed by its _Flip copy
ORIGINALS = W300LP_ORIGINALS  # the four without _Flip (61,225 images)


def find_root(root) -> Optional[pathlib.Path]:
    """The ``300W_LP`` folder: ``root`` itself or ``root/300W_LP``; None when absent."""
    return _common.find_dir(root, ("300W_LP", ""), lambda p: any((p / s).is_dir() for s in SUBSETS))


def read_labels(mat_path, n_points: Optional[int] = 68):
    """(ypr degrees (3,), pt2d (N, 2), the loaded mat) of a 300W-LP / AFLW2000 .mat; DataError naming it."""
    mat = _common.load_mat(mat_path)
    pose = _common.mat_array(mat, "Pose_Para", mat_path, lambda s: int(np.prod(s)) >= 3,
                             "(1, 7) [pitch, yaw, roll, tx, ty, tz, s] radians")
    pts = _common.mat_array(mat, "pt2d", mat_path,
                            lambda s: len(s) == 2 and s[0] == 2 and s[1] >= 1 and (n_points is None or s[1] == n_points),
                            f"(2, {n_points or 'N'}) x/y rows")
    return angles.pose_para_to_ypr(pose), pts.T.copy(), mat


def iter_samples(root, *, split: Optional[str] = None, boxes=None, subsets: Sequence[str] = SUBSETS,
                 on_error: Optional[_common.OnError] = None) -> Iterator[RawSample]:
    """300W-LP samples in sorted order (subset, then name). ``split`` other than ``train`` yields nothing."""
    base = find_root(root)
    if base is None:
        raise DataError(f"{root}: no 300W_LP folder (expected 300W_LP/{{{','.join(SUBSETS)}}}/*.jpg + .mat)")
    if split not in (None, "train"):
        return
    for subset in subsets:
        folder = base / subset
        if not folder.is_dir():
            _common.report(on_error, str(folder), "missing_subset",
                           DataError(f"{folder}: 300W-LP subset folder missing"), fatal=False)
            continue
        for jpg in sorted(folder.glob("*.jpg")):
            mat_path = jpg.with_suffix(".mat")
            try:
                ypr, pt2d, _ = read_labels(mat_path)
            except DataError as exc:
                _common.report(on_error, str(mat_path), "bad_label", exc)
                continue
            name = f"{subset}/{jpg.stem}"
            box, _ = _common.lookup_box(boxes, f"{name}.jpg", jpg.name)
            yield RawSample(source_id=name, dataset=NAME, ypr=ypr, load_image=lambda p=jpg: load_rgb(p),
                            split="train", subject=subset, pt2d=pt2d, landmarks68=pt2d,
                            visibility68=self_occlusion_visibility(ypr), box=box, image_path=str(jpg))
