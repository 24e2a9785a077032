"""``evaluate --crops=reference|detector[:NAME]``: a run's MAE on the same test images cropped the reference way
and by a face detector, calibrated and raw (issue 16, detector sensitivity; docs/DETECTION.md).

    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000 --crops=detector          # mtcnn
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000 --crops=detector:haar --calibration=none

Every crop is cut from the full original image (the shards keep only the face region; ``summary.json`` names the
raw folder, :func:`hmtl_tf.reference_crops.from_originals`) and sampled like the test pipeline
(:func:`hmtl_tf.api.sample_box`):

- ``reference``: the record's test crop (the dataset's crop policy; what ``evaluate`` measures from the shards);
- ``<detector> calibrated``: the detected box mapped by the detector's calibration (``--calibration``, as in
  predict: the run's ``calibration_<detector>.json``, else the shipped default);
- ``<detector> raw``: the detected box with the run's crop-policy margins (what predict does without a
  calibration).

A face is *found* when a detection overlaps its reference crop with IoU >= 0.1 (the best-overlapping detection is
used, as when fitting a calibration); otherwise it is *missed*: a stated failure, counted and listed, never dropped
in silence. Detector MAEs are over the found faces, beside the reference MAE over the same faces and the miss
count / rate. MAE as HopeNet's test script (``hmtl_tf.metrics``). The result goes to
``<run>/crops_<dataset>_<detector>.json`` (atomically) and a Markdown table is printed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hmtl_tf import config as C

MIN_IOU = 0.1


def parse_crops(text: str) -> Optional[str]:
    """``reference`` -> None; ``detector`` -> the default detector; ``detector:NAME`` -> NAME (registered)."""
    from hmtl_tf.detect import DEFAULT_DETECTOR, detector_names

    kind, _, name = (text or "").partition(":")
    if kind == "reference" and not name:
        return None
    if kind != "detector":
        raise C.ConfigError(f"--crops={text!r}: expected reference, detector or detector:NAME")
    name = name or DEFAULT_DETECTOR
    if name not in detector_names():
        raise C.ConfigError(f"--crops={text}: unknown detector {name!r}; expected one of {', '.join(detector_names())}")
    return name


def mae_row(pred: np.ndarray, true: np.ndarray, angles: Sequence[str]) -> Dict[str, Optional[float]]:
    """Per-angle MAE and their mean (``hmtl_tf.metrics``); None for an empty set."""
    from hmtl_tf.metrics import mae_per_angle, mean_mae

    out: Dict[str, Optional[float]] = {a: None for a in C.ANGLES3 + ("mean",)}
    if len(pred):
        per = mae_per_angle({a: true[:, i] for i, a in enumerate(angles)},
                            {a: pred[:, i] for i, a in enumerate(angles)}, angles)
        out.update({a: float(v) for a, v in per.items()})
        out["mean"] = float(mean_mae(per))
    return out


class _Collect:
    """Predictions, labels and crop IoUs per crop kind over the chunks."""

    def __init__(self):
        self.pred: Dict[str, list] = {}
        self.iou: Dict[str, list] = {}

    def add(self, kind: str, pred: Optional[np.ndarray], iou: Sequence[float] = ()) -> None:
        if pred is not None:
            self.pred.setdefault(kind, []).append(pred)
        self.iou.setdefault(kind, []).extend(float(v) for v in iou)

    def stacked(self, kind: str, width: int) -> np.ndarray:
        parts = self.pred.get(kind) or [np.zeros((0, width))]
        return np.concatenate(parts)


def _chunks(samples, size: int):
    chunk = []
    for s in samples:
        chunk.append(s)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def measure(est, samples, angles: Sequence[str], detector=None, batch: int = 16) -> dict:
    """Runs the crops over ``samples`` (RefSample, full images) -> predictions, labels, found flags, IoUs."""
    from hmtl_tf.api import crop_box, sample_box
    from hmtl_tf.detect import detect_many
    from hmtl_tf.detect.calibration import iou, match

    idx = [list(est.angles).index(a) for a in angles]
    col, trues, found, ids = _Collect(), [], [], []
    for chunk in _chunks(samples, batch):
        imgs = [s.image for s in chunk]
        ref = np.stack([sample_box(s.image, s.ref_box, est.image_size) for s in chunk])
        col.add("reference", est.predict_crops(ref)[:, idx], [1.0] * len(chunk))
        trues.append(np.stack([s.ypr[[C.ANGLES3.index(a) for a in angles]] for s in chunk]))
        ids += [s.source_id for s in chunk]
        if detector is None:
            continue
        boxes = detect_many(detector, imgs, [s.image_path or s.source_id for s in chunk])
        hits = [match(b, s.ref_box, MIN_IOU) for b, s in zip(boxes, chunk)]
        found += [h is not None for h in hits]
        keep = [(s, h) for s, h in zip(chunk, hits) if h is not None]
        if not keep:
            continue
        k_imgs, k_boxes = [s.image for s, _ in keep], [h for _, h in keep]
        raw_boxes = [crop_box(h, est.crop_policy, (s.image.shape[1], s.image.shape[0])) for s, h in keep]
        col.add("raw", est.predict(k_imgs, k_boxes)[:, idx], [iou(b, s.ref_box) for b, (s, _) in zip(raw_boxes, keep)])
        col.add("box", None, [iou(h, s.ref_box) for s, h in keep])          # the detector's own box
        if est.mapping is not None:
            cal = [est.mapping.apply(h) for h in k_boxes]
            col.add("calibrated", est.predict(k_imgs, k_boxes, calibrated=True)[:, idx],
                    [iou(b, s.ref_box) for b, (s, _) in zip(cal, keep)])
    if not ids:
        raise FileNotFoundError("the evaluation set is empty")
    return {"col": col, "true": np.concatenate(trues), "found": np.asarray(found, bool), "ids": ids}


def summarise(m: dict, angles: Sequence[str], detector: Optional[str], est) -> Tuple[List[dict], dict]:
    """(table rows, counts). Rows: reference (all), and with a detector: reference over the found faces, the
    calibrated and the raw detector crops (over the found faces)."""
    col, true, found = m["col"], m["true"], m["found"]
    width = len(angles)
    ref = col.stacked("reference", width)
    n = len(true)
    rows = [{"crop": "reference", "faces": n, **mae_row(ref, true, angles), "iou": 1.0}]
    counts = {"images": n}
    if detector is None:
        return rows, counts
    missed = [i for i, f in zip(m["ids"], found) if not f]
    counts.update(found=int(found.sum()), missed=len(missed), miss_rate=round(len(missed) / n, 4),
                  missed_ids=missed)

    def mean_iou(kind):
        v = col.iou.get(kind) or []
        return round(float(np.mean(v)), 4) if v else None
    if missed:
        rows.append({"crop": "reference, faces the detector found", "faces": int(found.sum()),
                     **mae_row(ref[found], true[found], angles), "iou": 1.0})
    counts["detector_box_iou"] = mean_iou("box")
    for kind in ("calibrated", "raw"):
        label = f"{detector} {kind}"
        if kind == "calibrated" and est.mapping is None:
            rows.append({"crop": label, "faces": 0, **mae_row(np.zeros((0, width)), true[:0], angles),
                         "iou": None, "note": est.calibration_source})
            continue
        rows.append({"crop": label, "faces": int(found.sum()), "missed": len(missed),
                     **mae_row(col.stacked(kind, width), true[found], angles), "iou": mean_iou(kind)})
    return rows, counts


def markdown_table(rows: List[dict], counts: dict) -> str:
    """The rows as a Markdown table (degrees; IoU of the crop with the reference crop)."""
    def num(v, fmt="{:.2f}"):
        return "–" if v is None else fmt.format(v)
    n = counts["images"]
    lines = ["| crop | faces | missed | yaw | pitch | roll | mean | IoU with reference |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        miss = f"{r['missed']} ({100 * r['missed'] / n:.1f}%)" if "missed" in r else "–"
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(f"| {r['crop']}{note} | {r['faces']} | {miss} | {num(r['yaw'])} | {num(r['pitch'])} | "
                     f"{num(r['roll'])} | {num(r['mean'])} | {num(r['iou'], '{:.3f}')} |")
    return "\n".join(lines)


def evaluate_crops(run_dir: str, dataset: str, crops: str = "detector", *, calibration: str = "auto",
                   data_root: Optional[str] = None, limit: int = 0, batch: int = 16, log=print) -> dict:
    """The command as a function (module docstring); returns the recorded result."""
    from hmtl_tf.api import HeadPoseEstimator, find_config
    from hmtl_tf.data.locate import angles_on, resolve
    from hmtl_tf.detect import DetectorUnavailable, make_detector
    from hmtl_tf.reference_crops import from_originals, originals_index
    from hmtl_tf.rundir import dataset_key, read_json, write_atomic

    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise FileNotFoundError(f"--run={run_dir}: not a run directory (expected config.json)")
    name = parse_crops(crops)                                           # before anything slow
    saved = read_json(os.path.join(run_dir, "config.json"), {}) or {}
    root = data_root or (saved.get("data") or {}).get("data_root") or C.DataConfig.data_root
    shard_dir, split = resolve(dataset, root, training=False, flag="--dataset")
    originals_index(shard_dir)                                          # one-line error when the originals are gone
    try:                                                                # one-line errors for the CLI
        det, desc = make_detector(name) if name else (None, "")
        est = HeadPoseEstimator.load(run_dir, detector=name or "none", calibration=calibration if name else "none")
    except (DetectorUnavailable, ValueError) as exc:                    # ... and a bad --calibration file
        raise C.ConfigError(str(exc)) from None
    angles = angles_on(find_config(run_dir), shard_dir)
    m = measure(est, from_originals(shard_dir, split, limit), angles, det, batch)
    rows, counts = summarise(m, angles, name, est)
    summary = read_json(os.path.join(shard_dir, "summary.json"), {}) or {}
    key = dataset_key(dataset)
    result = {
        "run": run_dir, "dataset": key, "shard_dir": shard_dir, "split": split, "originals": summary.get("root"),
        "reference_crop_policy": summary.get("crop_policy"), "run_crop_policy": est.crop_policy,
        "angles": list(angles), "crops": crops, "detector": name, "detector_description": desc,
        "calibration": {"source": est.calibration_source,
                        "mapping": None if est.mapping is None else asdict(est.mapping)} if name else None,
        "found_rule": f"a detection overlapping the reference crop with IoU >= {MIN_IOU} (the best one is used)",
        **counts, "rows": rows, "limit": limit,
    }
    out = os.path.join(run_dir, f"crops_{key}_{name or 'reference'}.json")
    write_atomic(out, json.dumps(result, indent=1) + "\n")
    log(f"{key} ({counts['images']} images, {split}; reference crop policy {result['reference_crop_policy']}, "
        f"run's crop policy {est.crop_policy}" + (f"; detector {desc}, calibration {est.calibration_source}"
                                                  if name else "") + "), MAE in degrees:")
    log(markdown_table(rows, counts))
    if name and counts["missed"]:
        shown = ", ".join(counts["missed_ids"][:10]) + (" ..." if counts["missed"] > 10 else "")
        log(f"missed faces ({counts['missed']} of {counts['images']}, {100 * counts['miss_rate']:.1f}%): {shown}")
    log(f"wrote {out}")
    return result
