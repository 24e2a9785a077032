"""``python -m hmtl_tf.evaluate --run=DIR --dataset=NAME``: MAE per angle and their mean (Sec. 4, SPEC 8).

    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000        # reduced 1,969 set
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000_full   # all 2,000 (Table 2 "*")
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=biwi --per_image_csv
    python -m hmtl_tf.evaluate --run=runs/kdoe --dataset=aflw2000 --ensemble=15,5   # KD-OE offset ensemble
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000 --crops=detector   # detector sensitivity

``--crops=reference|detector[:NAME]`` (hmtl_tf.crop_eval, issue 16) evaluates on the full original images cropped
the reference way and by a face detector (calibrated and raw), with the faces the detector missed; it writes
``<run>/crops_<dataset>_<detector>.json`` and prints a Markdown table instead of touching metrics.json.

MAE as HopeNet's test script: mean |prediction - label| per angle, no angle wrapping; "Average" = mean of the
per-angle MAEs. The result is printed and added to the run's metrics.json under the dataset name, with the
selection rule that produced the run's weights (``selection``: ``final`` epoch by default, ``best_heldout``, or the
labelled ``best_on_test``; ``selected_epoch``), read from the run's ``_run`` record (SPEC 8).
"""
from __future__ import annotations

import csv
import os
import sys
from typing import Dict, Optional

import numpy as np

from hmtl_tf import config as C
from hmtl_tf.data.locate import angles_on
from hmtl_tf.rundir import dataset_key, load_run, read_json, record_metrics, selection_label, selection_of


def mae_table(pred: np.ndarray, true: np.ndarray, angles) -> Dict[str, Optional[float]]:
    """Per-angle MAE (degrees) and their mean, with ``hmtl_tf.metrics``. ``pred``/``true``: (N, len(angles))."""
    from hmtl_tf.metrics import mae_per_angle, mean_mae

    per = mae_per_angle({a: true[:, i] for i, a in enumerate(angles)},
                        {a: pred[:, i] for i, a in enumerate(angles)}, angles)
    out: Dict[str, Optional[float]] = {a: None for a in C.ANGLES3}
    out.update({a: float(v) for a, v in per.items()})
    out["mean"] = float(mean_mae(per))
    out["n"] = int(pred.shape[0])
    return out


def predict_dataset(inference, ds, angles):
    """Runs the inference model over a (images, targets) dataset -> (pred (N, A), true (N, A), ids)."""
    from hmtl_tf.progress import Progress

    preds, trues, ids = [], [], []
    bar = Progress("evaluating", None, "batches", always_final=False)
    for images, targets in ds:
        bar.update(1)
        out = inference(images, training=False)
        preds.append(np.stack([np.asarray(out[a]).reshape(-1) for a in angles], axis=1))
        trues.append(np.stack([np.asarray(targets[a]).reshape(-1) for a in angles], axis=1))
        if "source_id" in targets:
            ids += [s.decode() if isinstance(s, bytes) else str(s) for s in np.asarray(targets["source_id"])]
    bar.close()
    if not preds:
        raise FileNotFoundError("the evaluation set is empty")
    return np.concatenate(preds), np.concatenate(trues), ids


def evaluate_model(inference, cfg: C.TrainConfig, shard_dir: str, split: str,
                   per_image_csv: Optional[str] = None, batch_size: int = 64,
                   part: Optional[str] = None) -> Dict[str, object]:
    """MAE of ``inference`` on one split of a shard directory (the test pipeline: no augmentation/puzzle);
    ``part="heldout"``: only the held-out part of the training records (``cfg.data.val_split``)."""
    from hmtl_tf.data import pipeline

    angles = tuple(cfg.model.angles)
    ds = pipeline.make_dataset(shard_dir, cfg, training=False, split=split, with_ids=True, batch_size=batch_size,
                               part=part)
    pred, true, ids = predict_dataset(inference, ds, angles)
    result = mae_table(pred, true, angles)
    result["variant"] = f"{os.path.basename(os.path.normpath(shard_dir))}/{split}" + (
        f" {part} part ({cfg.data.val_split:.0%} of the sources held out)" if part == "heldout" else "")
    if per_image_csv:
        write_per_image_csv(per_image_csv, ids, pred, true, angles)
    return result


def write_per_image_csv(path: str, ids, pred, true, angles) -> None:
    import io

    from hmtl_tf.rundir import write_atomic

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["source_id"] + [f"pred_{a}" for a in angles] + [f"true_{a}" for a in angles])
    for i in range(pred.shape[0]):
        w.writerow([ids[i] if i < len(ids) else i] + [f"{v:.4f}" for v in pred[i]] + [f"{v:.4f}" for v in true[i]])
    write_atomic(path, buf.getvalue())


