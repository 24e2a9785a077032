"""Every experiment row of every table builds and validates its TrainConfig at every scale, in seconds and without
training (issue 15): a misspelt flag or a bad value in a row fails here, not hours into a run. Also fixes the
commands the rows pass to ``hmtl_tf.train`` (the runner CLIs share ``experiments.runner``)."""
import pytest

from experiments import kdoe, mnn
from experiments.plan import TABLES, table_module
from experiments.rows import SCALES, Row
from hmtl_tf import config as C
from hmtl_tf.cli import config_from_args
from tests.helpers import REPO

SUBJECTS = ("subject0000", "subject0003", "subject0004", "subject0005")


def all_rows():
    rows = [(f"table{n}", r) for n in TABLES for r in table_module(n).ROWS]
    rows += [("kdoe", r) for r in kdoe.ROWS] + [("mnn", r) for r in mnn.ROWS]
    return [(t, r) for t, r in rows if not r.is_literature]


def is_train(row: Row, scale: str) -> bool:
    return row.train_argv("runs", scale, SUBJECTS)[2] == "hmtl_tf.train"


@pytest.mark.parametrize("scale", SCALES)
def test_every_row_builds_a_valid_config(scale):
    built = 0
    for table, row in all_rows():
        if not is_train(row, scale):  # KD-OE students run hmtl_tf.distill (its own flags)
            continue
        cfg = row.config("runs", scale, SUBJECTS[: row.subjects])
        assert cfg.scale == scale and cfg.run.endswith(row.run), (table, row.key)
        built += 1
    assert built > 40


def test_row_config_states_the_row():
    t2 = {r.key: r for r in table_module(2).ROWS}
    paper, smoke = t2["hmtl_p3_aug2_rot"].config("runs", "paper"), t2["hmtl_p3_aug2_rot"].config("runs", "smoke")
    assert (paper.ssl.task, paper.ssl.flag, paper.ssl.weight, paper.data.aug_level) == ("puzzle3x3", 3, 50.0, 2)
    assert (paper.epochs, paper.batch_size, paper.optim.lr_drops, paper.optim.warmup_epochs) == (110, 64, (20, 100), 5)
    assert paper.model.init == "runs/paper/pretrain/eth_rotation2x2.weights.h5"
    assert (smoke.epochs, smoke.batch_size, smoke.data.image_size, smoke.data.max_train_samples) == (2, 8, 64, 96)


def test_a_typo_in_a_row_fails_when_the_row_is_built():
    """A row's overrides are checked against the TrainConfig dataclasses when the row is built (at import of its
    table): a misspelt field or a value of the wrong type fails there; a bad choice when its config is built."""
    row = table_module(2).ROWS[0]
    bad = Row(key="x", method="x", paper=row.paper, run="x", overrides={**row.overrides, "ssl.task": "puzzle4x4"})
    with pytest.raises(C.ConfigError, match="--ssl='puzzle4x4'"):
        bad.config("runs", "paper")
    with pytest.raises(C.ConfigError, match="row 'x': unknown config field 'optim.lrr'"):
        Row(key="x", method="x", paper=row.paper, run="x", overrides={"optim.lrr": 0.1})
    with pytest.raises(C.ConfigError, match="row 'x': epochs='ten': expected int"):
        Row(key="x", method="x", paper=row.paper, run="x", overrides={"epochs": "ten"})
    with pytest.raises(C.ConfigError, match="row 'x': 'run' is set by the row's run name"):
        Row(key="x", method="x", paper=row.paper, run="x", overrides={"run": "elsewhere"})
    with pytest.raises(C.ConfigError, match="row 'x': --studnet: unknown flag of hmtl_tf.distill"):
        kdoe.KDRow(key="x", method="x", paper=row.paper, run="x", teacher="t", distill={"studnet": "resnet18"})
    with pytest.raises(C.ConfigError, match="--lrr: unknown flag"):
        config_from_args(["--lrr=0.1"])
    with pytest.raises(C.ConfigError, match="--epochs=ten"):
        config_from_args(["--epochs=ten"])


@pytest.mark.parametrize("scale", SCALES)
def test_every_rows_command_reads_back_to_its_config(scale):
    """The command derived from a row's typed overrides is what ``hmtl_tf.train`` parses back to the row's config."""
    for table, row in all_rows():
        if not is_train(row, scale):
            continue
        ids = SUBJECTS[: row.subjects]
        got = config_from_args(row.train_argv("runs", scale, ids)[3:]).validate()
        assert got == row.config("runs", scale, ids), (table, row.key)


