"""``python -m hmtl_tf.evaluate --run=DIR --dataset=NAME``: MAE per angle and their mean (Sec. 4, SPEC 8).

    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000        # reduced 1,969 set
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=aflw2000_full   # all 2,000 (Table 2 "*")
    python -m hmtl_tf.evaluate --run=runs/hmtl_p3 --dataset=biwi --per_image_csv
    python -m hmtl_tf.evaluate --run=runs/kdoe --dataset=aflw2000 --ensemble=15,5   # KD-OE offset ensemble

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
    preds, trues, ids = [], [], []
    for images, targets in ds:
        out = inference(images, training=False)
        preds.append(np.stack([np.asarray(out[a]).reshape(-1) for a in angles], axis=1))
        trues.append(np.stack([np.asarray(targets[a]).reshape(-1) for a in angles], axis=1))
        if "source_id" in targets:
            ids += [s.decode() if isinstance(s, bytes) else str(s) for s in np.asarray(targets["source_id"])]
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
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source_id"] + [f"pred_{a}" for a in angles] + [f"true_{a}" for a in angles])
        for i in range(pred.shape[0]):
            w.writerow([ids[i] if i < len(ids) else i] + [f"{v:.4f}" for v in pred[i]]
                       + [f"{v:.4f}" for v in true[i]])


def load_run(run_dir: str):
    """(TrainConfig, inference model) of a finished run directory."""
    import keras

    import hmtl_tf.models  # noqa: F401  (registers the custom layers)

    cfg_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "inference.keras")
    if not os.path.isfile(cfg_path) or not os.path.isfile(model_path):
        raise FileNotFoundError(f"--run={run_dir}: not a finished run (expected config.json and inference.keras)")
    with open(cfg_path) as f:
        cfg = C.TrainConfig.from_json(f.read())
    return cfg, keras.models.load_model(model_path, compile=False)


LEGACY_SELECTION = "legacy_best_on_val"  # runs from before SPEC 8: best epoch by --val MAE (the test set there)


def selection_of(metrics: Dict[str, object]) -> Dict[str, object]:
    """``{"selection": rule, "selected_epoch": e}`` of a run's metrics.json (its ``_run`` record)."""
    info = metrics.get("_run") or {}
    if not isinstance(info, dict) or not info:
        return {}
    if "selection" not in info:
        return {"selection": LEGACY_SELECTION, "selected_epoch": info.get("best_epoch")}
    return {"selection": info["selection"], "selected_epoch": info.get("selected_epoch")}


def selection_label(rule: Optional[str], epoch=None) -> str:
    """Short label of a rule for the tables: ``final (ep 110)``, ``best held-out (ep 87)``, ``BEST ON TEST (ep 93)``."""
    names = {"final": "final", "best_heldout": "best held-out", "best_on_test": "BEST ON TEST",
             LEGACY_SELECTION: "best on val (legacy)"}
    if not rule:
        return "not recorded"
    return names.get(str(rule), str(rule)) + (f" (ep {epoch})" if epoch not in (None, "") else "")


def evaluate_run(run_dir: str, dataset: str, *, data_root: Optional[str] = None, per_image_csv: bool = False,
                 name: Optional[str] = None) -> Dict[str, object]:
    from hmtl_tf.data.locate import resolve
    from hmtl_tf.train import read_json, write_json_atomic

    cfg, inference = load_run(run_dir)
    root = data_root or cfg.data.data_root
    shard_dir, split = resolve(dataset, root, training=False)
    csv_path = os.path.join(run_dir, f"per_image_{name or dataset}.csv") if per_image_csv else None
    result = evaluate_model(inference, cfg, shard_dir, split, per_image_csv=csv_path)
    metrics_path = os.path.join(run_dir, "metrics.json")
    metrics = read_json(metrics_path, {}) or {}
    result.update(selection_of(metrics))  # inference.keras holds the weights that rule selected
    metrics[name or dataset] = result
    write_json_atomic(metrics_path, metrics)
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
    if fl.ensemble:
        from hmtl_tf.kdoe.ensemble import evaluate_run_ensemble

        k, d = (int(v) for v in fl.ensemble.split(","))
        result = evaluate_run_ensemble(fl.run, fl.dataset, K=k, d=d, data_root=fl.data_root or None)
        name = f"{fl.dataset}_oe{k}_{d}"
    else:
        result = evaluate_run(fl.run, fl.dataset, data_root=fl.data_root or None, per_image_csv=fl.per_image_csv)
        name = fl.dataset
    print(format_result(name, result), flush=True)


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import run_main

    flags.DEFINE_string("run", "", "a finished run directory (config.json + inference.keras)")
    flags.DEFINE_string("dataset", "aflw2000", "aflw2000 | aflw2000_full | biwi | eth_xgaze | a shard directory")
    flags.DEFINE_string("data_root", "", "where dataset names are looked up (default: the run's data_root)")
    flags.DEFINE_boolean("per_image_csv", False, "also write per_image_<dataset>.csv into the run directory")
    flags.DEFINE_string("ensemble", "", "K,d: KD-OE offset ensemble (Eq. 5-6), e.g. 15,5")
    run_main(main)
