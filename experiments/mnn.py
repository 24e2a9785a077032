"""MNN (Valle et al.) training strategies in our framework: ``make reproduce-mnn [SCALE=paper|smoke]``.

Their Table 1 compares, for head pose, a single-task encoder (``Pose``), all three tasks from scratch (``Sym``),
landmark pre-training then all tasks (``Pre+Sym``, their selected model) and landmark pre-training then pose only
(``Pre+Pose``). They measured it on landmark data sets we do not use (300W, COFW, AFLW, WFLW); here every strategy is
trained on 300W-LP and tested on AFLW2000 and BIWI, the protocol of their Table 2, whose MNN row (Pre+Sym) is the
number beside ours. The other strategies' cells carry their Table 1 average in the note (no AFLW2000 / BIWI number).
The ``NME %`` column is the landmark NME on AFLW2000 (the test set, monitored every epoch, read at the epoch the
held-out split selected; box-height normalised) of the runs with a decoder, beside their Table 6 MNN value.

Paper-scale set-up (their Sec. 4.2): 256 px, Adam 1e-3; "We shuffle each training set and split it into 90% train
and 10% validation": ``--val_split=0.1`` of 300W-LP (split by source face) is the validation set, and
``--selection=best_heldout`` takes the epoch with its lowest MAE (the landmark stage: lowest NME); AFLW2000
(``--val``) and BIWI are test sets only, never used to pick an epoch. Their augmentation set (``--mnn_augment``,
``hmtl_tf.data.mnn_augment``): scaling +-15 %, translation +-5 % of the box, mirroring (``--flip``), each HSV channel
x U[0.5, 1.5] and synthetic rectangular occlusions (which zero the covered landmarks' visibility); it replaces our
level-1 set (``--aug_level=0``).
Loss weights of their Eq. 5: ``--mnn_alpha_{ed,ae,heatmap,visibility}`` (all 1: their values are not published).
Visibility targets on 300W-LP are the landmarks' self-occlusion under the labelled pose
(``hmtl_tf.data.sources.visibility``; the files hold no 3-D landmarks). Deviations, stated: a constant LR for
100 epochs (theirs: halved on 15-epoch plateaus, no epoch count given); no in-plane rotation (theirs +-45
degrees); the occlusion probability (0.5) and size (0.1-0.5 of the side) are ours (not given); the ``hopenet``
crops of the HMTL rows (theirs: the landmark box enlarged by 30%), so the three systems see the same crops. The
landmark stage's run is shared by Pre+Sym and Pre+Pose and selected by held-out NME.

Commands (paper scale):
  mnn_pre (landmark pre-training, shared):
    python -m hmtl_tf.train --run=runs/paper/mnn_pre --scale=paper --family=mnn --train=300w_lp --val=aflw2000 --val_split=0.1 --selection=best_heldout --image_size=256 --optimizer=adam --lr=0.001 --schedule=constant --epochs=100 --batch_size=32 --flip=true --aug_level=0 --mnn_augment=true --tasks=landmarks
  mnn_pose:     ... --run=runs/paper/mnn_pose ... --tasks=pose
  mnn_sym:      ... --run=runs/paper/mnn_sym ... --tasks=all
  mnn_pre_sym:  ... --run=runs/paper/mnn_pre_sym ... --tasks=all --init=runs/paper/mnn_pre/best.weights.h5
  mnn_pre_pose: ... --run=runs/paper/mnn_pre_pose ... --tasks=pose --init=runs/paper/mnn_pre/best.weights.h5
  then python -m hmtl_tf.evaluate --run=runs/paper/<run> --dataset=aflw2000 (and --dataset=biwi)
(``python -m experiments.mnn --print_commands`` prints every command exactly.)
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from experiments import report as R
from experiments import runner
from experiments.plan import Job, plan_jobs, select_rows
from experiments.rows import Overrides, Paper, Row
from hmtl_tf.cli import config_from_args

TABLE = "MNN"
TITLE = "MNN training strategies (their Table 1) on 300W-LP -> AFLW2000 / BIWI (their Table 2 protocol)"
COLUMNS = ("Strategy", "Test set", "NME %")
THEIR_NME = 2.77     # their Table 6: MNN (without OR) on AFLW2000-3D, full set
ANGLES = ("yaw", "pitch", "roll")

VAL_SPLIT = 0.1      # their Sec. 4.2: 90 % train / 10 % validation of the training set
MNN_BASE: Overrides = {"model.family": "mnn", "data.train": "300w_lp", "data.val": "aflw2000",
                       "data.val_split": VAL_SPLIT, "selection": "best_heldout", "data.image_size": 256,
                       "optim.optimizer": "adam", "optim.lr": 1e-3, "optim.schedule": "constant", "epochs": 100,
                       "batch_size": 32, "data.flip": True, "data.aug_level": 0, "mnn.augment": True}
PRE = Row(key="mnn_pre", method="MNN landmark pre-training", paper=Paper(None, None, None, None), run="mnn_pre",
          overrides={**MNN_BASE, "model.tasks": "landmarks"})
# Their Table 2, MNN row (the Pre+Sym model): AFLW2000-3D and Biwi.
THEIRS = {"aflw2000": Paper(3.34, 4.69, 3.48, 3.83), "biwi": Paper(3.98, 4.61, 2.39, 3.66)}
NONE = Paper(None, None, None, None)
# (key, strategy, tasks, pre-trained on landmarks, their Table 1 average over 5 landmark data sets)
STRATEGIES = (("mnn_pose", "Pose", "pose", False, 2.54), ("mnn_sym", "Sym", "all", False, 2.35),
              ("mnn_pre_sym", "Pre+Sym", "all", True, 2.24), ("mnn_pre_pose", "Pre+Pose", "pose", True, 2.24))
TEST_SETS = {"aflw2000": "AFLW2000", "biwi": "BIWI"}


def _rows() -> List[Row]:
    rows = []
    for key, name, tasks, pre, table1 in STRATEGIES:
        for dataset, title in TEST_SETS.items():
            selected = name == "Pre+Sym"
            rows.append(Row(key=f"{key}.{dataset}", method=f"MNN {name}", paper=THEIRS[dataset] if selected else NONE,
                            run=key, overrides={**MNN_BASE, "model.tasks": tasks}, evaluate=dataset,
                            init_run=PRE if pre else None, columns=(("Strategy", name), ("Test set", title)),
                            note=f"their Table 1 mean MAE (5 landmark data sets): {table1}"
                                 + ("; their Table 2 MNN row" if selected else "")))
    return rows


ROWS: List[Row] = _rows()


def row_config(row: Row, scale: str = "paper", runs_dir: str = "runs"):
    """The ``TrainConfig`` a row's train command resolves to (its flags through the config's flag table, as
    ``hmtl_tf.train`` reads them, not validated); ConfigError for a flag the typed config does not have."""
    return config_from_args(row.train_argv(runs_dir, scale)[3:])


def best_epoch_nme(run_dir: str) -> Optional[float]:
    """Landmark NME (%, Eq. 7 of theirs, box height) on the test set (``--val``, AFLW2000) at the selected epoch
    (``_run.selected_epoch``: the best held-out epoch, the weights of ``best.weights.h5``), from ``history.csv``
    (``test_nme``; ``val_nme`` / ``_run.best_epoch`` of runs made before the held-out split); None for pose-only
    runs (no decoder) or an unfinished run."""
    import csv
    import json

    metrics, history = os.path.join(run_dir, "metrics.json"), os.path.join(run_dir, "history.csv")
    if not (os.path.isfile(metrics) and os.path.isfile(history)):
        return None
    with open(metrics) as f:
        run = json.load(f).get("_run") or {}
    best = run.get("selected_epoch") or run.get("best_epoch")
    with open(history) as f:
        rows = {int(float(r["epoch"])): r for r in csv.DictReader(f)}
    row = rows.get(int(best), {}) if best else {}
    value = row.get("test_nme", row.get("val_nme"))
    return float(value) if value not in (None, "") else None


def add_nme(recs: List[Dict[str, object]], rows: Sequence[Row], runs_dir: str, scale: str) -> None:
    """The ``NME %`` column: ours (theirs) on AFLW2000 for the runs with a landmark decoder."""
    for rec, row in zip(recs, rows):
        nme = best_epoch_nme(row.run_dir(runs_dir, scale)) if row.evaluate == "aflw2000" else None
        rec["NME %"] = "—" if nme is None else f"{nme:.2f} ({THEIR_NME:.2f})"


def plan(rows: Sequence[Row], scale: str, runs_dir: str) -> List[Job]:
    return plan_jobs(rows, scale, runs_dir)


def write_report(rows: Sequence[Row], scale: str, runs_dir: str, results_dir: str, status: Dict[str, str],
                 say=print) -> str:
    from experiments.run import row_status

    os.makedirs(results_dir, exist_ok=True)
    recs = R.records(0, rows, runs_dir, scale, row_status(rows, status))
    add_nme(recs, rows, runs_dir, scale)
    kinds = sorted({str(r["data"]) for r in recs if r["data"]})
    data = "/".join(kinds) if kinds else ("synthetic" if scale == "smoke" else "real")
    md, csv_path = os.path.join(results_dir, "mnn.md"), os.path.join(results_dir, "mnn.csv")
    R.write_csv(csv_path, recs)
    failures = [f"{k}: {v}" for k, v in sorted(status.items()) if not v.startswith(("done", "skipped"))]
    R.write_markdown(md, sys.modules[__name__], recs, scale, data, (), failures)
    say(f"MNN ({scale} scale, {data} data): {md}, {csv_path}")
    return md


def run_mnn(scale: str, runs_dir: str = "runs", results_dir: str = "results", rows: Sequence[str] = (),
            runner=None, say=print) -> Dict[str, str]:
    from experiments.run import execute, subprocess_runner

    selected = select_rows(ROWS, rows)
    jobs = plan(selected, scale, runs_dir)
    say(f"MNN: {len(selected)} row(s), {len(jobs)} job(s) at {scale} scale")
    status = execute(jobs, runs_dir, scale, runner or subprocess_runner, say)
    write_report(selected, scale, runs_dir, results_dir, status, say)
    return status


def main(argv):
    from absl import flags as F

    from experiments.run import default_scale

    fl = F.FLAGS
    runner.check_no_arguments(argv)
    scale = fl.scale or default_scale(fl.data_root)
    if fl.print_commands:
        for job in plan(select_rows(ROWS, fl.rows), scale, fl.runs_dir):
            print(job.command())
        return
    if fl.report_only:
        write_report(select_rows(ROWS, fl.rows), scale, fl.runs_dir, fl.results_dir, {})
        return
    status = run_mnn(scale, fl.runs_dir, fl.results_dir, fl.rows)
    runner.exit_on_failures(status)


def define_flags() -> None:
    from absl import flags as F

    runner.define_common_flags(results="mnn.md / .csv", data_root="data/shards",
                               data_root_help="where the prepared real datasets are looked for",
                               rows_help="only these row keys (e.g. mnn_pre_sym.aflw2000)")


if __name__ == "__main__":
    runner.cli(main, define_flags)
