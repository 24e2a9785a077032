"""KD-OE Table 5, protocol 1 (kd-offset-ensemble-head-pose.md §5.2-5.3, Table 5): 300W-LP -> AFLW2000 and BIWI.

The rows our system covers: the stage-1 ResNet50 (four RvC heads + 99 tanh; "Base ResNet50"), its offset ensemble
K=15, d=5 (S=49; "Ensemble") and the students ResNet18/34/50/101/152 distilled from that ensemble ("KD-ResNetN").
Each method is evaluated on AFLW2000 (the 1,969 within ±99°) and BIWI (all frames within ±99°); one method = two
rows (``<method>.aflw2000``, ``<method>.biwi``) sharing one run. ``make reproduce-kdoe [SCALE=smoke|paper]`` ->
``results/kdoe_table5.md`` / ``.csv`` (ours beside theirs); finished jobs are skipped (experiments.run.execute).

Data (paper scale): shards cropped with their published YOLOv5 boxes (DATA_FACTS 4), in ``data/shards_kdoe``:
  python -m data_prep.prepare --dataset=300w_lp --root=data/raw --out=data/shards_kdoe --crop_policy=boxes --boxes=data/raw/300W_LP.json
  python -m data_prep.prepare --dataset=aflw2000 --root=data/raw --out=data/shards_kdoe --crop_policy=boxes --boxes=data/raw/AFLW2000.json
  python -m data_prep.prepare --dataset=biwi --root=data/raw --out=data/shards_kdoe --crop_policy=boxes --boxes=data/raw/BIWI.json
Smoke scale: the synthetic shards (hopenet crops; the boxes policy is exercised by tests/kdoe/test_kdoe_e2e.py), 64 px,
random init, the budgets of ``experiments.rows`` (SMOKE_*) for stage 1 and ``SMOKE_DISTILL_SAMPLES`` images for
stage 2; the ensemble keeps K=15, d=5 in input pixels (so a larger shift relative to the 64-px face).

Choices where their text is silent or our framework differs (stated in the row notes too):
- 300W-LP with its ``_Flip`` folders (``--w300lp_subsets=all``, 122,450 images: "The 300W-LP dataset contains 122450
  images", their §4.1; the HMTL rows use the 61,225 originals). No LR warm-up (their §5.2-5.3 state none).
- Augmentation (§4.3), in their order: the pose augmentations first (flip p=0.5, ``--rotate_deg=15`` with exact
  labels), then their Albumentations list re-stated in TF (``--aug_set=kdoe``, ``hmtl_tf.data.augment``, the
  library's 1.x defaults): OneOf(HueSaturationValue, CLAHE, Equalize, Solarize) p=0.5, OneOf(ChannelShuffle,
  ChannelDropout) p=0.5, MedianBlur p=0.5, OneOf(RandomShadow, ISONoise) p=0.5, CoarseDropout p=0.5. No central
  zoom or down-scaling (they would change the box scale the offset ensemble shifts by).
- Stage 2 uses stored teacher distributions (ensemble of each training crop and of its mirror image, computed
  once) and the same augmentation (the student inherits stage 1's ``aug_set``): flip stays exact, the photometric
  list is applied to the student's crop, the ±15° rotation is off in stage 2 (``--teacher_mode=on_the_fly`` would
  keep it at 49 teacher passes per image and step).
- ResNet18/34 students start from random weights: Keras ships no ImageNet file for them (theirs: ImageNet);
  pass ``--init=<converted weights file>`` to the distill command to match.

Expected time (paper scale, one modern GPU; FLOP-count estimates as in the README): stage 1 about a day (100
epochs of 122,450 images, ~1.8x a Table 2 row of 110 x 61,225); the stored teacher distributions (122,450 images
x 2 views x 49 crops, once for all five students) about a third of that; a student 0.45x (ResNet18) to 2.8x
(ResNet152) of stage 1; the 49-crop evaluations minutes. Expected result: their numbers below, within run-to-run noise.

Commands (paper scale; ``python -m experiments.kdoe --print_commands`` prints them for any scale):
  base_r50 (Base ResNet50):
    python -m hmtl_tf.train --run=runs/paper/kdoe_r50 --scale=paper --family=kdoe --train=300w_lp --val=aflw2000 --backbone=resnet50 --init=imagenet --crop_policy=boxes --optimizer=adam --lr=0.0001 --schedule=constant --epochs=100 --batch_size=128 --flip=true --rotate_deg=15 --aug_set=kdoe --w300lp_subsets=all --data_root=data/shards_kdoe
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_r50 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_r50 --dataset=biwi
  ensemble (Ensemble K=15 d=5):
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_r50 --dataset=aflw2000 --ensemble=15,5
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_r50 --dataset=biwi --ensemble=15,5
  kd_r18 (KD-ResNet18):
    python -m hmtl_tf.distill --teacher=runs/paper/kdoe_r50 --run=runs/paper/kdoe_kd_r18 --scale=paper --student=resnet18 --K=15 --d=5 --teacher_mode=stored --init=random --lr=0.0003 --epochs=100 --batch_size=128
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r18 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r18 --dataset=biwi
  kd_r34 (KD-ResNet34):
    python -m hmtl_tf.distill --teacher=runs/paper/kdoe_r50 --run=runs/paper/kdoe_kd_r34 --scale=paper --student=resnet34 --K=15 --d=5 --teacher_mode=stored --init=random --lr=0.0003 --epochs=100 --batch_size=128
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r34 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r34 --dataset=biwi
  kd_r50 (KD-ResNet50):
    python -m hmtl_tf.distill --teacher=runs/paper/kdoe_r50 --run=runs/paper/kdoe_kd_r50 --scale=paper --student=resnet50 --K=15 --d=5 --teacher_mode=stored --init=imagenet --lr=0.0003 --epochs=100 --batch_size=128
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r50 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r50 --dataset=biwi
  kd_r101 (KD-ResNet101):
    python -m hmtl_tf.distill --teacher=runs/paper/kdoe_r50 --run=runs/paper/kdoe_kd_r101 --scale=paper --student=resnet101 --K=15 --d=5 --teacher_mode=stored --init=imagenet --lr=0.0003 --epochs=100 --batch_size=128
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r101 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r101 --dataset=biwi
  kd_r152 (KD-ResNet152):
    python -m hmtl_tf.distill --teacher=runs/paper/kdoe_r50 --run=runs/paper/kdoe_kd_r152 --scale=paper --student=resnet152 --K=15 --d=5 --teacher_mode=stored --init=imagenet --lr=0.0003 --epochs=100 --batch_size=128
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r152 --dataset=aflw2000
    python -m hmtl_tf.evaluate --run=runs/paper/kdoe_kd_r152 --dataset=biwi
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence

from experiments import report as R
from experiments import rows as _rows
from experiments import runner
from experiments.plan import Job, plan_jobs
from experiments.rows import SMOKE_EPOCHS, SMOKE_MAX_TRAIN, Overrides, Paper, Row, command_text
from hmtl_tf.cli import flag_text
from hmtl_tf.config import ConfigError
from hmtl_tf.rundir import write_atomic

SMOKE_BATCH = getattr(_rows, "SMOKE_BATCH", 8)    # the stage-1 rows' smoke batch (distill's smoke default: 8)

TABLE = "kdoe5"
TITLE = "KD-OE Table 5, protocol 1: 300W-LP -> AFLW2000 and BIWI"
DATASETS = ("aflw2000", "biwi")
DATASET_NAMES = {"aflw2000": "AFLW2000", "biwi": "BIWI"}
PAPER_ORDER = ("pitch", "yaw", "roll", "mean")    # their column order (pitch, yaw, roll, avg.)
KDOE_DATA_ROOT = "data/shards_kdoe"               # shards prepared with --crop_policy=boxes (their YOLOv5 boxes)
ENSEMBLE = (15, 5)                                # their best (K, d), §5.3
SMOKE_DISTILL_SAMPLES = 64                        # 300W-LP images per smoke distillation (x2 views x 49 crops)
# paper-only settings (smoke: the scale's defaults): stage 1's config fields, the students' distill flags
SMOKE_DROP = ("epochs", "batch_size", "model.init", "data.crop_policy", "optim.lr_drops")
DISTILL_SMOKE_DROP = ("epochs", "batch_size", "init")
# The types of the ``hmtl_tf.distill`` flags a student row sets (its own flags, not TrainConfig fields;
# tests/experiments/test_kdoe_experiments.py checks them against distill's flag definitions).
DISTILL_FLAGS = {"student": str, "init": str, "K": int, "d": int, "teacher_mode": str, "epochs": int, "lr": float,
                 "batch_size": int, "steps_per_epoch": int, "max_train_samples": int, "flip": bool, "rotate": bool}
TEACHER_RUN = "kdoe_r50"


def their(pitch: float, yaw: float, roll: float, avg: float) -> Paper:
    """A Table 5 cell group transcribed in their column order (pitch, yaw, roll, avg.)."""
    return Paper(yaw=yaw, pitch=pitch, roll=roll, mean=avg)


@dataclass(frozen=True)
class KDRow(Row):
    """A Table 5 row on one test set. ``teacher``: the stage-1 run a student distils from (``hmtl_tf.distill``, with
    the typed ``distill`` flags; empty = ``hmtl_tf.train``, with the row's ``overrides``); ``ensemble`` "K,d":
    evaluated as the offset ensemble (``evaluate --ensemble``)."""

    dataset: str = "aflw2000"
    ensemble: str = ""
    teacher: str = ""
    data_root: str = KDOE_DATA_ROOT
    group: str = ""                       # the method's key (one line of the report per group)
    distill: Dict[str, Any] = field(default_factory=dict, hash=False)  # hmtl_tf.distill flags (DISTILL_FLAGS)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "distill", distill_flags(self.distill, self.key))

    @property
    def flags(self):
        if self.teacher:
            return tuple((k, flag_text(v)) for k, v in self.distill.items())
        return Row.flags.fget(self)

    def train_overrides(self, runs_dir: str, scale: str, subjects: Sequence[str] = ()) -> Overrides:
        """Stage 1 at ``scale``: the paper-only settings dropped at smoke scale, the boxes' shards at paper scale,
        then what every row adds (Row: the smoke epochs / 300W-LP sample count)."""
        ov = {k: v for k, v in self.overrides.items() if scale != "smoke" or k not in SMOKE_DROP}
        if scale == "paper":
            ov["data.data_root"] = self.data_root
        return Row.train_overrides(replace(self, overrides=ov), runs_dir, scale, subjects)

    def train_argv(self, runs_dir: str, scale: str, subjects: Sequence[str] = ()) -> List[str]:
        if not self.teacher:  # stage 1: hmtl_tf.train
            return Row.train_argv(self, runs_dir, scale, subjects)
        fl = {k: v for k, v in self.distill.items() if scale != "smoke" or k not in DISTILL_SMOKE_DROP}
        if scale == "smoke":
            fl.update(epochs=SMOKE_EPOCHS, batch_size=SMOKE_BATCH, max_train_samples=SMOKE_DISTILL_SAMPLES)
        args = [f"--teacher={os.path.join(runs_dir, scale, self.teacher)}", f"--run={self.run_dir(runs_dir, scale)}",
                f"--scale={scale}"] + [f"--{k}={flag_text(v)}" for k, v in fl.items()]
        return [sys.executable, "-m", "hmtl_tf.distill"] + args

    def eval_argv(self, runs_dir: str, scale: str) -> List[str]:
        argv = [sys.executable, "-m", "hmtl_tf.evaluate", f"--run={self.run_dir(runs_dir, scale)}",
                f"--dataset={self.dataset}"]
        return argv + ([f"--ensemble={self.ensemble}"] if self.ensemble else [])


def distill_flags(fl: Dict[str, Any], key: str = "") -> Dict[str, Any]:
    """A student row's ``hmtl_tf.distill`` flags checked against DISTILL_FLAGS (known names, their types; an int is
    taken for a float); ConfigError naming the row and the flag otherwise."""
    out = {}
    for name, value in fl.items():
        kind = DISTILL_FLAGS.get(name)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is None or not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            what = "unknown flag of hmtl_tf.distill" if kind is None else f"expected {kind.__name__}, got {value!r}"
            raise ConfigError(f"row {key!r}: --{name}: {what}")
        out[name] = value
    return out


# Stage 1 (§5.2): ResNet50 (ImageNet), Adam 1e-4 constant, 100 epochs, batch 128, flip + rotation ±15° (§4.3).
STAGE1: Overrides = {"model.family": "kdoe", "data.train": "300w_lp", "data.val": "aflw2000",
                     "model.backbone": "resnet50", "model.init": "imagenet", "data.crop_policy": "boxes",
                     "optim.optimizer": "adam", "optim.lr": 1e-4, "optim.schedule": "constant", "epochs": 100,
                     "batch_size": 128, "data.flip": True, "data.rotate_deg": 15.0, "data.aug_set": "kdoe",
                     "data.w300lp_subsets": ("all",)}  # §4.1: "contains 122450 images"
# Stage 2 (§5.3): one bin-1 head, (0.05 CE + KL(ensemble || student)) / 2, Adam 3e-4, 100 epochs, batch 128.
STAGE2 = {"student": "resnet50", "K": ENSEMBLE[0], "d": ENSEMBLE[1], "teacher_mode": "stored", "init": "imagenet",
          "lr": 3e-4, "epochs": 100, "batch_size": 128}
NO_IMAGENET = "ResNet18/34: random init (no Keras ImageNet file; theirs: ImageNet)"


def _method(key: str, label: str, backbone: str, aflw: Paper, biwi: Paper, run: str, overrides=None,
            ensemble: str = "", teacher: str = "", distill=None, note: str = "") -> List[KDRow]:
    rows = []
    for dataset, paper in zip(DATASETS, (aflw, biwi)):
        entry = f"{dataset}_oe{ensemble.replace(',', '_')}" if ensemble else dataset
        rows.append(KDRow(key=f"{key}.{dataset}", method=label, paper=paper, run=run, overrides=overrides or {},
                          distill=distill or {}, evaluate=entry, columns=(("Backbone", backbone),), note=note,
                          dataset=dataset, ensemble=ensemble, teacher=teacher, group=key))
    return rows


def _student(n: int, aflw: Paper, biwi: Paper) -> List[KDRow]:
    init = "random" if n in (18, 34) else "imagenet"
    return _method(f"kd_r{n}", f"KD-ResNet{n}", f"ResNet{n}", aflw, biwi, f"kdoe_kd_r{n}",
                   teacher=TEACHER_RUN, distill={**STAGE2, "student": f"resnet{n}", "init": init},
                   note=NO_IMAGENET if init == "random" else "")


ENS = f"{ENSEMBLE[0]},{ENSEMBLE[1]}"
ROWS: List[KDRow] = (
    _method("base_r50", "Base ResNet50", "ResNet50", their(4.86, 3.06, 3.30, 3.74), their(5.18, 4.12, 3.11, 4.14),
            TEACHER_RUN, STAGE1, note="Table 2 (3 decimals): AFLW2000 3.742, BIWI 4.135")
    + _method("ensemble", f"Ensemble K={ENSEMBLE[0]} d={ENSEMBLE[1]}", "ResNet50", their(4.82, 2.96, 3.22, 3.67),
              their(5.23, 3.89, 3.01, 4.04), TEACHER_RUN, STAGE1, ensemble=ENS,
              note="S=49 crops; Table 2 (3 decimals): AFLW2000 3.664, BIWI 4.040")
    + _student(18, their(4.69, 3.00, 3.22, 3.64), their(5.07, 3.96, 3.06, 4.03))
    + _student(34, their(4.74, 3.00, 3.21, 3.65), their(4.49, 4.06, 2.96, 3.83))
    + _student(50, their(4.68, 2.92, 3.11, 3.57), their(4.80, 4.05, 2.94, 3.93))
    + _student(101, their(4.65, 2.96, 3.02, 3.54), their(5.31, 3.76, 2.76, 3.94))
    + _student(152, their(4.52, 2.97, 2.96, 3.48), their(4.73, 3.50, 2.87, 3.70))
)
METHODS: List[str] = list(dict.fromkeys(r.group for r in ROWS))


# ----------------------------------------------------------------------------- planning
def with_data_root(rows: Sequence[KDRow], data_root: str) -> List[KDRow]:
    return [replace(r, data_root=data_root) for r in rows]


def select(rows: Sequence[KDRow], keys: Sequence[str]) -> List[KDRow]:
    """Rows by row key (``kd_r18.biwi``) or method key (``kd_r18`` = both test sets)."""
    if not keys:
        return list(rows)
    known = {r.key for r in rows} | {r.group for r in rows}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"--rows: unknown row(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)} "
                         f"(or <method>.aflw2000 / <method>.biwi)")
    return [r for r in rows if r.key in keys or r.group in keys]


def plan(rows: Sequence[KDRow], scale: str, runs_dir: str) -> List[Job]:
    """``plan.plan_jobs`` (shared runs, resume tests) plus the stage-2 dependency: a student's distillation
    waits for its teacher's stage-1 run (and is blocked when that fails)."""
    jobs = plan_jobs(rows, scale, runs_dir)
    teacher = {r.run: r.teacher for r in rows if r.teacher}
    for job in jobs:  # a teacher row not selected: no job, so no block (distill then needs its finished run)
        if job.kind != "train":
            continue
        if job.name.split("/", 1)[1] in teacher:
            job.deps.append(f"train/{teacher[job.name.split('/', 1)[1]]}")
        if hasattr(job, "requires"):  # ImageNet file of the command actually run (smoke: random init)
            job.requires = imagenet_inputs(job.argv)
    return jobs


