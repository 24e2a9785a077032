"""The vocabulary of the experiment tables: a paper number, a pre-training job, a table row (big_vision /
solo-learn style: one small config per row, stating the paper's numbers and the exact command).

A row's ``overrides`` are typed config changes of the paper protocol (SPEC section 5): ``{"section.field": value}``
of ``hmtl_tf.config.TrainConfig``, checked against the dataclasses when the row is built (a misspelt field or a wrong
type fails at import), from which its ``hmtl_tf.train`` command is derived (``hmtl_tf.cli.argv_from_overrides``).
The smoke scale runs the same command with ``--scale=smoke`` and CPU-tiny epochs / batch / data (``SMOKE_*`` below,
SPEC section 1).
Rows that share a ``run`` name share one trained run (Table 3 evaluates Table 2's runs on BIWI; Tables 4 and 5
re-use Table 2's SL and HMTL runs; Table 2's starred rows are their twins' runs on all 2,000 AFLW2000 images).
Every run reports its final epoch unless its overrides name another ``selection`` (SPEC 8).
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hmtl_tf.cli import argv_from_overrides, flag_pairs
from hmtl_tf.config import SMOKE_ROW, ConfigError, TrainConfig, check_overrides, make_config

Overrides = Dict[str, Any]  # {"section.field": value} of TrainConfig ("epochs" for top-level fields)

SCALES = ("paper", "smoke")
# The smoke scale is defined once, in hmtl_tf.config (SMOKE_OVERRIDES + the SMOKE_ROW budgets); names kept here.
SMOKE_EPOCHS = SMOKE_ROW["epochs"]
SMOKE_BATCH = SMOKE_ROW["batch_size"]
SMOKE_MAX_TRAIN = SMOKE_ROW["max_train_samples"]
# Warm-up of every HMTL row that starts from pre-trained weights (ImageNet or our ETH-XGaze SSL pre-training, Tables
# 2-4, LE rows included): Sec. 4.3 "All fine-tuning start with 5 epochs of warmup", where Sec. 4.2 calls those
# rows "fine-tuning on ImageNet / SSL pre-trained weights" and Table 4's caption puts all its trainings "under same
# hyperparameter settings". Random-init rows (and Table 6's shared random init) have none; the KD-OE and MNN rows
# follow their own papers, which state no warm-up.
FINE_TUNE_WARMUP = 5
SMOKE_WARMUP = SMOKE_ROW["warmup_epochs"]
SMOKE_PRETRAIN_EPOCHS = SMOKE_ROW["pretrain_epochs"]
SMOKE_PRETRAIN_STEPS = SMOKE_ROW["pretrain_steps"]
SMOKE_PROBE_BATCHES = SMOKE_ROW["probe_val_batches"]


def smoke_summary() -> str:
    """One line stating the smoke budgets (for the reports)."""
    return (f"64 px, batch {SMOKE_BATCH}, {SMOKE_EPOCHS} epochs of {SMOKE_MAX_TRAIN} 300W-LP images or of all "
            f"images of the ETH-XGaze subjects, pre-training {SMOKE_PRETRAIN_EPOCHS} epoch of "
            f"{SMOKE_PRETRAIN_STEPS} steps")


# ETH-XGaze training subjects used for the 1-4-subject set-ups (Tables 1, 6). The paper does not name them: we
# take the first training ids (0001/0002 are test subjects, DATA_FACTS 3), named as the shards store them. At smoke scale the runner uses the
# first N training subjects present in the synthetic shards instead.
PAPER_SUBJECTS = ("subject0000", "subject0003", "subject0004", "subject0005")


@dataclass(frozen=True)
class Paper:
    """The paper's MAE (degrees) of a row; ``roll`` None for ETH-XGaze (yaw, pitch only)."""

    yaw: float
    pitch: float
    roll: Optional[float]
    mean: float


