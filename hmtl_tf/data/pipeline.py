"""The tf.data input pipeline (DESIGN "Data layer", SPEC sections 2, 4, 5): shards -> (images, targets).

Per record: parse -> decode (only the JPEG window the crop touches) -> crop by the stored policy
(training: k ~ U[k_min, k_max), test: k_min; ``crops.policy_box_tf`` in source pixels minus ``image/origin``;
HopeNet central square when ``crop/square``, else stretched; bilinear, outside the image black) ->
training only: augmentation (the random central zoom is folded into the crop box, so landmarks follow it),
flip / rotation, the non-occluding image ops, SSL transform, the occluding ops (cutout) -> batch.

Determinism and resume: every random draw is stateless, seeded by (cfg.seed, epoch, element index); the
epoch's order by (cfg.seed, epoch): a stateless permutation of the files, a deterministic interleave and a
stateless block shuffle (windows of ``cfg.data.shuffle_buffer`` records permuted in place). The training
dataset is ``range(start_epoch, cfg.epochs).flat_map(one_epoch)``, each epoch exactly
``steps_per_epoch * batch`` records, so a run resumed at epoch e sees the batches an uninterrupted run sees.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import tensorflow as tf

from hmtl_tf.config import W300LP_SUBSETS, TrainConfig, aug_ops, w300lp_subsets
from hmtl_tf.data import augment as aug
from hmtl_tf.data import crops, records, ssl_tasks

AUTOTUNE = tf.data.AUTOTUNE
ANGLE_INDEX = {"yaw": 0, "pitch": 1, "roll": 2}
EVAL_SPLITS = ("val", "test")
INTERLEAVE_FILES = 8  # shards read concurrently (deterministic round robin) when training
# Sub-seed tags of one element's seed.
_TAG_K, _TAG_AUG, _TAG_SSL, _TAG_ROT = 1, 2, 3, 4

Source = Union[str, os.PathLike, Sequence[str]]


# ----------------------------------------------------------------------------- files and counts
def _split_present(path: str, split: str) -> bool:
    try:
        records.shard_files(path, split)
        return True
    except FileNotFoundError:
        return False


def default_split(source: Source, training: bool) -> Optional[str]:
    """``train`` for training, else the first of ``val``, ``test`` present in the shard directory."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    if training:
        return "train"
    for split in EVAL_SPLITS:
        if _split_present(str(source), split):
            return split
    raise FileNotFoundError(f"{source}: no 'val' or 'test' TFRecord shards for evaluation; "
                            f"pass split= or run `python -m data_prep.prepare` first")


def resolve_files(source: Source, split: Optional[str]) -> List[str]:
    """A shard directory (files of ``split``) or an explicit list of TFRecord files."""
    if isinstance(source, (str, os.PathLike)):
        if os.path.isdir(source):
            return records.shard_files(str(source), split)
        if os.path.isfile(source):
            return [str(source)]
        raise FileNotFoundError(f"{source}: expected a shard directory or a TFRecord file")
    files = [str(f) for f in source]
    missing = [f for f in files if not os.path.isfile(f)]
    if not files or missing:
        raise FileNotFoundError(f"TFRecord files not found: {missing[:3] or 'empty list'}")
    return files


def _summary_count(path: str, split: str) -> Optional[int]:
    """Record count of ``split`` from ``summary.json`` ({"splits": {split: {"kept": n}}} or {split: n})."""
    f = os.path.join(path, "summary.json")
    if not os.path.isfile(f):
        return None
    with open(f) as fh:
        summary = json.load(fh)
    for table in (summary.get("splits"), summary.get("counts"), summary):
        entry = table.get(split) if isinstance(table, dict) else None
        if isinstance(entry, int):
            return entry
        if isinstance(entry, dict):
            for key in ("kept", "records", "count", "n"):
                if isinstance(entry.get(key), int):
                    return entry[key]
    return None