def imagenet_inputs(argv: Sequence[str]) -> List[str]:
    """The ImageNet weights file a train / distill command reads (``--init=imagenet``), else nothing."""
    from experiments import plan as P

    fl = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    if fl.get("init") != "imagenet" or not hasattr(P, "imagenet_file"):
        return []
    return [P.imagenet_file({**fl, "backbone": fl.get("student", fl.get("backbone", "resnet50"))})]


# ----------------------------------------------------------------------------- report
def method_records(rows: Sequence[KDRow], runs_dir: str, scale: str,
                   statuses: Optional[Dict[str, str]] = None) -> List[Dict[str, object]]:
    """One record per method: ``<dataset>_{paper,ours,diff}_<angle>`` for AFLW2000 and BIWI (report.row_record)."""
    statuses = statuses or {}
    out: List[Dict[str, object]] = []
    for key in dict.fromkeys(r.group for r in rows):
        mine = [r for r in rows if r.group == key]
        first = mine[0]
        rec: Dict[str, object] = {"table": TABLE, "row": key, "method": first.method, **dict(first.columns)}
        for r in mine:
            sub = R.row_record(5, r, runs_dir, scale, statuses.get(r.key, ""))
            rec.update(scale=sub["scale"], data=sub["data"], run=sub["run"])
            for k in ("selection", "selected_epoch", "weights"):  # one run per method: one rule (SPEC 8)
                if sub.get(k) not in (None, ""):
                    rec[k] = sub[k]
            for k in ("eval", "n", "variant", "status") + tuple(f"{p}_{a}" for p in ("paper", "ours", "diff")
                                                             for a in R.ANGLES):
                rec[f"{r.dataset}_{k}"] = sub[k]
        rec["note"] = first.note
        out.append(rec)
    return out


