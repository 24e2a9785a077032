"""``make demo``: SL (HopeNet) vs HMTL (3x3 puzzle at flag 3) on synthetic heads, at a CPU-sized scale.

Same code path as the paper's Table 2 rows (300W-LP layout -> AFLW2000 layout, HopeNet heads, AdaBelief,
ResNet50), with small images and few epochs. The test crops are the ``visible`` policy's (``aflw2000_visible``):
the reference boxes include the (-1, 452) sentinels of invisible points, which makes most crops ~3x the face,
i.e. a ~20 px head at 64 px (DATA_FACTS 2.2); the table also gives the reference-crop MAE. Writes into ``--out``:
  ``table.md``            Table-2-style MAE (yaw, pitch, roll, mean) of SL, HMTL and the predict-the-mean baseline
                          (+ the HMTL puzzle heads' own accuracy beside its chance level)
  ``learning_curves.png`` validation MAE per epoch, both models
  ``contact_sheet.png``   test crops with predicted (solid) and true (thin) axes, the better model
  ``runs/sl``, ``runs/hmtl``  the two run directories (config, history, checkpoints, inference model, metrics)
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from hmtl_tf import config as C

DEMO = {"epochs": 8, "batch_size": 32, "data.image_size": 64, "optim.lr_drops": (6,), "data.aug_level": 1,
        "data.train": "300w_lp", "data.val": "aflw2000_visible", "seed": 0}
TEST_SETS = (("aflw2000_visible", "AFLW2000 layout, visible-point crops (model selection)"),
             ("aflw2000", "AFLW2000 layout, reference HopeNet crops (sentinels included)"))


def demo_configs(out: str, epochs: int):
    over = dict(DEMO, epochs=epochs)
    sl = C.make_config("smoke", dict(over, run=os.path.join(out, "runs", "sl")))
    hmtl = C.make_config("smoke", dict(over, run=os.path.join(out, "runs", "hmtl"), **{"ssl.task": "puzzle3x3",
                                                                                     "ssl.flag": 3}))
    return sl, hmtl


def mean_baseline(cfg: C.TrainConfig, train, val) -> dict:
    """MAE of predicting the training set's mean angles for every validation image."""
    from hmtl_tf.data import pipeline
    from hmtl_tf.evaluate import mae_table

    angles = tuple(cfg.model.angles)

    def labels(src, split):
        ds = pipeline.make_dataset(src, cfg, training=False, split=split, batch_size=256)
        return np.concatenate([np.stack([t[a].numpy() for a in angles], 1) for _, t in ds])

    mean = labels(*train).mean(axis=0)
    true = labels(*val)
    return mae_table(np.broadcast_to(mean, true.shape), true, angles)


def pretext_cell(summary) -> str:
    """``acc (chance)`` of a metrics.json ``_pretext`` summary, e.g. ``0.412 (0.111)``; ``—`` when empty."""
    if not summary or summary.get("ssl_acc") is None:
        return "—"
    chance = summary.get("ssl_chance")
    return f"{summary['ssl_acc']:.3f}" + ("" if chance is None else f" ({chance:.3f})")


def write_table(path: str, blocks) -> str:
    """``blocks``: [(test-set title, [(method, MAE dict), ...]), ...] -> one Markdown table per test set.

    The last column is the SSL heads' pretext accuracy (chance), from the MAE dict's optional ``pretext`` entry
    (a metrics.json ``_pretext`` summary: last epoch's training batches); ``—`` for a method without SSL heads."""
    lines = []
    for title, rows in blocks:
        lines += [f"**{title}**", "", "| method | yaw | pitch | roll | mean | n | pretext acc (chance) |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in rows:
            lines.append(f"| {name} | {r['yaw']:.3f} | {r['pitch']:.3f} | {r['roll']:.3f} | {r['mean']:.3f} | "
                         f"{r['n']} | {pretext_cell(r.get('pretext'))} |")
        lines.append("")
    text = "\n".join(lines)
    with open(path, "w") as f:
        f.write(text)
    return text


def plot_curves(path: str, runs) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, run_dir in runs:
        h = pd.read_csv(os.path.join(run_dir, "history.csv"))
        ax.plot(h["epoch"], h["val_mae_mean"], marker="o", label=f"{name} (val)")
        ax.plot(h["epoch"], h["mae_mean"], linestyle="--", alpha=0.6, label=f"{name} (train)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean MAE (degrees)")
    ax.set_title("Synthetic heads: SL vs HMTL (3x3 puzzle, flag 3)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def contact_sheet(path: str, run_dir: str, cfg: C.TrainConfig, val, n: int = 24) -> None:
    from hmtl_tf import viz
    from hmtl_tf.data import pipeline
    from hmtl_tf.evaluate import load_run

    _, inference = load_run(run_dir)
    images, targets = next(iter(pipeline.make_dataset(val[0], cfg, training=False, split=val[1], batch_size=n)))
    out = inference(images, training=False)
    pred = np.stack([np.asarray(out[a]) for a in C.ANGLES3], 1)
    true = np.stack([targets[a].numpy() for a in C.ANGLES3], 1)
    imgs = np.clip(images.numpy(), 0, 255).astype(np.uint8)
    big = [np.ascontiguousarray(np.repeat(np.repeat(im, 2, 0), 2, 1)) for im in imgs]
    viz.save_png(path, viz.contact_sheet(big, pred, true, cols=8))


def main(argv):
    from absl import flags

    from hmtl_tf import train
    from hmtl_tf.data.locate import resolve
    from hmtl_tf.evaluate import evaluate_run

    fl = flags.FLAGS
    t0 = time.time()
    out = os.path.abspath(fl.out)
    os.makedirs(out, exist_ok=True)
    sl, hmtl = demo_configs(out, fl.epochs)
    for cfg in (sl, hmtl):
        train.run(cfg, overwrite=fl.overwrite, verbose=2)
    root = sl.data.data_root
    tr = resolve("300w_lp", root, training=True)
    blocks = []
    for dataset, title in TEST_SETS:
        va = resolve(dataset, root, training=False)
        rows = [("predict the training mean", mean_baseline(sl, tr, va))]
        for name, c in (("SL (HopeNet)", sl), ("HMTL 3x3 puzzle, flag 3", hmtl)):
            done = train.read_json(os.path.join(c.run, "metrics.json"), {}) or {}
            mae = done[dataset] if dataset in done else evaluate_run(c.run, dataset)
            rows.append((name, dict(mae, pretext=done.get("_pretext") or {})))
        blocks.append((title, rows))
    table = write_table(os.path.join(out, "table.md"), blocks)
    plot_curves(os.path.join(out, "learning_curves.png"), [("SL", sl.run), ("HMTL", hmtl.run)])
    best = min((sl, hmtl), key=lambda c: train.read_json(os.path.join(c.run, "metrics.json"))[TEST_SETS[0][0]]["mean"])
    contact_sheet(os.path.join(out, "contact_sheet.png"), best.run, best, resolve(TEST_SETS[0][0], root, training=False))
    print("\nSynthetic AFLW2000-layout test set, MAE in degrees (demo scale: "
          f"{sl.data.image_size} px, {sl.epochs} epochs, ResNet50 from random init):\n" + table)
    print(f"wrote {out}/table.md, learning_curves.png, contact_sheet.png, runs/ in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import run_main

    flags.DEFINE_string("out", "demo_out", "output directory")
    flags.DEFINE_integer("epochs", DEMO["epochs"], "epochs per model")
    flags.DEFINE_boolean("overwrite", False, "retrain even if the demo runs are finished")
    run_main(main)
