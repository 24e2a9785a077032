"""``results/tableN.md`` and ``.csv``: our MAE per angle and mean beside the paper's, the difference, the scale, the
data (real / synthetic) and the run directory of every row (literature rows carry the paper's numbers only)."""
from __future__ import annotations

import csv
import io
import json
import os
import time
from typing import Dict, List, Optional, Sequence

from experiments.plan import read_metrics
from experiments.rows import IMAGENET_STANDIN, STANDIN_MARK, Row, smoke_summary
from hmtl_tf.rundir import selection_label, selection_of, write_atomic

ANGLES = ("yaw", "pitch", "roll", "mean")


def run_config(run_dir: str) -> Dict[str, object]:
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def data_kind(run_dir: str, scale: str) -> str:
    """``synthetic`` when the run read the smoke data (config.json's data_root), else ``real``."""
    cfg = run_config(run_dir)
    if cfg:
        root = cfg.get("data", {}).get("data_root", "")
        return "synthetic" if "synthetic" in root or "smoke" in root else "real"
    return "synthetic" if scale == "smoke" else "real"


def used_standin(run_dir: str) -> bool:
    """True when the run's backbone came from ``IMAGENET_STANDIN`` (smoke scale without the ImageNet file)."""
    init = str(run_config(run_dir).get("model", {}).get("init", ""))
    return os.path.basename(init) == os.path.basename(IMAGENET_STANDIN.out("", "smoke"))


STANDIN_FOOTNOTE = (f"{STANDIN_MARK} The ImageNet weights file is absent here, so at smoke scale this row's backbone "
                    f"was initialised from a stand-in through the same `--init=FILE` path: `{IMAGENET_STANDIN.method}` "
                    f"pre-training on the synthetic 300W-LP (`pretrain/{IMAGENET_STANDIN.name}.weights.h5`). Put "
                    "`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5` in the Keras cache (or pass "
                    "`--imagenet_weights`) to use ImageNet.")


def _num(v) -> Optional[float]:
    return None if v is None or v == "" else float(v)


def row_record(table: int, row: Row, runs_dir: str, scale: str, status: str = "") -> Dict[str, object]:
    """One report line: descriptive columns, paper / ours / difference per angle, provenance."""
    rec: Dict[str, object] = {"table": table, "row": row.key, "method": row.method}
    rec.update(dict(row.columns))
    ours: Dict[str, object] = {}
    pretext: Dict[str, object] = {}
    if not row.is_literature:
        run_dir = row.run_dir(runs_dir, scale)
        metrics = read_metrics(run_dir)
        ours = metrics.get(row.evaluate, {})
        pretext = metrics.get("_pretext") or {}  # the SSL heads' own task (training batches); {} without SSL heads
        rec.update(scale=scale, data=data_kind(run_dir, scale), run=run_dir, eval=row.evaluate,
                   n=ours.get("n", ""), variant=ours.get("variant", ""))
        rec["status"] = "done" if ours else (status or "not run")
        sel = {k: ours[k] for k in ("selection", "selected_epoch") if k in ours} or (selection_of(metrics) if ours
                                                                                    else {})
        rec.update(selection=sel.get("selection", ""), selected_epoch=sel.get("selected_epoch", ""),
                   weights=selection_label(sel.get("selection"), sel.get("selected_epoch")) if ours else "")
        if used_standin(run_dir):
            rec["init_standin"] = True
            rec.update({k: f"{v}{STANDIN_MARK}" for k, v in row.columns if v == "ImageNet"})
    else:
        rec.update(scale="", data="", run="", eval="", n="", variant="", status="literature (paper only)",
                   selection="", selected_epoch="", weights="")
    for a in ANGLES:
        p = getattr(row.paper, a)
        o = _num(ours.get(a)) if ours else None
        rec[f"paper_{a}"] = p
        rec[f"ours_{a}"] = o
        rec[f"diff_{a}"] = None if (o is None or p is None) else o - p
    rec["pretext_acc"] = _num(pretext.get("ssl_acc"))
    rec["pretext_chance"] = _num(pretext.get("ssl_chance"))
    rec["pretext_test_acc"] = _num((pretext.get("test") or {}).get("ssl_acc"))  # held-out, every image puzzled
    rec["note"] = row.note
    return rec


def records(table: int, rows: Sequence[Row], runs_dir: str, scale: str,
            statuses: Optional[Dict[str, str]] = None) -> List[Dict[str, object]]:
    statuses = statuses or {}
    return [row_record(table, r, runs_dir, scale, statuses.get(r.key, "")) for r in rows]


def _fmt(v, signed: bool = False) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, (int, float)):
        return f"{v:+.3f}" if signed else f"{v:.3f}"
    return str(v)