@dataclass(frozen=True)
class Pretrain:
    """An SSL pre-training job (``hmtl_tf.pretrain``) whose backbone file rows load with ``--init``."""

    name: str
    method: str
    train: str = "eth_xgaze"

    def out(self, runs_dir: str, scale: str) -> str:
        return os.path.join(runs_dir, scale, "pretrain", f"{self.name}.weights.h5")

    def argv(self, runs_dir: str, scale: str) -> List[str]:
        args = ["-m", "hmtl_tf.pretrain", f"--method={self.method}", f"--train={self.train}",
                f"--out={self.out(runs_dir, scale)}", f"--scale={scale}", "--linear_probe"]
        if scale == "smoke":
            args += [f"--epochs={SMOKE_PRETRAIN_EPOCHS}", f"--batch_size={SMOKE_BATCH}",
                     f"--steps_per_epoch={SMOKE_PRETRAIN_STEPS}", f"--probe_val_batches={SMOKE_PROBE_BATCHES}"]
        return [sys.executable] + args


# The pre-training jobs of the paper (Sec. 4.2, 4.3), shared between rows and tables.
PRE_ROT2 = Pretrain("eth_rotation2x2", "rotation2x2")
PRE_PUZ2 = Pretrain("eth_puzzle2x2", "puzzle2x2")
PRE_PUZ3 = Pretrain("eth_puzzle3x3", "puzzle3x3")
PRE_BT = Pretrain("eth_barlow_twins", "barlow_twins")
PRE_BT_STAR = Pretrain("eth_barlow_twins_puzzle", "barlow_twins_puzzle")
# Smoke scale only, when the ImageNet weights file is absent (offline CI, a fresh machine): the rows of
# "ImageNet" pre-training load this backbone instead, through the same ``--init=FILE`` path, so they still run and
# differ from the random-init rows. Its own job (300W-LP images, not ETH-XGaze), so it never equals a Table 2 / 4
# "ETH-XGaze SSL" row's initial weights. The report marks such rows with a dagger.
IMAGENET_STANDIN = Pretrain("imagenet_standin", "rotation2x2", train="300w_lp")
STANDIN_MARK = "†"


@dataclass(frozen=True)
class Row:
    """One row of a paper table. ``run`` None: a literature row (paper number only, nothing to run)."""

    key: str
    method: str
    paper: Paper
    run: Optional[str] = None
    overrides: Overrides = field(default_factory=dict, hash=False)  # the paper-scale TrainConfig changes
    evaluate: str = "aflw2000"               # the metrics.json entry (``hmtl_tf.evaluate --dataset``) reported
    pretrain: Optional[Pretrain] = None      # --init=<its backbone file>
    init_file: str = ""                      # --initial_weights=<runs>/<scale>/init/<init_file> (Table 6)
    init_run: Optional["Row"] = None         # --init=<that row's run>/best.weights.h5, trained first (MNN "Pre+")
    subjects: int = 0                        # ETH-XGaze training subjects (Tables 1, 6)
    columns: Tuple[Tuple[str, str], ...] = ()  # the table's descriptive columns (Flag, Augmentation, ...)
    curve: str = ""                          # figure role: sl / hmtl / wo_sshs (Figs. 6-8)
    note: str = ""

    def __post_init__(self):
        object.__setattr__(self, "overrides", row_overrides(self.overrides, self.key))

    @property
    def is_literature(self) -> bool:
        return self.run is None

    @property
    def flags(self) -> Tuple[Tuple[str, str], ...]:
        """The ``hmtl_tf.train`` flags of the overrides, ``(name, text)`` as on the command line (paper scale)."""
        return tuple(flag_pairs(self.overrides))

    def flag_dict(self) -> Dict[str, str]:
        return dict(self.flags)

    def run_dir(self, runs_dir: str, scale: str) -> str:
        return os.path.join(runs_dir, scale, self.run or "")

    def train_overrides(self, runs_dir: str, scale: str, subjects: Sequence[str] = ()) -> Overrides:
        """The row's overrides at ``scale``: its subjects (``subjects``: smoke-scale ids), initial weights and, at
        smoke scale, the row budgets of ``SMOKE_ROW`` in place of the paper's epochs, LR drops and image size."""
        ov = dict(self.overrides)
        if self.subjects:
            ov["data.subjects"] = tuple(subjects) if scale == "smoke" else PAPER_SUBJECTS[: self.subjects]
        if self.pretrain is not None:
            ov["model.init"] = self.pretrain.out(runs_dir, scale)
        if self.init_run is not None:
            ov["model.init"] = os.path.join(self.init_run.run_dir(runs_dir, scale), "best.weights.h5")
        if self.init_file:
            ov["initial_weights"] = os.path.join(runs_dir, scale, "init", self.init_file)
        if scale == "smoke":
            for k in ("epochs", "optim.lr_drops", "data.image_size"):  # the smoke scale's own (64 px)
                ov.pop(k, None)
            ov["epochs"] = SMOKE_EPOCHS
            ov["batch_size"] = SMOKE_BATCH
            if "optim.warmup_epochs" in ov:
                ov["optim.warmup_epochs"] = SMOKE_WARMUP
            if ov.get("data.train") == "300w_lp":
                ov["data.max_train_samples"] = SMOKE_MAX_TRAIN
        return ov

    def train_argv(self, runs_dir: str, scale: str, subjects: Sequence[str] = ()) -> List[str]:
        """The ``hmtl_tf.train`` command of this row at ``scale``: ``--run``, ``--scale``, then the flags of
        :meth:`train_overrides`."""
        args = [f"--run={self.run_dir(runs_dir, scale)}", f"--scale={scale}"]
        return [sys.executable, "-m", "hmtl_tf.train"] + args + argv_from_overrides(
            self.train_overrides(runs_dir, scale, subjects))

    def config(self, runs_dir: str, scale: str, subjects: Sequence[str] = ()) -> TrainConfig:
        """The validated TrainConfig of this row at ``scale`` (what its command makes ``hmtl_tf.train`` build; no
        training): a bad value raises ConfigError naming it."""
        ov = self.train_overrides(runs_dir, scale, subjects)
        return make_config(scale, {**ov, "run": self.run_dir(runs_dir, scale)}).validate()

    def eval_argv(self, runs_dir: str, scale: str) -> List[str]:
        return [sys.executable, "-m", "hmtl_tf.evaluate", f"--run={self.run_dir(runs_dir, scale)}",
                f"--dataset={self.evaluate}"]


