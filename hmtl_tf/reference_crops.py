"""Test images with their reference crops (the training crop convention), for calibration and for
``evaluate --crops``: from a raw dataset folder with landmarks (AFLW2000, 300W-LP readers of
``hmtl_tf.data.sources``) or from a prepared shard directory.

Reference crop = the policy's test crop (``hmtl_tf.data.crops``: landmark box, HopeNet k = 0.2 margins
(2, 2, 2, 0.6), ``int()``), then its central square for ``hopenet``/``visible`` -- the float box the test
pipeline samples. In a shard the image is the stored region and the box is shifted by ``image/origin``.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from hmtl_tf.data import crops
from hmtl_tf.data.sample import DataError


@dataclass
class RefSample:
    source_id: str
    image: np.ndarray                 # RGB uint8
    ref_box: tuple                    # float (x0, y0, x1, y1) in this image's pixels
    ypr: np.ndarray                   # (3,) degrees
    has_roll: bool = True


def _final_box(spec: crops.CropSpec, shift=(0.0, 0.0)) -> tuple:
    b = [float(v) for v in spec.box()]
    b = [b[0] - shift[0], b[1] - shift[1], b[2] - shift[0], b[3] - shift[1]]
    return tuple(float(v) for v in (crops.central_square(b) if spec.square else b))


def is_shard_dir(path: str) -> bool:
    return os.path.isdir(path) and bool(glob.glob(os.path.join(path, "*.tfrecord")))


def from_raw(path: str, policy: str = "visible", limit: int = 0) -> Iterator[RefSample]:
    """AFLW2000 (test crops) or 300W-LP folder; the reference crop uses the AFLW2000 test margins."""
    from hmtl_tf.data.sources import aflw2000, w300lp

    if policy not in ("hopenet", "visible"):
        raise ValueError(f"--policy={policy!r}: reference crops from landmarks need hopenet or visible")
    reader = aflw2000 if aflw2000.find_root(path) is not None else (w300lp if w300lp.find_root(path) else None)
    if reader is None:
        raise DataError(f"--dataset={path}: neither a shard directory (*.tfrecord) nor an AFLW2000 / 300W_LP "
                        "folder (imageNNNNN.jpg + .mat)")
    n = 0
    for s in reader.iter_samples(path, on_error=lambda *a, **k: None):
        if s.pt2d is None:
            continue
        spec = crops.make_crop_spec(policy, "aflw2000", "test", pt2d=s.pt2d)
        yield RefSample(s.source_id, s.load_image(), _final_box(spec), np.asarray(s.ypr, np.float64), s.has_roll)
        n += 1
        if limit and n >= limit:
            return


def from_shards(path: str, split: Optional[str] = None, limit: int = 0) -> Iterator[RefSample]:
    """Records of a shard directory (its recorded policy; k = k_min, the test crop)."""
    import tensorflow as tf

    from hmtl_tf.data import records

    files = records.shard_files(path, split)
    n = 0
    for ser in tf.data.TFRecordDataset(files):
        ex = records.parse_example(ser)
        spec = crops.CropSpec(ex["crop/policy"].numpy().decode(), tuple(float(v) for v in ex["crop/base"].numpy()),
                              tuple(round(float(v), 6) for v in ex["crop/coef"].numpy()),
                              tuple(round(float(v), 6) for v in ex["crop/k_range"].numpy()),
                              bool(ex["crop/square"].numpy()), bool(ex["crop/clamp_min"].numpy()))
        origin = [float(v) for v in ex["image/origin"].numpy()]
        image = tf.io.decode_jpeg(ex["image/encoded"], channels=3).numpy()
        yield RefSample(ex["source/id"].numpy().decode(), image, _final_box(spec, origin),
                        ex["pose/ypr"].numpy().astype(np.float64), bool(ex["pose/has_roll"].numpy()))
        n += 1
        if limit and n >= limit:
            return


def reference_samples(path: str, policy: str = "visible", split: Optional[str] = None,
                      limit: int = 0) -> Iterator[RefSample]:
    """Shard directory or raw folder (module docstring)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--dataset={path}: no such folder (expected a shard directory or an "
                                "AFLW2000 / 300W_LP folder)")
    return from_shards(path, split, limit) if is_shard_dir(path) else from_raw(path, policy, limit)
