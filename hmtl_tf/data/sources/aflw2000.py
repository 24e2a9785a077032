"""AFLW2000-3D reader (DATA_FACTS 1.3): ``AFLW2000/imageNNNNN.{jpg,mat}``, split ``test``.

``pt2d`` (2, 21) -> (21, 2) with the (-1, 452) invisible-point sentinels KEPT (the ``hopenet`` crop policy
uses them, ``visible`` drops them); the 68 landmarks come from ``pt3d_68[:2].T``.
"""
from __future__ import annotations

import pathlib
from typing import Iterator, Optional

from ..sample import DataError, RawSample
from . import _common
from .images import load_rgb
from .w300lp import read_labels

NAME = "aflw2000"


def find_root(root) -> Optional[pathlib.Path]:
    """The ``AFLW2000`` folder: ``root/AFLW2000`` or ``root`` itself; None when absent."""
    return _common.find_dir(root, ("AFLW2000", ""),
                            lambda p: next(iter(p.glob("image*.mat")), None) is not None)


def iter_samples(root, *, split: Optional[str] = None, boxes=None,
                 on_error: Optional[_common.OnError] = None) -> Iterator[RawSample]:
    """AFLW2000 samples in sorted name order. ``split`` other than ``test`` yields nothing."""
    base = find_root(root)
    if base is None:
        raise DataError(f"{root}: no AFLW2000 folder (expected AFLW2000/imageNNNNN.jpg + .mat)")
    if split not in (None, "test"):
        return
    for jpg in sorted(base.glob("image*.jpg")):
        mat_path = jpg.with_suffix(".mat")
        try:
            ypr, pt2d, mat = read_labels(mat_path, n_points=None)
            lm = _common.mat_array(mat, "pt3d_68", mat_path, lambda s: s == (3, 68), "(3, 68) x/y/z rows")
        except DataError as exc:
            _common.report(on_error, str(mat_path), "bad_label", exc)
            continue
        box, _ = _common.lookup_box(boxes, jpg.name, f"AFLW2000/{jpg.name}")
        yield RawSample(source_id=jpg.stem, dataset=NAME, ypr=ypr, load_image=lambda p=jpg: load_rgb(p),
                        split="test", subject="", pt2d=pt2d, landmarks68=lm[:2].T.copy(), box=box,
                        image_path=str(jpg))