def test_distill_flag_types_are_distills():
    """The student rows' typed ``hmtl_tf.distill`` flags (kdoe.DISTILL_FLAGS) are distill's flags, of its types."""
    import pathlib
    import re

    src = (REPO / "hmtl_tf" / "distill.py").read_text()
    kinds = {"string": str, "integer": int, "float": float, "boolean": bool}
    defined = {name: kinds[k] for k, name in re.findall(r'flags\.DEFINE_(\w+)\("(\w+)"', src)}
    assert {k: defined.get(k) for k in kdoe.DISTILL_FLAGS} == kdoe.DISTILL_FLAGS


def test_config_from_args_reads_booleans_lists_and_renamed_flags():
    cfg = config_from_args(["--scale=smoke", "--flip", "--nocache", "--lr_drops=3,5", "--ssl=rotation2x2",
                            "--ssl_weight=1", "--mnn_alpha_ae=0.5", "--angles=yaw,pitch"])
    assert (cfg.scale, cfg.data.flip, cfg.data.cache, cfg.optim.lr_drops) == ("smoke", True, False, (3, 5))
    assert (cfg.ssl.task, cfg.ssl.weight, cfg.mnn.alpha_ae, cfg.model.angles) == ("rotation2x2", 1.0, 0.5,
                                                                                   ("yaw", "pitch"))


def test_train_commands_of_the_rows():
    """The exact flags a few representative rows pass (one per table / peer), at both scales."""
    t = {n: {r.key: r for r in table_module(n).ROWS} for n in TABLES}
    got = " ".join(t[2]["sl_aug1"].train_argv("runs", "smoke")[3:])
    assert got == ("--run=runs/smoke/sl_aug1 --scale=smoke --train=300w_lp --val=aflw2000 "
                   "--extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --lr=0.001 "
                   "--schedule=step --ssl_weight=50 --flag=3 --ssl=none --aug_level=1 --epochs=2 --batch_size=8 "
                   "--max_train_samples=96")
    got = " ".join(t[2]["sl_aug1_rot"].train_argv("runs", "paper")[3:])
    assert got == ("--run=runs/paper/sl_aug1_rot --scale=paper --train=300w_lp --val=aflw2000 "
                   "--extra_test=aflw2000_full --head=hopenet --bin_size=3 --alpha=2 --dropout=0.5 --epochs=110 "
                   "--lr=0.001 --schedule=step --lr_drops=20,100 --ssl_weight=50 --flag=3 --ssl=none --aug_level=1 "
                   "--warmup_epochs=5 --init=runs/paper/pretrain/eth_rotation2x2.weights.h5")
    for table, row in all_rows():  # every command: --run, --scale first, then --name=value flags only
        for scale in SCALES:
            args = row.train_argv("runs", scale, SUBJECTS[: row.subjects])[3:]
            assert all(a.startswith("--") and "=" in a for a in args), (table, row.key)
            assert [a.split("=")[0] for a in args].count("--epochs") <= 1, (table, row.key)


def row_commands():
    """Every planned job's command (pre-training, training, evaluation) of every table and peer, both scales."""
    from experiments.plan import plan_jobs

    subj = lambda n: [f"s{i}" for i in range(n)]  # noqa: E731  (smoke subject ids, as the runner picks them)
    lines = []
    for scale in SCALES:
        for n in TABLES:
            for j in plan_jobs(table_module(n).ROWS, scale, "runs", subj if scale == "smoke" else None):
                lines.append(f"{n} {j.name} {j.argv[1:]}")
        lines += [f"kdoe {j.name} {j.argv[1:]}" for j in kdoe.plan(kdoe.ROWS, scale, "runs")]
        lines += [f"mnn {j.name} {j.argv[1:]}" for j in mnn.plan(mnn.ROWS, scale, "runs")]
    return lines


def test_row_commands_unchanged():
    """The commands of all rows equal the recorded ones (tests/experiments/row_commands.txt, written from the rows
    before issue 15's restructuring); a deliberate change of a row rewrites that file."""
    import pathlib

    want = (pathlib.Path(__file__).parent / "row_commands.txt").read_text().splitlines()
    got = row_commands()
    diff = [(w, g) for w, g in zip(want, got) if w != g]
    assert len(got) == len(want) and not diff, f"{len(got)} vs {len(want)} commands; first change: {diff[:1]}"
