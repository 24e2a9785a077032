"""The converter: a public dataset in its published layout -> the shard format (SPEC 2, DESIGN "Data layer").

The library part of ``data_prep.prepare`` (its thin CLI), used by the smoke data and the tests:

    python -m data_prep.prepare --dataset={300w_lp,aflw2000,biwi,eth_xgaze} --root=RAW --out=DIR
        [--crop_policy=hopenet|visible|boxes] [--boxes=FILE] [--shard_size=1024] [--jpeg_quality=95]
        [--limit=N] [--max_angle=99] [--skip_missing] [--overwrite]

writes ``DIR/<dataset>/``: ``<split>-NNNNN-of-MMMMM.tfrecord`` (records.encode_example; only the crop policy's
outer region, clipped to the image, is stored), a ``.ids.json`` sidecar per shard, ``manifest.csv`` (one row
per source file and split), ``summary.json`` and ``prepare_config.json``.

Splits (each dataset's descriptor in ``hmtl_tf.data.datasets`` states them): 300w_lp -> train (all eight subset
folders, each counted in ``summary.json`` ``splits.train.subsets``: training chooses them, ``--w300lp_subsets``,
without another conversion); aflw2000 -> test (|angles| <= 99: 1,969 of 2,000) and test_full (all);
biwi -> test (<= 99) plus p3_train / p3_test from the KD-OE box ``type`` (their protocol 3);
eth_xgaze -> train, val (subjects 0108, 0109, 0111), test. BIWI may also be FSA-Net's pre-cropped npz
(``--root=BIWI_noTrack.npz``, crop policy ``none``).

Two passes: the plan lists every sample (labels only) and fixes each shard's content; the write pass streams
the samples again and writes only the shards that are missing or whose sidecar does not match the plan
(each shard is written to a temp name and renamed when complete). A sample that cannot be read is skipped,
counted and named; the output is byte-identical on re-runs.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from hmtl_tf import angles
from hmtl_tf.data import crops, datasets, records
from hmtl_tf.data.sample import DataError, RawSample
from hmtl_tf.data.sources import get_reader
from hmtl_tf.data.sources.boxes import BoxFile, load_boxes
from hmtl_tf.data.sources.images import clip_box, encode_jpeg
from hmtl_tf.rundir import disk_full, is_out_of_space

PREPARE_VERSION = 2  # 2: 300W-LP landmark visibility from the pose (issue 12.10); shards of 1 are rewritten
CONFIG_FILE = "prepare_config.json"
MANIFEST_COLUMNS = ("file", "split", "yaw", "pitch", "roll", "x0", "y0", "x1", "y1", "kept", "reason")
NOTE_REASONS = ("missing_subset", "missing_file", "bad_calibration")   # reported, not per-file skips
CORRUPT_REASONS = ("bad_label", "corrupt_image")
_SHARD = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}\.tfrecord(\.ids\.json)?$")


@dataclass(frozen=True)
class Options:
    dataset: str
    root: str
    out: str
    crop_policy: str = ""          # "" = the dataset's default (hopenet; none for ETH-XGaze / npz)
    boxes: Optional[str] = None
    shard_size: int = 1024
    jpeg_quality: int = 95
    limit: int = 0                 # 0 = all samples, else the first N of the sorted listing
    max_angle: float = 99.0        # +-99 filter of the filtered splits (DATA_FACTS 2.6); 0 = off
    skip_missing: bool = False
    overwrite: bool = False
    progress_every: int = 1000
    name: str = ""                 # output sub-folder under ``out`` ("" = the dataset name)
    log: Callable[[str], None] = print


@dataclass(slots=True)
class Row:
    """One manifest row: a source file in one output split."""

    file: str
    split: str
    source_id: str = ""
    ypr: Optional[Tuple[float, float, float]] = None
    box: Optional[Tuple[int, int, int, int]] = None   # k_min crop box
    reason: str = ""                                  # "" = planned into a shard
    error: str = ""
    key: bytes = b""                                  # digest of (id, split, labels, crop) for the sidecars

    @property
    def kept(self) -> bool:
        return not self.reason


@dataclass
class Plan:
    rows: List[Row] = field(default_factory=list)
    planned: Dict[str, List[Row]] = field(default_factory=dict)   # split -> rows in shard order
    notes: List[str] = field(default_factory=list)
    listed: int = 0
    box_matches: int = 0          # listed samples that found a box in --boxes
    example_key: str = ""         # a listed sample's file (for the --boxes error)


# ----------------------------------------------------------------------------------------- sources
# What differs between datasets (crop policies, box files, splits, the +-99 filter) is their descriptor's
# (hmtl_tf.data.datasets); nothing below tests a dataset's name.

def _policy(opts: Options, npz: bool) -> str:
    d = datasets.get(opts.dataset)
    fixed = bool(d.precropped) or npz
    policy = opts.crop_policy or ("none" if fixed else d.default_crop_policy)
    if fixed and policy != "none":
        raise DataError(f"--crop_policy={policy}: {'FSA-Net npz images' if npz else d.precropped} "
                        f"are already face crops, expected none")
    if not fixed and policy not in d.crop_policies:
        raise DataError(f"--crop_policy={policy!r}: expected {', '.join(d.crop_policies[:-1])} or "
                        f"{d.crop_policies[-1]}")
    return policy


def _boxes(opts: Options, base: str, npz: bool) -> Optional[BoxFile]:
    if opts.boxes:
        return load_boxes(opts.boxes)
    d = datasets.get(opts.dataset)
    if d.boxes_file and not npz:
        for cand in (os.path.join(opts.root, d.boxes_file), os.path.join(os.path.dirname(base), d.boxes_file)):
            if os.path.isfile(cand):
                return load_boxes(cand)
        raise DataError(f"{d.label} needs face boxes: --boxes=... (KD-OE {d.boxes_file}, a Dockerface folder or a "
                        f"CSV; default {os.path.join(opts.root, d.boxes_file)} not found)")
    return None


def _is_npz(opts: Options) -> bool:
    """``--root`` is a pre-cropped npz file its reader can read (FSA-Net's BIWI_noTrack.npz: ``iter_npz``)."""
    return (hasattr(get_reader(opts.dataset), "iter_npz") and opts.root.endswith(".npz")
            and os.path.isfile(opts.root))


def _samples(opts: Options, base: str, npz: bool, boxes, on_error):
    reader = get_reader(opts.dataset)
    if npz:
        it = reader.iter_npz(opts.root)
    else:
        it = reader.iter_samples(opts.root, boxes=boxes, on_error=on_error)
    return itertools.islice(it, opts.limit) if opts.limit > 0 else it


def _out_splits(sample: RawSample) -> List[Tuple[str, bool]]:
    """[(output split, +-max_angle filter applies)] of one sample: its descriptor's split rule (module docstring)."""
    d = datasets.get(sample.dataset)
    return [(split, split in d.filtered) for split in d.split_rule(sample)]


def _crop(sample: RawSample, policy: str, split: str, image_size=None) -> crops.CropSpec:
    return crops.make_crop_spec(policy, sample.dataset, split, pt2d=sample.pt2d, box=sample.box,
                                image_size=image_size)


# ----------------------------------------------------------------------------------------- plan

def _row_key(source_id: str, split: str, ypr, spec) -> bytes:
    """Short digest of what a record is made of, so a sidecar only matches an unchanged plan."""
    ident = [source_id, split, [round(v, 6) for v in ypr], None if spec is None else [round(v, 4) for v in spec.base]]
    return hashlib.blake2b(json.dumps(ident).encode("utf-8"), digest_size=12).digest()


def _check_boxes_matched(opts: Options, boxes, plan: Plan) -> None:
    """A ``--boxes`` file that matches no listed sample (another dataset's file, ``{}``) is an error naming the
    file with an example key of each side, not an empty dataset."""
    if boxes is None or not opts.boxes or plan.box_matches or not plan.listed:
        return
    box_key = next(iter(boxes), None)
    raise DataError(f"--boxes={opts.boxes}: no {opts.dataset} sample has a box there (box keys e.g. "
                    f"{box_key!r}{'' if box_key is not None else ' - the file is empty'}; sample keys e.g. "
                    f"{plan.example_key!r})")


def make_plan(opts: Options, base: str, npz: bool, policy: str, boxes) -> Plan:
    """Pass 1: every (sample, split) row with its skip reason, and each split's planned rows in order."""
    plan = Plan()

    def on_error(file, reason, exc):
        if reason in NOTE_REASONS:
            plan.notes.append(str(exc))
        else:
            plan.rows.append(Row(file=_rel(file, base), split="", reason=reason, error=first_line(exc)))

    for sample in _samples(opts, base, npz, boxes, on_error):
        plan.listed += 1
        plan.box_matches += sample.box is not None
        plan.example_key = plan.example_key or _rel(sample.image_path, base)
        ypr = tuple(float(v) for v in sample.ypr)
        for split, filtered in _out_splits(sample):
            row = Row(file=_rel(sample.image_path, base), split=split, source_id=sample.source_id, ypr=ypr)
            spec = None
            if policy != "none":
                try:
                    spec = _crop(sample, policy, split)
                    row.box = spec.box()
                except ValueError as exc:
                    from_box = policy == "boxes" or datasets.get(sample.dataset).crop_from_box
                    row.reason = "no_box" if sample.box is None and from_box else "no_landmarks"
                    row.error = f"{row.file}: {first_line(exc)}"
            if not row.reason and filtered and opts.max_angle > 0 and not angles.within_limit(ypr, opts.max_angle):
                row.reason = "out_of_range"
            row.key = _row_key(sample.source_id, split, ypr, spec)
            plan.rows.append(row)
            if row.kept:
                plan.planned.setdefault(split, []).append(row)
    return plan


# ----------------------------------------------------------------------------------------- shards

class EmptyCrop(DataError):
    """The policy's crop box does not overlap the image."""


def encode_sample(sample: RawSample, split: str, policy: str, quality: int):
    """(serialized record, k_min crop box): loads the image, stores the policy's outer region."""
    image = sample.load_image()
    h, w = image.shape[:2]
    spec = _crop(sample, policy, split, image_size=(w, h))
    region = clip_box(spec.outer_box(), w, h)
    if region is None:
        raise EmptyCrop(f"{sample.image_path}: crop box {spec.box()} lies outside the {w}x{h} image")
    x0, y0, x1, y1 = region
    record = records.encode_example(
        image_jpeg=encode_jpeg(image[y0:y1, x0:x1], quality), origin=(x0, y0), source_size=(w, h),
        ypr=sample.ypr, has_roll=sample.has_roll, crop=spec, source_id=sample.source_id,
        dataset=sample.dataset, split=split, subject=sample.subject, landmarks=sample.landmarks68,
        visible=sample.visibility68)
    return record, spec.box()


def _sidecar_path(out_dir: str, name: str) -> str:
    return os.path.join(out_dir, name + ".ids.json")


def _plan_digest(rows: List[Row]) -> str:
    return hashlib.sha256(b"".join(r.key for r in rows)).hexdigest()


def _read_sidecar(out_dir: str, name: str, rows: List[Row]) -> Optional[dict]:
    """The sidecar of a complete shard matching the plan, else None (the shard is (re)written)."""
    path = _sidecar_path(out_dir, name)
    if not (os.path.isfile(path) and os.path.isfile(os.path.join(out_dir, name))):
        return None
    try:
        with open(path, "r", encoding="utf-8") as fh:
            side = json.load(fh)
    except (OSError, ValueError):
        return None
    if side.get("ids") != [r.source_id for r in rows] or side.get("plan_digest") != _plan_digest(rows):
        return None
    if side.get("prepare_version", 1) != PREPARE_VERSION:  # written by an older converter: its records differ
        return None
    if "bytes" in side and os.path.getsize(os.path.join(out_dir, name)) != side["bytes"]:
        return None  # truncated (or replaced) since it was finished: written again
    return side


class _ShardWriter:
    """Writes one shard to ``<name>.tmp`` then renames it and its sidecar into place."""

    def __init__(self, out_dir: str, name: str, rows: List[Row]):
        import tensorflow as tf

        self.out_dir, self.name, self.rows = out_dir, name, rows
        self.path = os.path.join(out_dir, name)
        self.writer = tf.io.TFRecordWriter(self.path + ".tmp")
        self.results: List[dict] = []

    def add(self, sample: RawSample, split: str, policy: str, quality: int) -> None:
        entry = {"id": sample.source_id, "kept": True, "reason": "", "error": "", "box": None}
        try:
            record, box = encode_sample(sample, split, policy, quality)
            self.writer.write(record)
            entry["box"] = list(box)
        except DataError as exc:
            reason = "empty_crop" if isinstance(exc, EmptyCrop) else "corrupt_image"
            entry.update(kept=False, reason=reason, error=first_line(exc))
        self.results.append(entry)

    def abort(self) -> None:
        """Drops the unfinished shard (no partial file is left)."""
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001  (out of space while flushing: the file goes anyway)
            pass
        for p in (self.path + ".tmp", _sidecar_path(self.out_dir, self.name) + ".tmp"):
            if os.path.exists(p):
                os.remove(p)

    def close(self) -> dict:
        self.writer.close()
        side = {"shard": self.name, "prepare_version": PREPARE_VERSION, "plan_digest": _plan_digest(self.rows),
                "ids": [r.source_id for r in self.rows], "records": self.results,
                "kept": sum(1 for e in self.results if e["kept"]),
                "bytes": os.path.getsize(self.path + ".tmp")}  # checked on resume and on read (truncation)
        side_path = _sidecar_path(self.out_dir, self.name)
        _write_text(side_path + ".tmp", json.dumps(side, sort_keys=True, indent=0) + "\n")
        os.replace(self.path + ".tmp", self.path)
        os.replace(side_path + ".tmp", side_path)
        return side


class _Progress:
    def __init__(self, opts: Options, total: int):
        self.opts, self.total, self.done, self.t0 = opts, total, 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.done % max(1, self.opts.progress_every) == 0 or self.done == self.total:
            dt = max(time.monotonic() - self.t0, 1e-9)
            rate = self.done / dt
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.opts.log(f"{self.opts.dataset}: {self.done}/{self.total} samples converted "
                          f"({rate:.1f}/s, ETA {eta:.0f}s)")


def write_shards(opts: Options, out_dir: str, base: str, npz: bool, policy: str, boxes, plan: Plan):
    """Pass 2: writes the missing shards; returns ({(split, j): (name, rows)}, {name: sidecar}) of all shards."""
    layout, sidecars, todo = {}, {}, {}
    for split, rows in sorted(plan.planned.items()):
        total = math.ceil(len(rows) / opts.shard_size)
        for j in range(total):
            name = records.shard_name(split, j, total)
            chunk = rows[j * opts.shard_size:(j + 1) * opts.shard_size]
            layout[(split, j)] = (name, chunk)
            side = _read_sidecar(out_dir, name, chunk)
            if side is None:
                todo[(split, j)] = None
            else:
                sidecars[name] = side
    _remove_stale(out_dir, {name for name, _ in layout.values()})
    n_todo = sum(len(layout[k][1]) for k in todo)
    opts.log(f"{opts.dataset}: {len(layout)} shards planned, {len(todo)} to write ({n_todo} samples)")
    if not todo:
        return layout, sidecars
    import tensorflow  # noqa: F401  (imported before the clock starts)

    progress = _Progress(opts, n_todo)
    pos = {split: 0 for split in plan.planned}
    open_writers: Dict[str, _ShardWriter] = {}
    remaining = set(todo)
    try:
        _write_todo(opts, base, npz, boxes, plan, policy, layout, sidecars, remaining, open_writers, pos, progress,
                    out_dir)
    except Exception as exc:
        for writer in open_writers.values():
            writer.abort()
        if is_out_of_space(exc):
            current = next(iter(open_writers.values())).path if open_writers else out_dir
            raise disk_full(current) from None
        raise
    if remaining:
        raise DataError(f"{opts.root}: the source listing changed during conversion "
                        f"({len(remaining)} shards incomplete); re-run data_prep.prepare")
    return layout, sidecars


def _write_todo(opts, base, npz, boxes, plan, policy, layout, sidecars, remaining, open_writers, pos, progress,
                out_dir) -> None:
    """The writing loop of :func:`write_shards` (one pass over the sources, shards still to write)."""
    for sample in _samples(opts, base, npz, boxes, on_error=lambda *a: None):
        for split, _ in _out_splits(sample):
            rows = plan.planned.get(split, [])
            i = pos.get(split, 0)
            if i >= len(rows) or rows[i].source_id != sample.source_id:
                continue                     # skipped at plan time in this split
            pos[split] = i + 1
            j = i // opts.shard_size
            if (split, j) not in remaining:
                continue
            name, chunk = layout[(split, j)]
            writer = open_writers.get(split)
            if writer is None:
                writer = open_writers[split] = _ShardWriter(out_dir, name, chunk)
            writer.add(sample, split, policy, opts.jpeg_quality)
            progress.step()
            if len(writer.results) == len(chunk):
                sidecars[name] = writer.close()
                del open_writers[split]
                remaining.discard((split, j))
        if not remaining:
            break


def _remove_stale(out_dir: str, keep: set) -> None:
    """Deletes temp files and shards/sidecars that are not part of the current plan."""
    for fname in os.listdir(out_dir):
        shard = fname[:-len(".ids.json")] if fname.endswith(".ids.json") else fname
        if fname.endswith(".tmp") or (_SHARD.match(fname) and shard not in keep):
            os.remove(os.path.join(out_dir, fname))


# ----------------------------------------------------------------------------------------- reports

def _rel(path: str, base: str) -> str:
    try:
        return os.path.relpath(path, base).replace(os.sep, "/")
    except ValueError:
        return path


def first_line(exc: Exception) -> str:
    """The first line of an error message (the type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        if os.path.exists(path):
            os.remove(path)
        if is_out_of_space(exc):
            raise disk_full(path, len(text.encode())) from None
        raise


def _write_if_changed(path: str, text: str) -> None:
    """Atomic write, skipped when the content is unchanged (re-runs leave mtimes alone)."""
    if os.path.isfile(path):
        with open(path, "r", encoding="utf-8", newline="") as fh:
            if fh.read() == text:
                return
    _write_text(path + ".tmp", text)
    os.replace(path + ".tmp", path)


def _apply_sidecars(plan: Plan, layout, sidecars) -> None:
    """Fills the planned rows with the write outcome (kept / corrupt_image, crop box)."""
    for (split, j), (name, chunk) in layout.items():
        for row, entry in zip(chunk, sidecars[name]["records"]):
            if entry["box"] is not None:
                row.box = tuple(entry["box"])
            if not entry["kept"]:
                row.reason, row.error = entry["reason"], entry["error"]


def manifest_text(rows: List[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    for r in rows:
        ypr = ["" if r.ypr is None else f"{v:.6f}" for v in (r.ypr or (None,) * 3)]
        box = [""] * 4 if r.box is None else [str(int(v)) for v in r.box]
        w.writerow([r.file, r.split, *ypr, *box, int(r.kept), r.reason])
    return buf.getvalue()


def summary_dict(opts: Options, policy: str, boxes, plan: Plan, layout) -> dict:
    splits: Dict[str, dict] = {}
    skipped: Dict[str, int] = {}
    errors: Dict[str, str] = {}
    seen = set()
    for r in plan.rows:
        s = splits.setdefault(r.split or "(unlisted)", {"kept": 0, "skipped": {}, "shards": []})
        if r.kept:
            s["kept"] += 1
            if datasets.get(opts.dataset).subset_counts:  # per subset folder: the pipeline's --w300lp_subsets count
                subset = r.source_id.split("/", 1)[0]
                counts = s.setdefault("subsets", {})
                counts[subset] = counts.get(subset, 0) + 1
        else:
            s["skipped"][r.reason] = s["skipped"].get(r.reason, 0) + 1
            if (r.file, r.reason) not in seen:  # a file skipped in two splits (AFLW2000 test, test_full) counts once
                seen.add((r.file, r.reason))
                skipped[r.reason] = skipped.get(r.reason, 0) + 1
            if r.reason in CORRUPT_REASONS:
                errors[r.file] = r.error
    for (split, _), (name, _) in sorted(layout.items()):
        splits[split]["shards"].append(name)
    return {
        "dataset": opts.dataset, "root": os.path.abspath(opts.root), "crop_policy": policy,
        "boxes": None if boxes is None else {"file": os.path.basename(boxes.path.rstrip("/")),
                                             "format": boxes.format, "entries": len(boxes),
                                             "sha256": boxes.digest()},
        "format_version": records.FORMAT_VERSION, "prepare_version": PREPARE_VERSION,
        "shard_size": opts.shard_size, "jpeg_quality": opts.jpeg_quality, "limit": opts.limit,
        "max_angle": opts.max_angle, "listed": plan.listed,
        "kept": sum(s["kept"] for s in splits.values()), "skipped": dict(sorted(skipped.items())),
        "splits": dict(sorted(splits.items())), "corrupt_files": sorted(errors), "errors": errors,
        "notes": plan.notes,
    }


# ----------------------------------------------------------------------------------------- driver

def _config(opts: Options, policy: str, boxes) -> dict:
    return {"dataset": opts.dataset, "crop_policy": policy, "boxes_sha256": None if boxes is None else boxes.digest(),
            "shard_size": opts.shard_size, "jpeg_quality": opts.jpeg_quality, "limit": opts.limit,
            "max_angle": opts.max_angle, "format_version": records.FORMAT_VERSION,
            "prepare_version": PREPARE_VERSION}


def _claim_output(opts: Options, out_dir: str, config: dict) -> None:
    """Refuses to mix configurations in one output folder unless --overwrite (which clears our files)."""
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = os.path.join(out_dir, CONFIG_FILE)
    ours = [f for f in os.listdir(out_dir) if _SHARD.match(f) or f.endswith(".tmp")
            or f in ("manifest.csv", "summary.json", CONFIG_FILE)]
    old = None
    if os.path.isfile(cfg_path):
        try:
            with open(cfg_path, "r", encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, ValueError):
            old = {}
    if ours and old != config:
        if not opts.overwrite:
            diff = sorted(k for k in config if (old or {}).get(k) != config[k]) if old else ["unknown"]
            raise DataError(f"{out_dir} holds shards of a different configuration ({', '.join(diff)} differ); "
                            f"pass --overwrite or choose another --out")
        for f in ours:
            os.remove(os.path.join(out_dir, f))
    _write_if_changed(cfg_path, json.dumps(config, sort_keys=True, indent=1) + "\n")


def _validate(opts: Options) -> None:
    get_reader(opts.dataset)
    if not opts.root:
        raise DataError("--root: required (the folder holding the raw dataset)")
    if not opts.out:
        raise DataError("--out: required (the folder that receives <out>/<dataset>/)")
    if opts.shard_size < 1:
        raise DataError(f"--shard_size={opts.shard_size}: expected a positive number of records")
    if not 1 <= opts.jpeg_quality <= 100:
        raise DataError(f"--jpeg_quality={opts.jpeg_quality}: expected 1..100")
    if opts.limit < 0 or opts.max_angle < 0:
        raise DataError("--limit and --max_angle: expected non-negative values")


def run(opts: Options) -> dict:
    """Converts one dataset; returns the summary (``{"status": "missing"}`` with --skip_missing)."""
    _validate(opts)
    npz = _is_npz(opts)
    found = os.path.dirname(os.path.abspath(opts.root)) if npz else get_reader(opts.dataset).find_root(opts.root)
    if found is None:
        msg = f"{opts.dataset}: not found under {opts.root}"
        if opts.skip_missing:
            opts.log(f"{msg}; skipped (--skip_missing)")
            return {"dataset": opts.dataset, "status": "missing"}
        raise DataError(f"--root={opts.root}: no {opts.dataset} dataset found in its published layout")
    base = str(found)
    policy = _policy(opts, npz)
    boxes = _boxes(opts, base, npz)
    if policy == "boxes" and boxes is None:
        raise DataError("--crop_policy=boxes needs --boxes=FILE (KD-OE JSON, CSV or Dockerface folder)")
    out_dir = os.path.join(opts.out, opts.name or opts.dataset)
    plan = make_plan(opts, base, npz, policy, boxes)  # before the output folder is touched
    _check_boxes_matched(opts, boxes, plan)
    _claim_output(opts, out_dir, _config(opts, policy, boxes))

    counts = ", ".join(f"{s}: {len(r)}" for s, r in sorted(plan.planned.items())) or "nothing to write"
    opts.log(f"{opts.dataset}: {plan.listed} samples listed under {base} ({counts})")
    layout, sidecars = write_shards(opts, out_dir, base, npz, policy, boxes, plan)
    _apply_sidecars(plan, layout, sidecars)
    summary = summary_dict(opts, policy, boxes, plan, layout)
    _write_if_changed(os.path.join(out_dir, "manifest.csv"), manifest_text(plan.rows))
    _write_if_changed(os.path.join(out_dir, "summary.json"), json.dumps(summary, indent=1) + "\n")
    kept = ", ".join(f"{k} {v['kept']}" for k, v in summary["splits"].items() if k != "(unlisted)")
    skipped = ", ".join(f"{k} {v}" for k, v in summary["skipped"].items()) or "none"
    opts.log(f"{opts.dataset}: kept {summary['kept']} records ({kept}); skipped files: {skipped} -> "
             f"{os.path.join(out_dir, 'summary.json')}")
    return summary


def prepare_dataset(dataset: str, root: str, out: str, *, progress: bool = True, **options) -> dict:
    """Library entry point (smoke data, tests): :func:`run` with keyword options, quiet unless ``progress``."""
    log = (lambda m: print(m, flush=True)) if progress else (lambda m: None)
    return run(Options(dataset=dataset, root=str(root), out=str(out), log=log, **options))
