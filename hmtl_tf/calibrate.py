"""``python -m hmtl_tf.calibrate --detector=mtcnn --dataset=PATH [--run=DIR | --out=FILE]``: fits a detector's
box-to-crop mapping (hmtl_tf.detect.calibration, issue 16) on a dataset with reference crops.

    python -m hmtl_tf.calibrate --detector=mtcnn --dataset=../shared/realdata/AFLW2000 --run=runs/hmtl_p3
    python -m hmtl_tf.calibrate --detector=mtcnn --dataset=data/shards/aflw2000 --out=mtcnn_visible.json

``--dataset``: a shard directory (its recorded crop policy) or a raw AFLW2000 / 300W_LP folder (``--policy``,
default the run's, else ``visible``). Writes ``<run>/calibration_<detector>.json`` (predict and evaluate use it
for that run) or ``--out``; an existing file is kept unless ``--overwrite``. Prints the IoU of the raw and the
mapped box with the reference crop (in-sample and leave-one-out) and the faces the detector missed.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional, Tuple

from hmtl_tf import config as C
from hmtl_tf.detect import detect_many, make_detector
from hmtl_tf.detect.calibration import BoxMapping, fit_mapping, match, run_calibration_path


def collect(detector, samples, batch: int = 16) -> Tuple[list, list, List[str], List[str]]:
    """(matched detector boxes, their reference crops, matched ids, missed ids)."""
    det, ref, ids, missed, chunk = [], [], [], [], []

    def flush():
        for s, boxes in zip(chunk, detect_many(detector, [c.image for c in chunk], [c.source_id for c in chunk])):
            m = match(boxes, s.ref_box)
            if m is None:
                missed.append(s.source_id)
            else:
                det.append(m[:4])
                ref.append(s.ref_box)
                ids.append(s.source_id)
        chunk.clear()

    for s in samples:
        chunk.append(s)
        if len(chunk) >= batch:
            flush()
    flush()
    return det, ref, ids, missed


def calibrate(detector: str, dataset: str, policy: str = "visible", limit: int = 0) -> Tuple[BoxMapping, List[str]]:
    """Fits ``detector``'s mapping on ``dataset``; returns (mapping, ids of missed faces)."""
    from hmtl_tf.reference_crops import is_shard_dir, reference_samples

    det_obj, _ = make_detector(detector)
    samples = list(reference_samples(dataset, policy, limit=limit))
    if not samples:
        raise FileNotFoundError(f"--dataset={dataset}: no samples with reference crops")
    if is_shard_dir(dataset):
        policy = _shard_policy(dataset)
    det, ref, ids, missed = collect(det_obj, samples)
    if len(det) < 2:
        raise ValueError(f"--detector={detector}: found {len(det)} of {len(samples)} faces in {dataset}; "
                         "need at least 2 to fit a calibration")
    where = f"{os.path.normpath(dataset)} ({len(samples)} images, {policy} test crops)"
    return fit_mapping(detector, policy, det, ref, where, missed=len(missed)), missed


def _shard_policy(path: str) -> str:
    import json

    try:
        with open(os.path.join(path, "summary.json")) as f:
            return str(json.load(f).get("crop_policy", "hopenet"))
    except (OSError, ValueError):
        return "hopenet"


def describe(m: BoxMapping) -> str:
    s = m.stats
    return (f"{m.detector} -> {m.policy} crop: centre offset ({m.offset[0]:+.3f}, {m.offset[1]:+.3f}) x box, "
            f"scale ({m.scale[0]:.3f}, {m.scale[1]:.3f}); IoU with the reference crop: raw box "
            f"{s['iou_raw']['mean']:.3f}, calibrated {s['iou_fitted']['mean']:.3f}, leave-one-out "
            f"{s.get('iou_leave_one_out', {}).get('mean', float('nan')):.3f} (min "
            f"{s.get('iou_leave_one_out', {}).get('min', float('nan')):.3f}); {s['faces_matched']} faces matched, "
            f"{s['faces_missed']} missed")


def main(argv) -> int:
    from absl import flags

    F = flags.FLAGS
    if len(argv) > 1:
        raise C.ConfigError(f"unexpected arguments {argv[1:]}; flags are --name=value")
    if not F.dataset:
        raise C.ConfigError("--dataset: a shard directory or an AFLW2000 / 300W_LP folder is required")
    if bool(F.run) == bool(F.out):
        raise C.ConfigError("give exactly one of --run=DIR (writes DIR/calibration_<detector>.json) or --out=FILE")
    policy = F.policy
    if F.run:
        if not os.path.isfile(os.path.join(F.run, "config.json")):
            raise FileNotFoundError(f"--run={F.run}: not a run directory (expected config.json)")
        if not policy:
            with open(os.path.join(F.run, "config.json")) as f:
                policy = C.TrainConfig.from_json(f.read()).data.crop_policy
    policy = policy or "visible"
    if policy not in ("hopenet", "visible"):
        raise C.ConfigError(f"--policy={policy}: a calibration targets the hopenet or visible crop "
                            "(boxes / none use the box as is)")
    out = F.out or run_calibration_path(F.run, F.detector)
    if os.path.isdir(out):
        raise C.ConfigError(f"--out={out}: is a folder; expected a .json file path")
    if os.path.exists(out) and not F.overwrite:
        raise C.ConfigError(f"{out} exists; pass --overwrite to replace it")
    try:
        mapping, missed = calibrate(F.detector, F.dataset, policy, F.limit)
    except ValueError as exc:
        raise C.ConfigError(str(exc)) from None
    mapping.save(out)
    print(describe(mapping))
    if missed:
        print(f"missed faces: {', '.join(missed)}")
    print(f"wrote {out}")
    return 0


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("detector", "mtcnn", "a registered detector (hmtl_tf.detect): mtcnn | haar | ...")
    flags.DEFINE_string("dataset", "", "a shard directory or a raw AFLW2000 / 300W_LP folder with landmarks")
    flags.DEFINE_string("policy", "", "target crop: visible | hopenet (default: the run's, else visible)")
    flags.DEFINE_string("run", "", "write <run>/calibration_<detector>.json")
    flags.DEFINE_string("out", "", "write the calibration JSON here instead")
    flags.DEFINE_integer("limit", 0, "use at most this many images (0 = all)")
    flags.DEFINE_boolean("overwrite", False, "replace an existing calibration file")


if __name__ == "__main__":
    from hmtl_tf.cli import run_main

    define_flags()
    run_main(lambda argv: sys.exit(main(argv)))