def _status(rec: Dict[str, object]) -> str:
    st = [str(rec.get(f"{d}_status", "")) for d in DATASETS if f"{d}_status" in rec]
    return "done" if st and all(s == "done" for s in st) else "; ".join(
        f"{DATASET_NAMES[d]}: {rec[f'{d}_status']}" for d in DATASETS if f"{d}_status" in rec)


def write_markdown(path: str, recs: Sequence[Dict[str, object]], scale: str, data: str,
                   failures: Sequence[str] = ()) -> None:
    """Their Table 5 layout (pitch, yaw, roll, avg. per test set), each cell ``ours (theirs)``."""
    ds = [d for d in DATASETS if any(f"{d}_paper_mean" in r for r in recs)]
    head = ["Method", "Backbone"] + [f"{DATASET_NAMES[d]} {a.capitalize() if a != 'mean' else 'Avg.'}"
                                     for d in ds for a in PAPER_ORDER]
    head += [f"Δ Avg. {DATASET_NAMES[d]}" for d in ds] + ["Weights", "Status", "Run"]
    when = time.strftime("%Y-%m-%d %H:%M")
    lines = [f"# {TITLE}", "", f"Scale: **{scale}** — data: **{data}** — written {when}.",
             "Each MAE cell is `ours (theirs)` in degrees; Δ = ours − theirs; — = no number. Theirs: "
             "kd-offset-ensemble-head-pose.md Table 5 (2 decimals).", ""] + R.selection_lines(recs)
    if scale == "smoke":
        lines += [f"Smoke scale: KD-OE's code path on synthetic heads at CPU size (64 px, random init, "
                  f"{SMOKE_EPOCHS} epochs, batch {SMOKE_BATCH}, {SMOKE_MAX_TRAIN} stage-1 / {SMOKE_DISTILL_SAMPLES} "
                  "distillation images); the numbers test the machinery, they do not reproduce the paper's.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in recs:
        cells = [str(r["method"]), str(r.get("Backbone", ""))]
        cells += [f"{R._fmt(r.get(f'{d}_ours_{a}'))} ({R._fmt(r.get(f'{d}_paper_{a}'))})"
                  for d in ds for a in PAPER_ORDER]
        cells += [R._fmt(r.get(f"{d}_diff_mean"), signed=True) for d in ds]
        cells += [str(r.get("weights") or "—"), _status(r), f"`{r['run']}`" if r.get("run") else ""]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r['method']}: {r['note']}" for r in recs if r.get("note")]
    if notes:
        lines += ["", "Notes:"] + notes
    if failures:
        lines += ["", "Failed jobs (re-run `make reproduce-kdoe` to resume them):"] + [f"- {f}" for f in failures]
    write_atomic(path, "\n".join(lines) + "\n")


