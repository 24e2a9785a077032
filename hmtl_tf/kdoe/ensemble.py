"""The offset ensemble of KD-OE (Eq. 5-6), batched in the graph.

For a batch of stored images (the shards' stored regions, padded) and their crop boxes, the crops of all
offsets come from ONE ``tf.image.crop_and_resize`` call (``box_indices`` repeat each image n times), the
network sees the (B*n) crops in one forward pass (chunked by ``max_crops``), and the ensemble is the mean of
the per-offset softmax (Eq. 6), decoded with the bin centres (Eq. 2; -98.5 .. 98.5 for 1-degree bins).

Crops follow the reference's ``crop box -> resize`` with half-pixel-centre bilinear sampling; outside the
stored image is black (0), as PIL's crop. Shifts are taken on the crop box of the record's policy at test
margin (``boxes``: the YOLOv5 box, int, x_min/y_min clamped at 0) without re-truncation.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from hmtl_tf.bins import kdoe_bins
from hmtl_tf.data import pipeline, records
from hmtl_tf.data.locate import resolve
from hmtl_tf.kdoe.crops import crop_batch, crop_boxes_normalized  # noqa: F401  (re-exported)
from hmtl_tf.kdoe.offsets import Size, offset_set, parse_ensemble, shifted_boxes_tf
from hmtl_tf.models.layers import HopeNetDecode

ModelFn = Callable[[tf.Tensor], Mapping[str, tf.Tensor]]  # (N, h, w, 3) raw RGB -> {angle: logits (N, q)}
ANGLES = ("yaw", "pitch", "roll")


def offset_crops(images, boxes, shifts, input_size: Size):
    """All shifted crops of every image: ``shifts`` (n, 2) in input pixels (``offset_set(K, d) * d``) ->
    (B*n, h, w, 3), image-major (crop b*n + k is image b at shift k). One ``crop_and_resize`` call."""
    shifted = shifted_boxes_tf(boxes, shifts, 1, input_size)          # (B, n, 4), Eq. 5
    n = shifted.shape[1]
    idx = tf.repeat(tf.range(tf.shape(shifted)[0]), n)
    return crop_batch(images, tf.reshape(shifted, [-1, 4]), input_size, idx)


def per_offset_probs(model_fn: ModelFn, images, boxes, shifts, input_size: Size, angles: Sequence[str] = ANGLES,
                     max_crops: int = 256) -> Dict[str, tf.Tensor]:
    """Softmax of every offset's crop: {angle: (B, n, q)}. Images are processed in chunks of at most
    ``max_crops`` crops (whole images per chunk) when the batch size is static."""
    shifts = np.asarray(shifts, np.int32).reshape(-1, 2)
    n = len(shifts)
    B = images.shape[0]
    per = max(1, int(max_crops) // n)
    starts = [0] if B is None or B <= per else list(range(0, B, per))
    parts: Dict[str, List[tf.Tensor]] = {a: [] for a in angles}
    for s in starts:
        im = images if len(starts) == 1 else images[s:s + per]
        bx = boxes if len(starts) == 1 else boxes[s:s + per]
        out = model_fn(offset_crops(im, bx, shifts, input_size))
        for a in angles:
            p = tf.nn.softmax(tf.cast(out[a], tf.float32), axis=-1)
            parts[a].append(tf.reshape(p, [-1, n, p.shape[-1]]))
    return {a: v[0] if len(v) == 1 else tf.concat(v, axis=0) for a, v in parts.items()}


def ensemble_probs(model_fn: ModelFn, images, boxes, K: int, d: int, input_size: Size,
                   angles: Sequence[str] = ANGLES, max_crops: int = 256) -> Dict[str, tf.Tensor]:
    """Eq. 6: the mean over the offsets of ``B_{K,d}`` of the bin softmax, {angle: (B, q)}."""
    shifts = offset_set(K, d) * int(d)
    probs = per_offset_probs(model_fn, images, boxes, shifts, input_size, angles, max_crops)
    return {a: tf.reduce_mean(p, axis=1) for a, p in probs.items()}


def decode(probs, values: Optional[np.ndarray] = None):
    """Eq. 2: expectation of the bin values (default: KD-OE 1-degree centres -98.5 .. 98.5) -> (B,)."""
    v = kdoe_bins(1).centres() if values is None else np.asarray(values)
    return tf.reduce_sum(tf.cast(probs, tf.float32) * tf.constant(v, tf.float32), axis=-1)


def network_model_fn(network, prefix: str = "rvc1_", angles: Sequence[str] = ANGLES) -> ModelFn:
    """A ``ModelFn`` from a Keras network whose outputs are named ``{prefix}{angle}`` (KD-OE: ``rvc1_``;
    an HMTL/HopeNet network: ``prefix=""``)."""
    def fn(x):
        out = network(x, training=False)
        return {a: out[prefix + a] for a in angles}
    return fn


# ---------------------------------------------------------------- stored images from the shards

def stored_example(serialized) -> Dict[str, tf.Tensor]:
    """One record -> {"image": stored region float32 (H, W, 3) [0, 255], "box": the policy's test crop box
    in stored-image pixels (4,), "ypr", "has_roll", "teacher"} (graph-safe)."""
    ex = records.parse_example(serialized)
    image = tf.cast(tf.io.decode_jpeg(ex["image/encoded"], channels=3), tf.float32)
    box = pipeline.crop_box(ex, pipeline.sample_k(ex))
    return {"image": image, "box": box, "ypr": ex["pose/ypr"], "has_roll": ex["pose/has_roll"],
            "teacher": ex["teacher/probs"]}


def stored_batches(files: Sequence[str], batch_size: int, limit: int = 0) -> tf.data.Dataset:
    """Deterministic padded batches of :func:`stored_example` (padding is black, bottom/right); the first
    ``limit`` records when > 0."""
    ds = tf.data.TFRecordDataset(list(files))
    if limit > 0:
        ds = ds.take(limit)
    ds = ds.map(stored_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.padded_batch(batch_size).prefetch(1)


def _mae_rows(errors: Dict[str, List[np.ndarray]], angles) -> Dict[str, float]:
    mae = {a: float(np.mean(np.concatenate(errors[a]))) for a in angles}
    mae["mean"] = float(np.mean([mae[a] for a in angles]))
    return mae


def ensemble_grid(model_fn: ModelFn, batches: Iterable, grid: Sequence[Tuple[int, int]], input_size: Size,
                  angles: Sequence[str] = ANGLES, values: Optional[np.ndarray] = None,
                  max_crops: int = 256) -> List[Dict[str, float]]:
    """Their Table 2 sweep: MAE of the ensemble for each (K, d) in ``grid`` over ``batches`` of
    :func:`stored_batches`. Each distinct shift is predicted once per batch and shared by all (K, d).
    Rows: {"K", "d", "S", <angle>: MAE, "mean", "n"}."""
    sets = [offset_set(K, d) * int(d) for K, d in grid]
    union = np.unique(np.concatenate(sets), axis=0)
    where = {tuple(s): k for k, s in enumerate(union)}
    members = [np.array([where[tuple(s)] for s in ss]) for ss in sets]
    ai = {a: ("yaw", "pitch", "roll").index(a) for a in angles}
    errors = [{a: [] for a in angles} for _ in grid]
    n = 0
    for batch in batches:
        probs = per_offset_probs(model_fn, batch["image"], batch["box"], union, input_size, angles, max_crops)
        ypr = np.asarray(batch["ypr"])
        n += ypr.shape[0]
        for g, idx in enumerate(members):
            for a in angles:
                ens = tf.reduce_mean(tf.gather(probs[a], idx, axis=1), axis=1)
                errors[g][a].append(np.abs(decode(ens, values).numpy() - ypr[:, ai[a]]))
    rows = []
    for (K, d), ss, err in zip(grid, sets, errors):
        rows.append({"K": int(K), "d": int(d), "S": len(ss), **_mae_rows(err, angles), "n": n})
    return rows


TABLE2_GRID = ((0, 1), (8, 1), (9, 3), (15, 1), (15, 5), (15, 15))  # their Table 2 rows


# ---------------------------------------------------------------- runs: distributions, evaluation, Table 2

def distribution_model_fn(inference) -> Tuple[ModelFn, Dict[str, np.ndarray]]:
    """From a run's ``inference.keras`` (outputs = ``HopeNetDecode`` per angle: KD-OE stage 1, student, or
    an HMTL/HopeNet run): a ``ModelFn`` returning the logits feeding each decode layer, and its bin values."""
    logits, values = {}, {}
    for a, t in inference.output.items():
        layer = t._keras_history.operation
        if not isinstance(layer, HopeNetDecode):
            raise ValueError(f"output {a!r} of the run's inference model is not a bin head (HopeNetDecode); "
                             f"the offset ensemble needs a classification head (kdoe or hopenet)")
        logits[a], values[a] = layer.input, layer.values
    sub = __import__("keras").Model(inference.inputs, logits)
    return (lambda x: sub(x, training=False)), values


def run_batches(run_dir: str, dataset: str, data_root: Optional[str], batch_size: int):
    """(cfg, inference model, stored batches, shard variant) of a finished run and a dataset name/dir."""
    from hmtl_tf.data.locate import angles_on
    from hmtl_tf.rundir import load_run

    cfg, inference = load_run(run_dir)
    shard_dir, split = resolve(dataset, data_root or cfg.data.data_root, training=False, flag="--dataset")
    angles_on(cfg, shard_dir)
    files = records.shard_files(shard_dir, split)
    variant = f"{os.path.basename(os.path.normpath(shard_dir))}/{split}"
    return cfg, inference, stored_batches(files, batch_size), variant


def evaluate_run_ensemble(run_dir: str, dataset: str, *, K: int, d: int, data_root: Optional[str] = None,
                          batch_size: int = 8) -> Dict[str, object]:
    """MAE of the offset ensemble (K, d) of a run on a dataset; added to metrics.json as
    ``<dataset>_oe<K>_<d>`` (``python -m hmtl_tf.evaluate --ensemble=K,d``)."""
    from hmtl_tf.rundir import dataset_key, read_json, record_metrics

    offset_set(K, d)
    cfg, inference, batches, variant = run_batches(run_dir, dataset, data_root, batch_size)
    fn, values = distribution_model_fn(inference)
    angles = tuple(cfg.model.angles)
    row = ensemble_grid(fn, batches, [(K, d)], cfg.data.image_size, angles, values[angles[0]])[0]
    result = {a: row.get(a) for a in ANGLES}
    result.update(mean=row["mean"], n=row["n"], variant=f"{variant} offset ensemble K={K} d={d} S={row['S']}")
    from hmtl_tf.rundir import selection_of

    result.update(selection_of(read_json(os.path.join(run_dir, "metrics.json"), {}) or {}))  # rule as recorded
    record_metrics(run_dir, {f"{dataset_key(dataset)}_oe{K}_{d}": result})
    return result


def write_grid_csv(path: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Their Table 2 layout: K, d, S, per-angle MAE, mean, n; written whole or not at all (``write_atomic``)."""
    import csv
    import io

    from hmtl_tf.rundir import write_atomic

    cols = ["K", "d", "S"] + [a for a in ("pitch", "yaw", "roll") if a in rows[0]] + ["mean", "n"]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()})
    write_atomic(path, buf.getvalue())