def _subject_filter(subjects: Sequence[str]):
    from hmtl_tf.data.sources.eth_xgaze import subject_name

    wanted = tf.constant([subject_name(s) for s in subjects])  # "1", "0001" and "subject0001" all match
    spec = {"subject": tf.io.FixedLenFeature([], tf.string, default_value=b"")}

    def keep(serialized):
        subject = tf.io.parse_single_example(serialized, spec)["subject"]
        return tf.reduce_any(tf.equal(subject, wanted))
    return keep


def _count(ds: tf.data.Dataset) -> int:
    return int(ds.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def count_records(source: Source, split: Optional[str] = None, subjects: Sequence[str] = ()) -> int:
    """Records of a split: ``summary.json`` counts when present (and no subject filter), else counted."""
    if split is None:
        split = default_split(source, training=False)
    if not subjects and isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        n = _summary_count(str(source), split)
        if n is not None:
            return n
    ds = tf.data.TFRecordDataset(resolve_files(source, split))
    if subjects:
        ds = ds.filter(_subject_filter(subjects))
    return _count(ds)


# ----------------------------------------------------------------------------- held-out split (SPEC 8)
PARTS = ("all", "train", "heldout")  # of the training records when ``cfg.data.val_split`` > 0
HOLDOUT_BUCKETS = 1 << 20


def source_group(source_id, dataset):
    """The unit a held-out split keeps on one side (string tensors, any shape; graph-safe).

    300W-LP: the file stem minus its trailing view index, the subset folder dropped
    (``AFW_Flip/AFW_134212_1_3`` -> ``AFW_134212_1``): every profiled view of one source face and their ``_Flip``
    copies. Other datasets: the first path component (ETH-XGaze ``subject0001/000123`` -> the subject; BIWI: the
    sequence), or the whole id when it has none (one image, e.g. AFLW2000)."""
    source_id = tf.convert_to_tensor(source_id, tf.string)
    stem = tf.strings.regex_replace(tf.strings.regex_replace(source_id, r"^.*/", ""), r"_[0-9]+$", "")
    first = tf.strings.regex_replace(source_id, r"/.*$", "")
    return tf.where(tf.equal(tf.convert_to_tensor(dataset, tf.string), "300w_lp"), stem, first)


def in_heldout(source_id, dataset, fraction: float):
    """True for records in the held-out part: a stable hash of :func:`source_group` (``to_hash_bucket_fast``,
    FarmHash fingerprint: the same on every machine and run) below ``fraction`` of the buckets."""
    bucket = tf.strings.to_hash_bucket_fast(source_group(source_id, dataset), HOLDOUT_BUCKETS)
    return bucket < int(round(float(fraction) * HOLDOUT_BUCKETS))


def _resolve_part(cfg: TrainConfig, part: Optional[str]) -> str:
    """``part`` of the training records; None = the training part ("train" when a split is held out)."""
    part = part or "train"
    if part not in PARTS:
        raise ValueError(f"part={part!r}: expected one of {', '.join(PARTS)}")
    if part == "heldout" and not cfg.data.val_split > 0:
        raise ValueError("part='heldout': the config holds nothing out (data.val_split is 0)")
    return part if cfg.data.val_split > 0 else "all"


def _part_filter(cfg: TrainConfig, part: Optional[str]):
    """Predicate on serialized records keeping ``part`` of the held-out split; None when there is no split."""
    part = _resolve_part(cfg, part)
    if part == "all":
        return None
    fraction = cfg.data.val_split
    spec = {"source/id": tf.io.FixedLenFeature([], tf.string),
            "source/dataset": tf.io.FixedLenFeature([], tf.string, default_value=b"")}

    def keep(serialized):
        ex = tf.io.parse_single_example(serialized, spec)
        held = in_heldout(ex["source/id"], ex["source/dataset"], fraction)
        return held if part == "heldout" else tf.logical_not(held)
    return keep


_PART_COUNTS: Dict[tuple, int] = {}


def _sidecar_ids(files: Sequence[str]) -> Optional[List[str]]:
    """The record ids of ``files`` from data_prep's ``<shard>.ids.json`` sidecars (None when one is missing)."""
    ids: List[str] = []
    for f in files:
        path = f"{f}.ids.json"
        if not os.path.isfile(path):
            return None
        with open(path) as fh:
            ids += list(json.load(fh).get("ids") or [])
    return ids


def part_count(source: Source, cfg: TrainConfig, split: str, part: Optional[str] = None) -> int:
    """Records of ``part`` of the training selection (subjects, 300W-LP subsets, held-out split; before
    ``max_train_samples``). From the shards' id sidecars when they list exactly the split's records, else counted
    by one pass over the files; memoised per process."""
    files = resolve_files(source, split)
    excluded = w300lp_excluded(files, cfg)
    key = (tuple(files), _resolve_part(cfg, part), cfg.data.val_split, tuple(cfg.data.subjects), excluded)
    if key in _PART_COUNTS:
        return _PART_COUNTS[key]
    n = None
    summary = _shard_summary(files) or {}
    ids = None if cfg.data.subjects else _sidecar_ids(files)
    if ids is not None and isinstance(source, (str, os.PathLike)) and _summary_count(str(source), split) == len(ids):
        dataset = str(summary.get("dataset", ""))
        t = tf.constant(ids or [""], tf.string)[: len(ids)]
        keep = tf.ones([len(ids)], tf.bool)
        if excluded and dataset == "300w_lp":  # the reader's subject is the subset folder, the id's first part
            keep = tf.logical_not(tf.reduce_any(tf.equal(tf.strings.regex_replace(t, r"/.*$", "")[:, None],
                                                         tf.constant(list(excluded))[None, :]), axis=1))
        if key[1] != "all":
            held = in_heldout(t, dataset, cfg.data.val_split)
            keep = tf.logical_and(keep, held if key[1] == "heldout" else tf.logical_not(held))
        n = int(tf.reduce_sum(tf.cast(keep, tf.int64)))
    if n is None:
        n = _count(filter_training_records(tf.data.TFRecordDataset(files), files, cfg, part))
    _PART_COUNTS[key] = n
    return n


# ----------------------------------------------------------------------------- 300W-LP subsets
def _shard_summary(files: Sequence[str]) -> Optional[dict]:
    """``summary.json`` of the shard directory holding ``files`` (None without one)."""
    if not files:
        return None
    f = os.path.join(os.path.dirname(os.path.abspath(files[0])), "summary.json")
    if not os.path.isfile(f):
        return None
    with open(f) as fh:
        return json.load(fh)


def w300lp_excluded(files: Sequence[str], cfg: TrainConfig) -> Tuple[str, ...]:
    """The 300W-LP subset folders ``cfg.data.w300lp_subsets`` leaves out of training, () when the filter is a
    no-op (all eight chosen, or shards whose ``summary.json`` names another dataset)."""
    wanted = w300lp_subsets(cfg.data)
    excluded = tuple(s for s in W300LP_SUBSETS if s not in wanted)
    if excluded:
        summary = _shard_summary(files)
        if summary is not None and summary.get("dataset", "300w_lp") != "300w_lp":
            return ()
    return excluded


def w300lp_filter(excluded: Sequence[str]):
    """Predicate on serialized records: False for a 300W-LP record of an excluded subset (its ``subject``: the
    reader stores the subset folder there); records of other datasets, or of no known subset, pass."""
    drop = tf.constant(list(excluded))
    spec = {"source/dataset": tf.io.FixedLenFeature([], tf.string, default_value=b""),
            "subject": tf.io.FixedLenFeature([], tf.string, default_value=b"")}

    def keep(serialized):
        ex = tf.io.parse_single_example(serialized, spec)
        dropped = tf.logical_and(tf.equal(ex["source/dataset"], "300w_lp"),
                                 tf.reduce_any(tf.equal(ex["subject"], drop)))
        return tf.logical_not(dropped)
    return keep


def filter_training_records(ds: tf.data.Dataset, files: Sequence[str], cfg: TrainConfig,
                            part: Optional[str] = None) -> tf.data.Dataset:
    """``ds`` (serialized records of ``files``) restricted to the training selection of ``cfg.data``: the ETH-XGaze
    ``subjects``, the 300W-LP ``w300lp_subsets`` and ``part`` of the held-out split (default the training part:
    everything but the ``val_split`` held out). ``max_train_samples`` is applied by the caller, after."""
    if cfg.data.subjects:
        ds = ds.filter(_subject_filter(cfg.data.subjects))
    excluded = w300lp_excluded(files, cfg)
    if excluded:
        ds = ds.filter(w300lp_filter(excluded))
    keep = _part_filter(cfg, part)
    if keep is not None:
        ds = ds.filter(keep)
    return ds


def _subset_summary_count(files: Sequence[str], split: str, excluded: Sequence[str]) -> Optional[int]:
    """Kept records of ``split`` minus those of the ``excluded`` subsets, from ``summary.json``'s per-subset counts
    (``splits.<split>.subsets``, written by data_prep.prepare); None when the summary has none."""
    summary = _shard_summary(files) or {}
    entry = (summary.get("splits") or {}).get(split) or {}
    subsets = entry.get("subsets")
    if not isinstance(subsets, dict) or not isinstance(entry.get("kept"), int):
        return None
    return entry["kept"] - sum(int(subsets.get(s, 0)) for s in excluded)


def train_record_count(source: Source, cfg: TrainConfig, split: str) -> int:
    """Training records of ``split`` after the ``cfg.data`` selection (subjects, 300W-LP subsets, the first
    ``max_train_samples``): what one epoch passes over and what ``steps_per_epoch`` divides."""
    files = resolve_files(source, split)
    excluded = w300lp_excluded(files, cfg)
    if cfg.data.val_split > 0:  # the training part of the held-out split
        n = part_count(source, cfg, split, "train")
    elif not excluded:
        n = count_records(source, split, cfg.data.subjects)
    else:
        n = None if cfg.data.subjects else _subset_summary_count(files, split, excluded)
        if n is None:
            n = _count(filter_training_records(tf.data.TFRecordDataset(files), files, cfg))
    return min(n, cfg.data.max_train_samples) if cfg.data.max_train_samples > 0 else n



def steps_per_epoch(source: Source, cfg: TrainConfig, split: str = "train",
                    batch_size: Optional[int] = None) -> int:
    """``cfg.steps_per_epoch`` when set, else one pass over the training records (drop_remainder)."""
    if cfg.steps_per_epoch > 0:
        return cfg.steps_per_epoch
    batch = batch_size or cfg.batch_size
    n = train_record_count(source, cfg, split)
    if n < batch:
        raise ValueError(f"{source}: split {split!r} has {n} training records, fewer than one batch of {batch}")
    return n // batch


# ----------------------------------------------------------------------------- per-example functions
def element_seed(seed, epoch, index):
    """The stateless seed (2,) int64 of element ``index`` of ``epoch`` (run seed ``seed``)."""
    base = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    e = tf.random.experimental.stateless_fold_in(base, tf.cast(epoch, tf.int64))
    return tf.random.experimental.stateless_fold_in(e, tf.cast(index, tf.int64))


def _sub(seed, tag: int):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tag)