def write_report(rows: Sequence[KDRow], scale: str, runs_dir: str, results_dir: str,
                 status: Optional[Dict[str, str]] = None, say: Callable[[str], None] = print) -> str:
    """``<results_dir>/kdoe_table5.md`` / ``.csv`` from whatever the run directories hold now."""
    from experiments.run import row_status

    os.makedirs(results_dir, exist_ok=True)
    recs = method_records(rows, runs_dir, scale, row_status(rows, status or {}))
    kinds = sorted({str(r["data"]) for r in recs if r.get("data")})
    data = "/".join(kinds) if kinds else ("synthetic" if scale == "smoke" else "real")
    csv_path, md_path = (os.path.join(results_dir, f"kdoe_table5.{ext}") for ext in ("csv", "md"))
    R.write_csv(csv_path, recs)
    failures = [f"{k}: {v}" for k, v in sorted((status or {}).items()) if not v.startswith(("done", "skipped"))]
    write_markdown(md_path, recs, scale, data, failures)
    say(f"KD-OE table 5 ({scale} scale, {data} data): {md_path}, {csv_path}")
    return md_path


def run_kdoe(scale: str, runs_dir: str = "runs", results_dir: str = "results", rows: Sequence[str] = (),
             runner=None, say: Callable[[str], None] = print, data_root: str = KDOE_DATA_ROOT) -> Dict[str, str]:
    """Plans, executes (``experiments.run.execute``: finished jobs skipped) and reports; returns job statuses."""
    from experiments import run as X
    from experiments.rows import SCALES

    if scale not in SCALES:
        raise ValueError(f"--scale={scale!r}: expected paper or smoke")
    selected = select(with_data_root(ROWS, data_root), rows)
    jobs = plan(selected, scale, runs_dir)
    say(f"KD-OE table 5: {len(selected)} row(s), {len(jobs)} job(s) at {scale} scale")
    status = X.execute(jobs, runs_dir, scale, runner or X.subprocess_runner, say)
    write_report(selected, scale, runs_dir, results_dir, status, say)
    return status


def main(argv):
    from absl import flags as F

    from experiments import run as X

    fl = F.FLAGS
    runner.check_no_arguments(argv)
    scale = fl.scale or X.default_scale(fl.data_root)
    if fl.print_commands:
        for job in plan(select(with_data_root(ROWS, fl.data_root), fl.rows), scale, fl.runs_dir):
            print(command_text(job.argv))
        return
    if fl.report_only:
        write_report(select(with_data_root(ROWS, fl.data_root), fl.rows), scale, fl.runs_dir, fl.results_dir)
        return
    status = run_kdoe(scale, fl.runs_dir, fl.results_dir, fl.rows, data_root=fl.data_root)
    runner.exit_on_failures(status)


def define_flags() -> None:
    from absl import flags as F

    runner.define_common_flags(results="kdoe_table5.md / .csv", data_root=KDOE_DATA_ROOT,
                               data_root_help="shards prepared with --crop_policy=boxes (paper scale)",
                               rows_help="only these methods / rows (see --print_commands)",
                               scale_help="paper | smoke (default: paper when real shards are under --data_root)")


if __name__ == "__main__":
    runner.cli(main, define_flags)