def main(argv):
    """``python -m hmtl_tf.kdoe.ensemble --run=DIR --dataset=aflw2000 [--grid=0,1;8,1;...]``: Table 2 sweep."""
    from absl import flags

    fl = flags.FLAGS
    if len(argv) > 1:
        raise ValueError(f"unexpected arguments {argv[1:]}; flags are --name=value")

    grid = [parse_ensemble(g) for g in fl.grid.split(";")] if fl.grid else list(TABLE2_GRID)
    if os.path.isfile(os.path.join(fl.run, "config.json")):  # a run: its library.log / console.log
        from hmtl_tf import library_log

        library_log.attach(fl.run)
    cfg, inference, batches, variant = run_batches(fl.run, fl.dataset, fl.data_root or None, fl.batch_size)
    fn, values = distribution_model_fn(inference)
    angles = tuple(cfg.model.angles)
    rows = ensemble_grid(fn, batches, grid, cfg.data.image_size, angles, values[angles[0]])
    out = os.path.join(fl.run, f"ensemble_grid_{os.path.basename(os.path.normpath(fl.dataset))}.csv")
    write_grid_csv(out, rows)
    for r in rows:
        print(f"K={r['K']:2d} d={r['d']:2d} S={r['S']:4d} " + " ".join(f"{a} {r[a]:.3f}" for a in angles)
              + f" mean {r['mean']:.3f}  ({variant}, n={r['n']})")
    print(f"wrote {out}")


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import run_main

    flags.DEFINE_string("run", "", "a finished run directory with a bin head (kdoe, kdoe student or hopenet)")
    flags.DEFINE_string("dataset", "aflw2000", "dataset name or shard directory")
    flags.DEFINE_string("data_root", "", "where dataset names are looked up (default: the run's data_root)")
    flags.DEFINE_string("grid", "", "K,d pairs separated by ';' (default: their Table 2 rows)")
    flags.DEFINE_integer("batch_size", 8, "stored images per batch (each gives S crops)")
    run_main(main)