def sample_k(ex, seed=None):
    """Margin factor: k ~ U[k_min, k_max) with a seed (training), k_min without (test)."""
    lo, hi = ex["crop/k_range"][0], ex["crop/k_range"][1]
    if seed is None:
        return lo
    return lo + (hi - lo) * tf.random.stateless_uniform([], seed=seed)


def _decimal(x):
    """float32 record values (k 0.2, coef 0.6) back to their float64 decimals, so the box's int() truncation
    equals ``CropSpec.box`` (float32 0.2 gives 19.99999 -> 19 where the reference gets 20)."""
    return tf.round(tf.cast(x, tf.float64) * 1e6) / 1e6


def crop_box(ex, k, zoom=1.0, shift=(0.0, 0.0), image_size: Optional[int] = None):
    """The crop box (x0, y0, x1, y1) float32 in stored-image pixels (source box minus ``image/origin``).

    HopeNet central square when ``crop/square``; ``zoom`` shrinks it about its centre; ``shift`` (dx, dy)
    is in model-input pixels (KD-OE offsets, Eq. 5: ``i*d*s_x`` with s_x = box width / ``image_size``).
    """
    box = crops.policy_box_tf(ex["crop/base"], _decimal(ex["crop/coef"]), _decimal(k), ex["crop/clamp_min"] > 0)
    origin = tf.cast(ex["image/origin"], tf.float32)
    box = tf.cast(box, tf.float32) - tf.concat([origin, origin], axis=0)
    square = tf.stack(crops.central_square(tf.unstack(box)))
    box = tf.where(ex["crop/square"] > 0, square, box)
    box = aug.zoom_box(box, zoom)
    if image_size is not None:
        s = tf.stack([box[2] - box[0], box[3] - box[1]]) / float(image_size)
        d = tf.cast(tf.stack(shift), tf.float32) * s
        box = box + tf.concat([d, d], axis=0)
    return box