def pretext_cell(rec: Dict[str, object]) -> str:
    """``held-out / training (chance)`` of a record's SSL pretext accuracy (e.g. ``0.380 / 0.412 (0.111)``; the
    held-out part only where it was measured), ``—`` without SSL heads."""
    acc, chance, test = rec.get("pretext_acc"), rec.get("pretext_chance"), rec.get("pretext_test_acc")
    if acc is None or acc == "":
        return "—"
    held = "" if test is None or test == "" else f"{float(test):.3f} / "
    return held + f"{float(acc):.3f}" + ("" if chance is None or chance == "" else f" ({float(chance):.3f})")


def write_csv(path: str, recs: Sequence[Dict[str, object]]) -> None:
    """One row per record, the union of their keys as columns; written whole or not at all (``write_atomic``)."""
    keys: List[str] = []
    for r in recs:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in recs:
        w.writerow({k: ("" if r.get(k) is None else (f"{r[k]:.4f}" if isinstance(r.get(k), float) else r[k]))
                    for k in keys})
    write_atomic(path, buf.getvalue())


SELECTION_NOTE = ("Weights: the rule (and epoch) whose weights produced the row's numbers (SPEC 8) — `final` = the "
                  "last epoch, no model selection (the default); `best held-out` = the lowest MAE on a held-out "
                  "part of the training data; `BEST ON TEST` = the epoch picked on the test set itself "
                  "(optimistic; only on request).")
BEST_ON_TEST_WARNING = ("**Warning: {n} row(s) report the best epoch on the test set (`BEST ON TEST`): the test set "
                        "picked their epoch, so their numbers are optimistic and not comparable to final-epoch ones.**")


def selection_lines(recs: Sequence[Dict[str, object]]) -> List[str]:
    """The report's statement of the selection rules behind its numbers (+ a warning for best-on-test rows)."""
    out = [SELECTION_NOTE]
    n = sum(r.get("selection") == "best_on_test" for r in recs)
    if n:
        out.append(BEST_ON_TEST_WARNING.format(n=n))
    return out + [""]


def write_markdown(path: str, module, recs: Sequence[Dict[str, object]], scale: str, data: str,
                   figures: Sequence[str] = (), failures: Sequence[str] = ()) -> None:
    """A table like the paper's, each MAE cell ``ours (paper)``, then the difference of the averages."""
    angles = [a for a in module.ANGLES] + ["mean"]
    head = ["Method"] + list(module.COLUMNS) + [a.capitalize() if a != "mean" else "Average" for a in angles]
    # the SSL heads' pretext accuracy: Tables 1-6 (integer TABLE); a module may set PRETEXT_COLUMN itself
    pretext = bool(getattr(module, "PRETEXT_COLUMN", isinstance(module.TABLE, int)))
    head += ["Δ Average"] + (["Pretext acc held-out / training (chance)"] if pretext else []) + ["Weights", "Status", "Run"]
    lines = [f"# Table {module.TABLE}: {module.TITLE}", "",
             f"Scale: **{scale}** — data: **{data}** — written {time.strftime('%Y-%m-%d %H:%M')}.",
             "Each MAE cell is `ours (paper)` in degrees; Δ = ours − paper; — = no number.", ""]
    if pretext:
        lines[-1:] = ["Pretext acc: the SSL heads' own task (puzzle position / tile rotation), top-1 with ties split, "
                      "mean over the heads: on the test images, every one transformed (held-out), then on the last "
                      "epoch's training batches, beside its chance level (1/N² puzzle, 1/4 rotation); — = no SSL "
                      "heads.", ""]
    lines += selection_lines(recs)
    if scale == "smoke":
        lines += [f"Smoke scale: the paper's code path on synthetic heads at CPU size ({smoke_summary()}); the "
                  "numbers test the machinery, they do not reproduce the paper's.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in recs:
        cells = [str(r["method"])] + [str(r.get(c, "")) for c in module.COLUMNS]
        for a in angles:
            cells.append(f"{_fmt(r[f'ours_{a}'])} ({_fmt(r[f'paper_{a}'])})")
        cells += [_fmt(r["diff_mean"], signed=True)] + ([pretext_cell(r)] if pretext else [])
        cells += [str(r.get("weights") or "—"), str(r["status"]), f"`{r['run']}`" if r["run"] else ""]
        lines.append("| " + " | ".join(cells) + " |")
    if any(r.get("init_standin") for r in recs):
        lines += ["", STANDIN_FOOTNOTE]
    if figures:
        lines += [""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in figures]
    if failures:
        lines += ["", "Failed jobs (re-run the same `make` target to resume them):"] + [f"- {f}" for f in failures]
    write_atomic(path, "\n".join(lines) + "\n")