def parse_ensemble(text: str):
    """``--ensemble=K,d`` -> (K, d), two positive integers (KD-OE Eq. 5-6)."""
    try:
        k, d = (int(v) for v in text.split(","))
        if k > 0 and d > 0:
            return k, d
    except ValueError:
        pass
    raise C.ConfigError(f"--ensemble={text!r}: expected K,d (two positive integers, e.g. 15,5)")


def evaluate_run(run_dir: str, dataset: str, *, data_root: Optional[str] = None, per_image_csv: bool = False,
                 name: Optional[str] = None) -> Dict[str, object]:
    """MAE of a finished run on ``dataset`` (a name or a shard directory), recorded in metrics.json under
    ``name`` or the normalised dataset name (:func:`hmtl_tf.rundir.dataset_key`)."""
    from hmtl_tf.data.locate import resolve

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"--run={run_dir}: not a run directory")
    key = name or dataset_key(dataset)
    saved = read_json(os.path.join(run_dir, "config.json"), {}) or {}
    root = data_root or (saved.get("data") or {}).get("data_root") or C.DataConfig.data_root
    shard_dir, split = resolve(dataset, root, training=False, flag="--dataset")  # before the model loads
    cfg, inference = load_run(run_dir)
    angles_on(cfg, shard_dir)
    csv_path = os.path.join(run_dir, f"per_image_{key}.csv") if per_image_csv else None
    result = evaluate_model(inference, cfg, shard_dir, split, per_image_csv=csv_path)
    result.update(selection_of(read_json(os.path.join(run_dir, "metrics.json"), {}) or {}))  # the selected weights
    record_metrics(run_dir, {key: result})
    return result


def format_result(name: str, r: Dict[str, object]) -> str:
    parts = [f"{a} {r[a]:.3f}" for a in C.ANGLES3 if r.get(a) is not None]
    sel = f"; weights: {selection_label(r.get('selection'), r.get('selected_epoch'))}" if r.get("selection") else ""
    return f"{name}: MAE " + ", ".join(parts) + f", mean {r['mean']:.3f} (n={r['n']}, {r.get('variant', '')}{sel})"


def main(argv):
    from absl import flags

    fl = flags.FLAGS
    if len(argv) > 1:
        raise C.ConfigError(f"unexpected arguments {argv[1:]}; flags are --name=value")
    if not fl.run:
        raise C.ConfigError("--run: the run directory to evaluate is required")
    if os.path.isfile(os.path.join(fl.run, "config.json")):  # a run: its library.log / console.log
        from hmtl_tf import library_log

        library_log.attach(fl.run)
    if fl.crops:
        from hmtl_tf.crop_eval import evaluate_crops

        if fl.ensemble:
            raise C.ConfigError("--crops and --ensemble: give one of them")
        evaluate_crops(fl.run, fl.dataset, fl.crops, calibration=fl.calibration, data_root=fl.data_root or None,
                       limit=fl.limit)
        return
    if fl.ensemble:
        from hmtl_tf.kdoe.ensemble import evaluate_run_ensemble

        k, d = parse_ensemble(fl.ensemble)
        result = evaluate_run_ensemble(fl.run, fl.dataset, K=k, d=d, data_root=fl.data_root or None)
        name = f"{dataset_key(fl.dataset)}_oe{k}_{d}"
    else:
        result = evaluate_run(fl.run, fl.dataset, data_root=fl.data_root or None, per_image_csv=fl.per_image_csv)
        name = dataset_key(fl.dataset)
    print(format_result(name, result), flush=True)


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import run_main

    flags.DEFINE_string("run", "", "a finished run directory (config.json + inference.keras)")
    flags.DEFINE_string("dataset", "aflw2000", "aflw2000 | aflw2000_full | biwi | eth_xgaze | a shard directory")
    flags.DEFINE_string("data_root", "", "where dataset names are looked up (default: the run's data_root)")
    flags.DEFINE_boolean("per_image_csv", False, "also write per_image_<dataset>.csv into the run directory")
    flags.DEFINE_string("ensemble", "", "K,d: KD-OE offset ensemble (Eq. 5-6), e.g. 15,5")
    flags.DEFINE_string("crops", "", "reference | detector[:NAME]: MAE on the original images with reference and "
                        "detector crops (calibrated and raw) and the faces missed (hmtl_tf.crop_eval)")
    flags.DEFINE_string("calibration", "auto", "with --crops=detector: auto | none | a JSON from hmtl_tf.calibrate")
    flags.DEFINE_integer("limit", 0, "with --crops: at most this many test images (0 = all)")
    run_main(main)