def decode_crop(encoded, box, image_size: int):
    """JPEG bytes + box (stored pixels, continuous: pixel i spans [i, i+1)) -> float32 (S, S, 3) in [0, 255].

    Equivalent to PIL ``crop`` + bilinear ``resize`` (output pixel j samples x0 + (j + 0.5) w / S - 0.5);
    only the window the samples touch is decoded; samples outside the image are black (0).
    """
    shape = tf.io.extract_jpeg_shape(encoded)
    hw = tf.cast(shape[:2], tf.float32)
    # 2-px margin: the window's own edge columns (chroma up-sampling differs there) are never sampled.
    lo = tf.clip_by_value(tf.floor(tf.stack([box[1], box[0]])) - 2.0, 0.0, hw - 2.0)
    hi = tf.clip_by_value(tf.math.ceil(tf.stack([box[3], box[2]])) + 2.0, lo + 2.0, hw)
    window = tf.cast(tf.concat([lo, hi - lo], axis=0), tf.int32)
    image = tf.io.decode_and_crop_jpeg(encoded, window, channels=3)
    size = hi - lo  # (h, w) of the decoded window
    y0, x0 = box[1] - lo[0], box[0] - lo[1]
    bh, bw = box[3] - box[1], box[2] - box[0]
    s = float(image_size)
    norm = tf.stack([(y0 + 0.5 * bh / s - 0.5) / (size[0] - 1.0), (x0 + 0.5 * bw / s - 0.5) / (size[1] - 1.0),
                     (y0 + bh - 0.5 * bh / s - 0.5) / (size[0] - 1.0),
                     (x0 + bw - 0.5 * bw / s - 0.5) / (size[1] - 1.0)])
    out = tf.image.crop_and_resize(image[None], norm[None], [0], [image_size, image_size],
                                   method="bilinear", extrapolation_value=0.0)
    return tf.ensure_shape(out[0], [image_size, image_size, 3])


