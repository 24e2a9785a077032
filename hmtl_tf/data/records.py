"""The one shard format (SPEC section 2): TFRecord files of ``tf.train.Example``.

Each record holds the *stored region* of the source image (the policy's outer box, clipped to the image,
JPEG-encoded), where that region sits in the source image (``image/origin``), the crop spec of its policy
(so the pipeline draws HopeNet's random margin per epoch in the graph), the labels in the internal
convention (degrees, yaw/pitch/roll), optional 68 landmarks + visibility in source pixels, and ids.

A shard directory holds ``<split>-NNNNN-of-MMMMM.tfrecord`` files, ``manifest.csv`` (one row per source
file) and ``summary.json`` (counts kept / skipped per reason, the crop policy, the writer's version).
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional

import numpy as np

NUM_LANDMARKS = 68
FORMAT_VERSION = 1


def _tf():
    import tensorflow as tf
    return tf


def feature_spec() -> Dict[str, object]:
    """The parsing spec of one record (fixed-length fields have defaults so old shards stay readable)."""
    tf = _tf()
    return {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/origin": tf.io.FixedLenFeature([2], tf.int64),          # (x, y) of the stored region's top-left
        "image/source_size": tf.io.FixedLenFeature([2], tf.int64),     # (w, h) of the source image
        "pose/ypr": tf.io.FixedLenFeature([3], tf.float32),            # degrees, (yaw, pitch, roll)
        "pose/has_roll": tf.io.FixedLenFeature([], tf.int64, default_value=1),
        "crop/policy": tf.io.FixedLenFeature([], tf.string, default_value=b"hopenet"),
        "crop/base": tf.io.FixedLenFeature([4], tf.float32),           # source pixels
        "crop/coef": tf.io.FixedLenFeature([4], tf.float32),
        "crop/k_range": tf.io.FixedLenFeature([2], tf.float32),
        "crop/square": tf.io.FixedLenFeature([], tf.int64, default_value=1),
        "crop/clamp_min": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "landmarks/xy": tf.io.FixedLenFeature([NUM_LANDMARKS * 2], tf.float32,
                                              default_value=[0.0] * (NUM_LANDMARKS * 2)),
        "landmarks/visible": tf.io.FixedLenFeature([NUM_LANDMARKS], tf.float32,
                                                   default_value=[0.0] * NUM_LANDMARKS),
        "landmarks/present": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "source/id": tf.io.FixedLenFeature([], tf.string),
        "source/dataset": tf.io.FixedLenFeature([], tf.string),
        "split": tf.io.FixedLenFeature([], tf.string, default_value=b""),
        "subject": tf.io.FixedLenFeature([], tf.string, default_value=b""),
        # KD-OE stage 2: teacher distributions stored with the shards (issue 5); empty when absent.
        "teacher/probs": tf.io.VarLenFeature(tf.float32),
    }


def encode_example(*, image_jpeg: bytes, origin, source_size, ypr, has_roll: bool, crop, source_id: str,
                   dataset: str, split: str, subject: str = "", landmarks: Optional[np.ndarray] = None,
                   visible: Optional[np.ndarray] = None, teacher_probs: Optional[np.ndarray] = None) -> bytes:
    """Serialises one record. ``crop`` is a :class:`hmtl_tf.data.crops.CropSpec`."""
    tf = _tf()

    def f(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in np.ravel(values)]))

    def i(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in np.ravel(values)]))

    def b(value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feats = {
        "image/encoded": b(image_jpeg),
        "image/origin": i(origin),
        "image/source_size": i(source_size),
        "pose/ypr": f(ypr),
        "pose/has_roll": i([1 if has_roll else 0]),
        "crop/policy": b(crop.policy),
        "crop/base": f(crop.base),
        "crop/coef": f(crop.coef),
        "crop/k_range": f(crop.k_range),
        "crop/square": i([1 if crop.square else 0]),
        "crop/clamp_min": i([1 if crop.clamp_min else 0]),
        "source/id": b(source_id),
        "source/dataset": b(dataset),
        "split": b(split),
        "subject": b(subject),
    }
    if landmarks is not None:
        lm = np.asarray(landmarks, dtype=np.float32).reshape(NUM_LANDMARKS, 2)
        vis = np.ones(NUM_LANDMARKS, np.float32) if visible is None else np.asarray(visible, np.float32)
        feats["landmarks/xy"] = f(lm)
        feats["landmarks/visible"] = f(vis)
        feats["landmarks/present"] = i([1])
    if teacher_probs is not None:
        feats["teacher/probs"] = f(teacher_probs)
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)


def parse_example(serialized):
    """Parses one serialized record into a dict of tensors (graph-safe; used inside ``Dataset.map``)."""
    tf = _tf()
    ex = tf.io.parse_single_example(serialized, feature_spec())
    ex["teacher/probs"] = tf.sparse.to_dense(ex["teacher/probs"])
    ex["landmarks/xy"] = tf.reshape(ex["landmarks/xy"], [NUM_LANDMARKS, 2])
    return ex


def shard_files(path: str, split: Optional[str] = None) -> List[str]:
    """The TFRecord files of a shard directory (optionally of one split), sorted; error if none."""
    pattern = f"{split}-*.tfrecord" if split else "*.tfrecord"
    files = sorted(glob.glob(os.path.join(path, pattern)))
    if not files:
        what = f"split {split!r} " if split else ""
        raise FileNotFoundError(f"{path}: no {what}TFRecord shards ({pattern}); "
                                f"run `python -m data_prep.prepare` first")
    for f in files:
        check_shard_size(f)
    return files


def check_shard_size(path: str) -> None:
    """A finished shard has the size its sidecar (``<shard>.ids.json``, written by data_prep.prepare) recorded;
    a truncated one is a one-line error (re-running prepare rewrites it)."""
    import json

    side = path + ".ids.json"
    if not os.path.isfile(side):
        return
    try:
        with open(side, encoding="utf-8") as fh:
            want = json.load(fh).get("bytes")
    except (OSError, ValueError):
        return
    have = os.path.getsize(path)
    if want is not None and have != want:
        from hmtl_tf.data.sample import DataError

        raise DataError(f"{path}: {have} bytes, {want} recorded when it was written (truncated?); re-run "
                        f"`python -m data_prep.prepare` with the same flags to rewrite it")


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"
