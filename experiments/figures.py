"""The paper's figures from our runs, as PNG next to the tables (ours solid, the paper's dashed where it gives numbers).

Fig. 4: average MAE per flag and SSL task (Table 1). Figs. 6/7: test MAE per epoch, SL vs HMTL, on the full
(per angle) and reduced (average) AFLW2000 (Table 2's level-2 runs; the starred rows are the same runs, whose
``--extra_test=aflw2000_full`` gives the full-set curve). Fig. 8: HMTL vs HMTL w/o SSHs per epoch (Table 5). Fig. 9:
MAE vs number of subjects (Table 6). The per-epoch curves are the history's ``test_*`` columns: monitoring only, the
tables report the epoch their selection rule names (the final one by default, SPEC 8).
"""
from __future__ import annotations

import csv
import os
from typing import Dict, List, Sequence

from experiments.rows import Row
from hmtl_tf.rundir import write_atomic

COLOURS = {"sl": "tab:blue", "hmtl": "tab:red", "wo_sshs": "tab:green", "hmtl_p2": "tab:red",
           "p2_wo_sshs": "tab:green", "puzzle2x2": "tab:red", "rotation2x2": "tab:orange",
           "puzzle_rotation2x2": "tab:purple"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def read_history(run_dir: str) -> List[Dict[str, float]]:
    path = os.path.join(run_dir, "history.csv")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]


def _save(fig, path: str, title: str, scale: str) -> str:
    import textwrap

    width = max(30, int(fig.get_figwidth() * 11))  # characters that fit the figure at font size 10
    fig.suptitle("\n".join(textwrap.wrap(title, width)) + f"\n(scale: {scale})", fontsize=10)
    fig.tight_layout()
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))  # a temporary name keeping ".png", then renamed
    finally:
        _plt().close(fig)
    return path


def _ours(recs, key):
    return next((r for r in recs if r["row"] == key), None)


def fig4(recs: Sequence[dict], rows: Sequence[Row], out: str, scale: str) -> str:
    """Average MAE per flag, one line per SSL task; SL as a horizontal line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for task in ("puzzle_rotation2x2", "rotation2x2", "puzzle2x2"):
        sel = [r for r in rows if r.key.startswith(task + "_f")]
        flags = [int(r.key.rsplit("_f", 1)[1]) for r in sel]
        ax.plot(flags, [r.paper.mean for r in sel], "--", color=COLOURS[task], alpha=0.6)
        ours = [_ours(recs, r.key)["ours_mean"] for r in sel]
        ax.plot(flags, [o if o is not None else float("nan") for o in ours], "o-", color=COLOURS[task], label=task)
    sl = next(r for r in rows if r.key == "sl")
    ax.axhline(sl.paper.mean, ls="--", color=COLOURS["sl"], alpha=0.6)
    if _ours(recs, "sl")["ours_mean"] is not None:
        ax.axhline(_ours(recs, "sl")["ours_mean"], color=COLOURS["sl"], label="SL")
    ax.set(xlabel="flag (branching point)", ylabel="average MAE (deg)", xticks=[1, 2, 3, 4])
    ax.legend(fontsize=8)
    return _save(fig, out, "Fig. 4: average MAE per flag and SSL task (dashed: paper)", scale)


def epoch_curves(runs: Dict[str, str], out: str, title: str, scale: str, columns: Sequence[str]) -> str:
    """Per-epoch MAE (history columns, e.g. ``test_mae_mean``) of each labelled run, one panel per column."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        for label, run_dir in runs.items():
            hist = [h for h in read_history(run_dir) if col in h]
            if hist:
                ax.plot([h["epoch"] for h in hist], [h[col] for h in hist], "o-", ms=3,
                        color=COLOURS.get(label), label=label)
        ax.set(xlabel="epoch", ylabel=f"{col} (deg)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:  # no finished run yet: an empty panel, no legend
            ax.legend(fontsize=8)
    return _save(fig, out, title, scale)


def fig9(recs: Sequence[dict], rows: Sequence[Row], out: str, scale: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r.curve for r in rows):
        sel = [r for r in rows if r.curve == method]
        n = [r.subjects for r in sel]
        ax.plot(n, [r.paper.mean for r in sel], "--", color=COLOURS.get(method), alpha=0.6)
        ours = [_ours(recs, r.key)["ours_mean"] for r in sel]
        ax.plot(n, [o if o is not None else float("nan") for o in ours], "o-", color=COLOURS.get(method),
                label=sel[0].method)
    ax.set(xlabel="training subjects", ylabel="average MAE (deg)", xticks=[1, 2, 3, 4])
    ax.legend(fontsize=8)
    return _save(fig, out, "Fig. 9: MAE vs number of subjects (dashed: paper)", scale)


def figures_for(table: int, recs: Sequence[dict], rows: Sequence[Row], results_dir: str, runs_dir: str,
                scale: str) -> List[str]:
    """The figures of ``table`` (those its rows can feed); returns the written paths."""
    by_key = {r.key: r for r in rows}

    def runs(keys_labels):
        return {label: by_key[k].run_dir(runs_dir, scale) for k, label in keys_labels if k in by_key}
    out: List[str] = []
    if table == 1 and "sl" in by_key:
        out.append(fig4(recs, rows, os.path.join(results_dir, "fig4_flags.png"), scale))
    if table == 2:
        full = runs([("sl_aug2_full", "sl"), ("hmtl_p3_aug2_full", "hmtl")])
        if full:
            out.append(epoch_curves(full, os.path.join(results_dir, "fig6_full_aflw2000.png"),
                                    "Fig. 6: test MAE per epoch on full AFLW2000 (SL vs HMTL 3×3, level 2; "
                                    "monitoring only)", scale, [f"test_aflw2000_full_mae_{a}" for a in
                                                                ("yaw", "pitch", "roll")]))
        reduced = runs([("sl_aug2", "sl"), ("hmtl_p3_aug2", "hmtl")])
        if reduced:
            out.append(epoch_curves(reduced, os.path.join(results_dir, "fig7_reduced_aflw2000.png"),
                                    "Fig. 7: average test MAE per epoch on reduced AFLW2000 (SL vs HMTL 3×3, "
                                    "level 2; monitoring only)", scale, ["test_mae_mean"]))
    if table == 5:
        curves = runs([("sl_aug2", "sl"), ("p3_wo_sshs", "wo_sshs"), ("hmtl_p3_aug2", "hmtl")])
        if curves:
            out.append(epoch_curves(curves, os.path.join(results_dir, "fig8_wo_sshs.png"),
                                    "Fig. 8: HMTL vs HMTL w/o SSHs, reduced AFLW2000 (monitoring only)", scale,
                                    ["test_mae_mean"]))
    if table == 6 and rows:
        out.append(fig9(recs, rows, os.path.join(results_dir, "fig9_subjects.png"), scale))
    return out