def crop_example(ex, image_size: int, k=None, zoom=1.0, shift=(0.0, 0.0)):
    """Parsed record -> (image float32 (S, S, 3) [0, 255], box in stored pixels). ``k`` default k_min."""
    box = crop_box(ex, sample_k(ex) if k is None else k, zoom, shift, image_size)
    return decode_crop(ex["image/encoded"], box, image_size), box


def landmarks_to_input(ex, box, image_size: int):
    """68 source-pixel landmarks -> model-input pixels through the crop box; (68, 2), visibility (68,)."""
    origin = tf.cast(ex["image/origin"], tf.float32)
    xy = ex["landmarks/xy"] - origin[None, :]
    scale = float(image_size) / tf.stack([box[2] - box[0], box[3] - box[1]])
    vis = ex["landmarks/visible"] * tf.cast(ex["landmarks/present"] > 0, tf.float32)
    return (xy - box[None, :2]) * scale[None, :], vis


def train_transform(image, ypr, seed, cfg: TrainConfig, landmarks=None, visibility=None):
    """Training augmentation before the SSL transform: the pose-changing flip and rotation first (KD-OE Sec. 4.3:
    "augmentations that affect the head pose are applied first"), then the non-occluding image ops of
    ``config.aug_ops(cfg.data)`` in their order.

    Returns (image, ypr, landmarks, visibility). The zoom is applied by :func:`crop_box`; the occluding ops
    (cutout, coarse dropout) by :func:`example_fn` after the SSL transform (``aug.apply_occluding``).
    """
    d = cfg.data
    image = tf.cast(image, tf.float32)
    ypr = tf.cast(ypr, tf.float32)
    if d.flip:
        image, ypr, landmarks, visibility = aug.random_flip(image, ypr, seed, landmarks, visibility)
    if d.rotate_deg > 0:  # KD-OE Sec. 4.3: in-plane rotation, labels changed exactly (rotation composed)
        from hmtl_tf.data import rotation_aug

        if landmarks is not None:
            raise ValueError("--rotate_deg with landmark targets is not supported (landmarks are not rotated)")
        phi = tf.random.stateless_uniform([], _sub(seed, _TAG_ROT), -d.rotate_deg, d.rotate_deg)
        image = rotation_aug.rotate_image_tf(image, phi)
        ypr = rotation_aug.rotated_ypr_tf(ypr, phi)
    image = aug.apply_photometric(image, seed, aug_ops(d))
    return image, ypr, landmarks, visibility


