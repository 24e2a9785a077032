"""Test images with their reference crops (the training crop convention), for calibration and for
``evaluate --crops``: from a raw dataset folder with landmarks (AFLW2000, 300W-LP readers of
``hmtl_tf.data.sources``) or from a prepared shard directory.

``from_originals`` (``evaluate --crops``) pairs a shard's records with the full original images they were
prepared from (``summary.json`` names the raw folder; the dataset's reader finds each record's source id).

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
    image_path: str = ""              # the original file (raw folders and from_originals)


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
        yield RefSample(s.source_id, s.load_image(), _final_box(spec), np.asarray(s.ypr, np.float64), s.has_roll,
                        s.image_path)
        n += 1
        if limit and n >= limit:
            return


def _record_spec(ex) -> crops.CropSpec:
    return crops.CropSpec(ex["crop/policy"].numpy().decode(), tuple(float(v) for v in ex["crop/base"].numpy()),
                          tuple(round(float(v), 6) for v in ex["crop/coef"].numpy()),
                          tuple(round(float(v), 6) for v in ex["crop/k_range"].numpy()),
                          bool(ex["crop/square"].numpy()), bool(ex["crop/clamp_min"].numpy()))


def originals_index(shard_dir: str, flag: str = "--dataset") -> dict:
    """{source id: raw sample} of the raw folder ``shard_dir`` was prepared from (its ``summary.json``); a
    one-line DataError when the shards do not say, hold face patches only, or the folder is gone."""
    import json

    from hmtl_tf.data.sources import get_reader

    try:
        with open(os.path.join(shard_dir, "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        summary = {}
    dataset, root = summary.get("dataset"), summary.get("root")
    where = f"{flag}={shard_dir}: the detector crops need the full original images, but"
    if not dataset or not root:
        raise DataError(f"{where} its summary.json does not name the raw folder it was prepared from "
                        "(re-run data_prep.prepare)")
    if dataset == "eth_xgaze" or summary.get("crop_policy") == "none":
        raise DataError(f"{where} {dataset} shards hold face patches (crop policy none), not full images")
    reader = get_reader(dataset)
    if not os.path.isdir(root) or reader.find_root(root) is None:
        raise DataError(f"{where} the raw {dataset} folder it was prepared from ({root}) is not there "
                        "(the shards keep only the face region)")
    return {s.source_id: s for s in reader.iter_samples(root, on_error=lambda *a, **k: None)}


def from_originals(shard_dir: str, split: Optional[str] = None, limit: int = 0,
                   flag: str = "--dataset") -> Iterator[RefSample]:
    """The records of ``split`` with their full original image and the reference crop in its pixels
    (:func:`originals_index`); DataError when an original is missing or differs in size from the record's."""
    import tensorflow as tf

    from hmtl_tf.data import records

    files = records.shard_files(shard_dir, split)
    index = originals_index(shard_dir, flag)
    n = 0
    for ser in tf.data.TFRecordDataset(files):
        ex = records.parse_example(ser)
        sid = ex["source/id"].numpy().decode()
        raw = index.get(sid)
        if raw is None:
            raise DataError(f"{flag}={shard_dir}: record {sid!r} has no original image in the raw folder it was "
                            "prepared from (was the folder changed?)")
        image = raw.load_image()
        want = tuple(int(v) for v in ex["image/source_size"].numpy())
        if (image.shape[1], image.shape[0]) != want:
            raise DataError(f"{raw.image_path}: {image.shape[1]}x{image.shape[0]} pixels, the shards were prepared "
                            f"from a {want[0]}x{want[1]} image (was the raw folder changed?)")
        yield RefSample(sid, image, _final_box(_record_spec(ex)), ex["pose/ypr"].numpy().astype(np.float64),
                        bool(ex["pose/has_roll"].numpy()), raw.image_path)
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
        spec = _record_spec(ex)
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