def command_text(argv: Sequence[str]) -> str:
    """A shell line for a docstring / log (``python`` for the interpreter)."""
    return " ".join(["python"] + [shlex.quote(a) for a in argv[1:]])


def row_overrides(overrides: Overrides, key: str = "") -> Overrides:
    """A row's overrides checked against the TrainConfig dataclasses (``config.check_overrides``: known fields, their
    types) and normalised; ``run`` and ``scale`` are the row's run name and the scale, never overrides. ConfigError
    naming the row and the field otherwise."""
    bad = [k for k in overrides if k in ("run", "scale")]
    try:
        if bad:
            raise ConfigError(f"{bad[0]!r} is set by the row's run name / the scale, not by its overrides")
        return check_overrides(overrides)
    except ConfigError as e:
        raise ConfigError(f"row {key!r}: {e}" if key else str(e)) from None


COLUMN_NAMES = {"Pre_train_weights": "Pre-train weights", "Encoder_pre_training": "Encoder pre-training"}


def cols(**kw) -> Tuple[Tuple[str, str], ...]:
    """Descriptive columns of a row, named as in the paper's table header."""
    return tuple((COLUMN_NAMES.get(k, k.replace("_", " ")), str(v)) for k, v in kw.items())


# Set-ups of SPEC section 5 (checked when a row using them is built).
ETH_BASE: Overrides = {"data.train": "eth_xgaze", "data.val": "eth_xgaze", "model.head": "regression",
                       "model.angles": ("yaw", "pitch"), "model.dropout": 0.4, "epochs": 110, "optim.lr": 1e-3,
                       "optim.schedule": "step", "optim.lr_drops": (30, 40), "ssl.weight": 1.0}
# 300W-LP rows: AFLW2000 reduced (--val, reported) and full (--extra_test: the starred rows, Fig. 6) per run.
W300_BASE: Overrides = {"data.train": "300w_lp", "data.val": "aflw2000", "data.extra_test": ("aflw2000_full",),
                        "model.head": "hopenet", "model.bin_size": 3, "model.alpha": 2.0, "model.dropout": 0.5,
                        "epochs": 110, "optim.lr": 1e-3, "optim.schedule": "step", "optim.lr_drops": (20, 100),
                        "ssl.weight": 50.0, "ssl.flag": 3}