TRANSFORM_SEED = "transform_seed"  # target key of the element seed when the transforms run on the device


def after_crop(image, ypr, seed, cfg: TrainConfig, landmarks=None, visibility=None, appearance=None):
    """Every training transform after the crop, for one image (the host and device paths share it): flip /
    rotation and the non-occluding ops (:func:`train_transform`), ``appearance`` (MNN's set, host only), the SSL
    transform (Sec. 3.1), then the occluding ops (HMTL Sec. 4.3: cutout after the puzzle). ``seed``: the element
    seed. Returns (image float32, ypr, landmarks, visibility, SSL targets)."""
    s = cfg.ssl
    aug_seed = _sub(seed, _TAG_AUG)
    image, ypr, landmarks, visibility = train_transform(image, ypr, aug_seed, cfg, landmarks, visibility)
    if appearance is not None:
        image, visibility = appearance(image, aug_seed, landmarks, visibility)
    ssl_t: Dict[str, tf.Tensor] = {}
    if s.task != "none":
        image, ssl_t = ssl_tasks.apply_ssl_task(image, s.task, _sub(seed, _TAG_SSL), s.prob, s.max_rotated_tiles)
    image = aug.apply_occluding(image, aug_seed, aug_ops(cfg.data))
    return tf.cast(image, tf.float32), ypr, landmarks, visibility, ssl_t


def to_uint8(image):
    """float [0, 255] -> uint8 (rounded): what the device path's host part emits (4x less to copy and cache)."""
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def example_fn(cfg: TrainConfig, training: bool, with_landmarks: bool = False, with_ids: bool = False,
               device: bool = False):
    """The per-record map function ``(serialized, seed) -> (image, targets)`` of :func:`make_dataset`.

    ``device`` (training with ``transforms_on=device``): the decoded, cropped (random margin and zoom: crop-box
    geometry), resized image as uint8 and the element seed (``targets["transform_seed"]``); the transforms of
    :func:`after_crop` then run in the train step (``hmtl_tf.data.device_transforms``)."""
    size = cfg.data.image_size
    d, s = cfg.data, cfg.ssl
    ops = aug_ops(d) if training else ()
    zoom_on = "zoom" in ops
    mnn_aug = None
    if training and cfg.mnn.augment:  # MNN rows' own set (their Sec. 4.2): scale/shift in the box, HSV, occlusion
        from hmtl_tf.data import mnn_augment as mnn_aug
    for name in cfg.model.angles:
        if name not in ANGLE_INDEX:
            raise ValueError(f"model.angles: unknown angle {name!r}; expected yaw, pitch, roll")

    def fn(serialized, seed):
        ex = records.parse_example(serialized)
        aug_seed = _sub(seed, _TAG_AUG)
        k = sample_k(ex, _sub(seed, _TAG_K) if training else None)
        zoom = aug.zoom_factor(aug_seed) if zoom_on else 1.0
        if mnn_aug is not None:
            zoom, shift = mnn_aug.crop_jitter(aug_seed, size, cfg.mnn, zoom)
            box = crop_box(ex, k, zoom, shift, size)
        else:
            box = crop_box(ex, k, zoom)
        image = decode_crop(ex["image/encoded"], box, size)
        ypr = ex["pose/ypr"]
        if "roll" in cfg.model.angles:
            tf.debugging.assert_equal(ex["pose/has_roll"], tf.constant(1, tf.int64), message=(
                "records without roll (ETH-XGaze): expected model.angles=('yaw', 'pitch')"))
        lm = vis = None
        if with_landmarks:
            lm, vis = landmarks_to_input(ex, box, size)
        ssl_t: Dict[str, tf.Tensor] = {}
        if training and device:
            image = to_uint8(image)
        elif training:
            appearance = None if mnn_aug is None else (
                lambda im, sd, lm_, vis_: mnn_aug.appearance(im, sd, cfg.mnn, lm_, vis_))
            image, ypr, lm, vis, ssl_t = after_crop(image, ypr, seed, cfg, lm, vis, appearance)
        targets: Dict[str, tf.Tensor] = {name: ypr[ANGLE_INDEX[name]] for name in cfg.model.angles}
        if s.heads:
            targets.update(ssl_t)
        if training and device:
            targets[TRANSFORM_SEED] = tf.cast(seed, tf.int64)
            return image, targets
        if with_landmarks:
            targets["landmarks"], targets["visibility"] = lm, vis
            targets["landmarks_present"] = tf.cast(ex["landmarks/present"], tf.float32)
        if with_ids:
            targets["source_id"] = ex["source/id"]
        return tf.cast(image, tf.float32), targets
    return fn


# ----------------------------------------------------------------------------- epochs
def _block_shuffle(ds: tf.data.Dataset, window: int, seed) -> tf.data.Dataset:
    """Stateless shuffle: consecutive windows of ``window`` records, each permuted by (seed, window index)."""
    def permute(w, block):
        u = tf.random.stateless_uniform(tf.shape(block)[:1], seed=tf.random.experimental.stateless_fold_in(seed, w))
        return tf.gather(block, tf.argsort(u, stable=True))
    # prefetch(1): the next window is read while this one is consumed (no stall at window boundaries)
    return ds.batch(window).prefetch(1).enumerate().map(permute).unbatch()


def _epoch_records(files: List[str], cfg: TrainConfig, seed, cached: Optional[tf.data.Dataset],
                   total: int) -> tf.data.Dataset:
    """One pass over the training records in the order of ``seed``."""
    window = max(1, cfg.data.shuffle_buffer)
    if cached is not None:  # in memory: one window = the whole set (a full shuffle)
        return _block_shuffle(cached, max(total, 1), seed)
    if cfg.data.max_train_samples > 0 or cfg.data.subjects:  # "the first N" must stay file-ordered
        return _block_shuffle(_ordered_records(files, cfg), window, seed)
    order = tf.argsort(tf.random.stateless_uniform([len(files)], seed=_sub(seed, 7)), stable=True)
    names = tf.data.Dataset.from_tensor_slices(tf.gather(tf.constant(files), order))
    excluded = w300lp_excluded(files, cfg)
    read = tf.data.TFRecordDataset
    if excluded:  # the 300W-LP subset filter inside each file's reader (parallel over the interleaved files)
        keep = w300lp_filter(excluded)
        read = lambda f: tf.data.TFRecordDataset(f).filter(keep)  # noqa: E731
    part_keep = _part_filter(cfg, "train")
    if part_keep is not None:  # the held-out split's training part, likewise per file
        plain = read
        read = lambda f: plain(f).filter(part_keep)  # noqa: E731
    ds = names.interleave(read, cycle_length=min(len(files), INTERLEAVE_FILES),
                          block_length=1, num_parallel_calls=AUTOTUNE, deterministic=True)
    return _block_shuffle(ds, window, seed)


def _ordered_records(files: List[str], cfg: TrainConfig) -> tf.data.Dataset:
    ds = filter_training_records(tf.data.TFRecordDataset(files, buffer_size=8 << 20), files, cfg)
    if cfg.data.max_train_samples > 0:
        ds = ds.take(cfg.data.max_train_samples)
    return ds


def _options() -> tf.data.Options:
    opts = tf.data.Options()
    opts.deterministic = True
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return opts


def make_dataset(source: Source, cfg: TrainConfig, *, training: bool, split: Optional[str] = None,
                 start_epoch: int = 0, with_landmarks: bool = False, with_ids: bool = False,
                 batch_size: Optional[int] = None, drop_remainder: Optional[bool] = None,
                 part: Optional[str] = None) -> tf.data.Dataset:
    """``(images, targets)`` batches (DESIGN "Data layer").

    Training: epochs ``start_epoch .. cfg.epochs - 1`` back to back, each ``steps_per_epoch`` batches
    (use ``model.fit(ds, epochs=cfg.epochs, initial_epoch=start_epoch, steps_per_epoch=...)``); with
    ``cfg.data.val_split`` > 0 only the training part of the held-out split.
    Evaluation: one pass in file order, never augmented or puzzled, k = k_min. ``part="heldout"`` (or "train"):
    that part of the training selection of ``cfg.data`` (:func:`filter_training_records`) instead of every record.
    """
    split = split or default_split(source, training)
    files = resolve_files(source, split)
    batch = batch_size or cfg.batch_size
    drop = training if drop_remainder is None else drop_remainder
    fn = example_fn(cfg, training, with_landmarks, with_ids, device=training and cfg.transforms_on == "device")

    if not training:
        ds = tf.data.TFRecordDataset(files, buffer_size=8 << 20)
        if part is not None:
            ds = filter_training_records(ds, files, cfg, part)
        zero = tf.zeros([2], tf.int64)
        ds = ds.map(lambda s_: fn(s_, zero), num_parallel_calls=AUTOTUNE, deterministic=True)
        ds = ds.batch(batch, drop_remainder=drop)
        n = _summary_count(str(source), split) if isinstance(source, (str, os.PathLike)) else None
        if part is not None:
            n = part_count(source, cfg, split, part)
        if n is not None:  # a known length: Keras's evaluation loop then ends without an "ran out of data" warning
            ds = ds.apply(tf.data.experimental.assert_cardinality(n // batch if drop else -(-n // batch)))
        return ds.prefetch(AUTOTUNE).with_options(_options())

    if not 0 <= start_epoch < cfg.epochs:
        raise ValueError(f"start_epoch={start_epoch}: expected 0 <= start_epoch < epochs={cfg.epochs}")
    if part not in (None, "train"):
        raise ValueError(f"part={part!r}: training reads the training part only")
    total = train_record_count(source, cfg, split)
    per_epoch = steps_per_epoch(source, cfg, split, batch) * batch
    passes = -(-per_epoch // total)
    cached = _ordered_records(files, cfg).cache() if cfg.data.cache else None
    run_seed = tf.stack([tf.constant(cfg.seed, tf.int64), tf.constant(1, tf.int64)])

    def one_epoch(epoch):
        e_seed = tf.random.experimental.stateless_fold_in(run_seed, epoch)
        reps = tf.data.Dataset.range(passes).flat_map(
            lambda r: _epoch_records(files, cfg, tf.random.experimental.stateless_fold_in(e_seed, r),
                                     cached, total))
        return reps.take(per_epoch).enumerate().map(lambda i, s_: (s_, element_seed(cfg.seed, epoch, i)))

    ds = tf.data.Dataset.range(start_epoch, cfg.epochs).flat_map(one_epoch)
    ds = ds.map(fn, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=drop).prefetch(AUTOTUNE).with_options(_options())
