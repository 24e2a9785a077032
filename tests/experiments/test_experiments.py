"""The experiment runner (experiments/): rows, job planning, resume, reports, figures; smoke rows end to end."""
import csv
import json
import os
import subprocess
import sys

import pytest

from experiments import run as runner
from experiments.plan import TABLES, plan_jobs, select_rows, table_module
from experiments.rows import PRE_BT, SMOKE_BATCH, SMOKE_EPOCHS, SMOKE_MAX_TRAIN, command_text
from tests.helpers import FakeRunner, REPO
from tests.helpers import flag_value as _arg

ALL = {n: table_module(n) for n in TABLES}
# Number of rows in each of the paper's Tables 1-6 (Table 2: 11 literature + 17 of ours; Table 3: 4 + 7).
PAPER_ROWS = {1: 13, 2: 28, 3: 11, 4: 11, 5: 3, 6: 12}


def _subjects(n):
    return [f"subject{i:04d}" for i in range(n)]


@pytest.mark.parametrize("n", TABLES)
def test_every_paper_row_is_listed_with_its_numbers(n):
    rows = ALL[n].ROWS
    assert len(rows) == PAPER_ROWS[n]
    assert len({r.key for r in rows}) == len(rows)
    for r in rows:
        p = r.paper
        angles = [p.yaw, p.pitch] + ([p.roll] if p.roll is not None else [])
        assert len(angles) == len(ALL[n].ANGLES)
        # the paper's "Average" is the mean of its per-angle MAEs (rounded in print), except one printed typo
        if (n, r.key) != (4, "le_bt_star"):
            assert abs(sum(angles) / len(angles) - p.mean) < 0.004, r.key


def test_transcribed_numbers_spot_checks():
    t2 = {r.key: r for r in ALL[2].ROWS}
    assert (t2["hmtl_p3_aug2"].paper.yaw, t2["hmtl_p3_aug2"].paper.mean) == (3.874, 4.74)
    assert t2["sl_aug2_full"].evaluate == "aflw2000_full" and t2["hmtl_p3_aug2_bin1"].flag_dict()["bin_size"] == "1"
    t6 = {r.key: r for r in ALL[6].ROWS}
    assert t6["p2_wo_sshs_s1"].paper.mean == 7.466 and t6["hmtl_p2_s4"].paper.pitch == 4.086
    assert {r.key: r for r in ALL[4].ROWS}["le_bt_star"].paper.roll == 9.873


@pytest.mark.parametrize("n", TABLES)
def test_docstring_states_the_exact_commands(n):
    doc = ALL[n].__doc__
    for r in ALL[n].ROWS:
        if not r.is_literature:
            assert command_text(r.train_argv("runs", "paper")) in doc, r.key
            assert command_text(r.eval_argv("runs", "paper")) in doc, r.key


def test_shared_runs_have_identical_commands_across_tables():
    seen = {}
    for n in TABLES:
        for r in ALL[n].ROWS:
            if r.is_literature:
                continue
            argv = r.train_argv("runs", "paper")
            assert seen.setdefault(r.run, argv) == argv, f"run {r.run} differs in table {n}"
    t3 = [r.run for r in ALL[3].ROWS if r.run]
    t2 = {r.run for r in ALL[2].ROWS if r.run}
    assert {"sl_aug2", "sl_aug2_rot", "hmtl_p3_aug2", "hmtl_p3_aug2_rot"} <= set(t3) & t2


def test_smoke_commands_are_cpu_sized_and_keep_the_protocol():
    row = {r.key: r for r in ALL[4].ROWS}["hmtl_ft_bt"]
    argv = row.train_argv("runs", "smoke")
    assert _arg(argv, "scale") == "smoke" and _arg(argv, "epochs") == str(SMOKE_EPOCHS)
    assert _arg(argv, "lr_drops") is None and _arg(argv, "batch_size") == str(SMOKE_BATCH)
    assert _arg(argv, "warmup_epochs") == "1" and _arg(argv, "max_train_samples") == str(SMOKE_MAX_TRAIN)
    assert _arg(argv, "init") == os.path.join("runs", "smoke", "pretrain", "eth_barlow_twins.weights.h5")
    assert _arg(argv, "ssl") == "puzzle3x3" and _arg(argv, "flag") == "3" and _arg(argv, "ssl_weight") == "50"
    # every row gets the same budget (relative set-up kept); ETH-XGaze rows see all images of their subjects
    eth = {r.key: r for r in ALL[6].ROWS}["sl_s2"].train_argv("runs", "smoke", _subjects(2))
    assert _arg(eth, "batch_size") == str(SMOKE_BATCH) and _arg(eth, "max_train_samples") is None
    pre = PRE_BT.argv("runs", "smoke")
    assert _arg(pre, "epochs") == "1" and int(_arg(pre, "steps_per_epoch")) <= 10
    assert _arg(PRE_BT.argv("runs", "paper"), "epochs") is None  # paper: the pre-training's own 64 epochs


def test_table6_shares_one_initial_weights_file_and_subject_counts():
    jobs = plan_jobs(ALL[6].ROWS, "smoke", "runs", _subjects)
    trains = [j for j in jobs if j.kind == "train"]
    assert len({_arg(j.argv, "initial_weights") for j in trains}) == 1
    assert sorted({_arg(j.argv, "subjects") for j in trains}) == [",".join(_subjects(n)) for n in range(1, 5)]
    paper = {r.key: r.train_argv("runs", "paper") for r in ALL[6].ROWS}
    assert _arg(paper["sl_s2"], "subjects") == "subject0000,subject0003"


def test_pretraining_is_one_shared_job():
    jobs = plan_jobs(ALL[4].ROWS, "paper", "runs")
    pre = [j.name for j in jobs if j.kind == "pretrain"]
    assert pre == ["pretrain/eth_rotation2x2", "pretrain/eth_puzzle2x2", "pretrain/eth_puzzle3x3",
                   "pretrain/eth_barlow_twins", "pretrain/eth_barlow_twins_puzzle"]
    assert [j.kind for j in jobs[:5]] == ["pretrain"] * 5


def test_unknown_row_is_a_one_line_error():
    with pytest.raises(ValueError, match="--rows: unknown row"):
        select_rows(ALL[5].ROWS, ["nope"])


def test_finished_rows_are_not_rerun_and_interruption_resumes(tmp_path):
    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    crashing = FakeRunner(crash_after=1)
    status = runner.run_table(5, "smoke", runs, results, runner=crashing, say=lambda s: None)
    assert sum(v.startswith("failed") for v in status.values()) >= 1
    done_before = {k for k, v in status.items() if v == "done"}
    fake = FakeRunner()
    status = runner.run_table(5, "smoke", runs, results, runner=fake, say=lambda s: None)
    rerun = {f"train/{os.path.basename(_arg(a, 'run'))}" if a[2] == "hmtl_tf.train" else
             f"eval/{os.path.basename(_arg(a, 'run'))}/{_arg(a, 'dataset')}" for a in fake.calls}
    assert rerun and not rerun & done_before
    assert all(v.startswith(("done", "skipped")) for v in status.values())
    again = FakeRunner()
    runner.run_table(5, "smoke", runs, results, runner=again, say=lambda s: None)
    assert again.calls == []


@pytest.fixture
def imagenet_cache(tmp_path, monkeypatch):
    """A stand-in ImageNet weights file in a private Keras cache (the fake runner never reads it)."""
    models = tmp_path / "keras" / "models"
    models.mkdir(parents=True)
    (models / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_text("weights")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


@pytest.mark.parametrize("n", TABLES)
def test_report_has_every_row_with_paper_numbers(tmp_path, n, imagenet_cache):
    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    runner.run_table(n, "smoke", runs, results, runner=FakeRunner(), subjects=_subjects, say=lambda s: None)
    recs = list(csv.DictReader(open(os.path.join(results, f"table{n}.csv"))))
    assert [r["row"] for r in recs] == [r.key for r in ALL[n].ROWS]
    md = open(os.path.join(results, f"table{n}.md")).read()
    assert "Scale: **smoke**" in md and "synthetic" in md
    for rec, row in zip(recs, ALL[n].ROWS):
        assert float(rec["paper_mean"]) == row.paper.mean
        if not row.is_literature:
            assert rec["ours_mean"] != "" and rec["status"] == "done" and rec["run"].endswith(row.run)
            assert abs(float(rec["diff_mean"]) - (float(rec["ours_mean"]) - row.paper.mean)) < 1e-3
            assert f"({row.paper.mean:.3f})" in md
    expected = {1: ["fig4_flags.png"], 2: ["fig6_full_aflw2000.png", "fig7_reduced_aflw2000.png"], 3: [], 4: [],
                5: ["fig8_wo_sshs.png"], 6: ["fig9_subjects.png"]}[n]
    for name in expected:
        assert os.path.getsize(os.path.join(results, name)) > 1000 and name in md


def test_failed_dependency_blocks_its_rows(tmp_path):
    fake = FakeRunner(crash_after=0)
    status = runner.run_table(4, "smoke", str(tmp_path / "runs"), str(tmp_path / "res"), rows=["le_bt"],
                              runner=fake, say=lambda s: None)
    assert status["pretrain/eth_barlow_twins"].startswith("failed")
    assert status["train/t4_le_bt"].startswith("blocked") and len(fake.calls) == 1
    md = open(tmp_path / "res" / "table4.md").read()
    assert "Failed jobs" in md and "blocked" in md


def test_missing_imagenet_weights_paper_scale_leave_the_row_unrun_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    fake = FakeRunner()
    status = runner.run_table(2, "paper", str(tmp_path / "runs"), str(tmp_path / "res"), rows=["sl_aug1_imagenet"],
                              runner=fake, say=lambda s: None)
    want = tmp_path / "keras" / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert status["train/sl_aug1_imagenet"] == f"missing input {want}" and fake.calls == []
    assert status["eval/sl_aug1_imagenet/aflw2000"].startswith("blocked")
    assert "missing input" in open(tmp_path / "res" / "table2.md").read()
    want.parent.mkdir(parents=True)
    want.write_text("weights")
    status = runner.run_table(2, "paper", str(tmp_path / "runs"), str(tmp_path / "res"), rows=["sl_aug1_imagenet"],
                              runner=fake, say=lambda s: None)
    assert status["train/sl_aug1_imagenet"] == "done" and _arg(fake.calls[0], "init") == "imagenet"


def test_smoke_without_imagenet_weights_uses_the_marked_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    fake = FakeRunner()
    rows = ["sl_aug1_imagenet", "hmtl_p3_aug1_imagenet", "sl_aug1"]
    status = runner.run_table(2, "smoke", str(tmp_path / "runs"), str(tmp_path / "res"), rows=rows,
                              runner=fake, say=lambda s: None)
    assert all(v.startswith(("done", "skipped")) for v in status.values()), status
    standin = os.path.join(str(tmp_path / "runs"), "smoke", "pretrain", "imagenet_standin.weights.h5")
    pre = [a for a in fake.calls if a[2] == "hmtl_tf.pretrain"]
    assert len(pre) == 1 and _arg(pre[0], "out") == standin and _arg(pre[0], "train") == "300w_lp"
    inits = {os.path.basename(_arg(a, "run")): _arg(a, "init") for a in fake.calls if a[2] == "hmtl_tf.train"}
    assert inits == {"sl_aug1_imagenet": standin, "hmtl_p3_aug1_imagenet": standin, "sl_aug1": None}
    recs = {r["row"]: r for r in csv.DictReader(open(tmp_path / "res" / "table2.csv"))}
    assert recs["sl_aug1_imagenet"]["Pre-train weights"] == "ImageNet†" and recs["sl_aug1"]["Pre-train weights"] == "-"
    md = open(tmp_path / "res" / "table2.md").read()
    assert "| ImageNet† |" in md and "† The ImageNet weights file is absent here" in md


def test_evaluate_all_adds_biwi_to_finished_runs(tmp_path):
    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    runner.run_table(5, "smoke", runs, results, runner=FakeRunner(), say=lambda s: None)
    fake = FakeRunner()
    runner.evaluate_all("biwi", "smoke", runs, results, runner=fake, say=lambda s: None)
    assert len(fake.calls) == 3 and all(_arg(a, "dataset") == "biwi" for a in fake.calls)
    assert os.path.isfile(os.path.join(results, "table3.md"))
    again = FakeRunner()
    runner.evaluate_all("biwi", "smoke", runs, results, runner=again, say=lambda s: None)
    assert again.calls == []


# ------------------------------------------------------------------ smoke rows through the real commands
# slow tests: rows of each table not covered by the CI test below (pre-training, LE, w/o SSHs, an SSL task on ETH)
SMOKE_ROWS = {1: "puzzle2x2_f3", 2: "sl_aug2_rot", 3: "sl_aug2", 4: "le_rot2", 5: "p3_wo_sshs", 6: "p2_wo_sshs_s1"}


def _run_rows(tmp_path, n, rows, timeout):
    """``python -m experiments.run --table=n --rows=...`` at smoke scale; returns (results dir, stdout)."""
    runs, results = tmp_path / "runs", tmp_path / "results"
    cmd = [sys.executable, "-m", "experiments.run", f"--table={n}", "--scale=smoke", f"--rows={rows}",
           f"--runs_dir={runs}", f"--results_dir={results}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    logs = "\n".join(p.read_text()[-3000:] for p in (runs / "smoke" / "logs").glob("*.log")) if (
        runs / "smoke" / "logs").is_dir() else ""
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs
    # re-running the finished row runs nothing
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "FAILED" not in again.stdout, again.stdout + again.stderr
    assert "0 job(s) run" in again.stdout and "finished earlier, skipped" in again.stdout
    return results, proc.stdout


def _rec(results, n, row):
    with open(results / f"table{n}.csv") as f:
        return {r["row"]: r for r in csv.DictReader(f)}[row]


def _check_row(results, n, row, paper_mean, evaluated_on):
    """The report's row: our per-angle MAE averaging to our mean, the paper's mean, Δ, and the markdown cell."""
    rec = _rec(results, n, row)
    assert rec["status"] == "done" and rec["data"] == "synthetic" and rec["eval"] == evaluated_on, rec
    ours = [float(v) for k, v in rec.items() if k.startswith("ours_") and k != "ours_mean" and v != ""]
    assert len(ours) in (2, 3) and all(v > 0 for v in ours)
    assert abs(sum(ours) / len(ours) - float(rec["ours_mean"])) < 1e-3
    assert float(rec["paper_mean"]) == paper_mean
    assert abs(float(rec["diff_mean"]) - (float(rec["ours_mean"]) - paper_mean)) < 1e-3
    md = (results / f"table{n}.md").read_text()
    # the CSV keeps 4 decimals, the Markdown 3 of the unrounded mean: either neighbour of a tie is the cell
    mean = float(rec["ours_mean"])
    cells = {f"{m:.3f} ({paper_mean:.3f})" for m in (mean - 5e-5, mean, mean + 5e-5)}
    assert any(c in md for c in cells) and "Scale: **smoke**" in md, (cells, md)
    return rec


@pytest.mark.smoke
def test_one_smoke_row_of_every_table(tmp_path):
    """CI: the representative row (Table 2's HMTL) through ``python -m experiments.run`` and the real
    ``hmtl_tf.train`` / ``hmtl_tf.evaluate`` commands at smoke scale, reported by Tables 2-5 from one runs directory.

    The paper's model (HMTL 3x3 puzzle, flag 3, level-2 augmentation) is trained once for Table 2 and evaluated on
    AFLW2000; Table 3 only evaluates that run on BIWI, and Tables 4 and 5 report it without running anything (the
    rows are shared), which shows that a finished row is never trained again. Table 1 (ETH-XGaze) is the next test;
    Table 6 and rows of their own for Tables 4 and 5 (pre-training + linear evaluation; w/o SSHs) are ``slow``."""
    results = tmp_path / "results"
    _, out = _run_rows(tmp_path, 2, "hmtl_p3_aug2", timeout=900)
    assert "train/hmtl_p3_aug2: done" in out  # its AFLW2000 metrics come from the run's final evaluation
    _check_row(results, 2, "hmtl_p3_aug2", 4.74, "aflw2000")
    assert _rec(results, 2, "sl_aug2")["status"] == "not run"
    assert float(_rec(results, 2, "hopenet")["paper_mean"]) == 6.155  # a literature row carries its number
    run_dir = tmp_path / "runs" / "smoke" / "hmtl_p3_aug2"
    assert (run_dir / "DONE").is_file() and not (run_dir / "checkpoints").exists()  # pruned once finished
    hist = list(csv.DictReader(open(run_dir / "history.csv")))
    assert float(hist[-1]["ssl_chance"]) == pytest.approx(1 / 9) and 0.0 <= float(hist[-1]["ssl_acc"]) <= 1.0
    assert json.load(open(run_dir / "metrics.json"))["_run"]["selection"] == "final"

    _, out = _run_rows(tmp_path, 3, "hmtl_p3_aug2", timeout=600)  # Table 3 = Table 2's model on BIWI
    assert "train/hmtl_p3_aug2: finished earlier, skipped" in out and "eval/hmtl_p3_aug2/biwi: done" in out
    _check_row(results, 3, "hmtl_p3_aug2", 4.166, "biwi")
    for n in (4, 5):  # shared rows: reported, nothing run
        _, out = _run_rows(tmp_path, n, "hmtl_p3_aug2", timeout=600)
        assert "0 job(s) run" in out, out
        _check_row(results, n, "hmtl_p3_aug2", 4.74, "aflw2000")


@pytest.mark.smoke
def test_table_1_sl_row_trains_on_eth_xgaze(tmp_path):
    """CI: Table 1's SL row, the 2-angle (yaw, pitch) ETH-XGaze path end to end; a test of its own, so that the
    two pytest workers run it beside the Table 2 row above."""
    results = tmp_path / "results"
    _, out = _run_rows(tmp_path, 1, "sl", timeout=600)
    assert "train/t1_sl: done" in out
    rec = _check_row(results, 1, "sl", 6.095, "eth_xgaze")
    assert rec["ours_roll"] == ""  # ETH-XGaze: yaw and pitch only


@pytest.mark.smoke
@pytest.mark.slow  # ~1.5 min: CI trains one representative row per path (above); every row's config is checked
# without training by tests/experiments/test_row_configs.py
def test_table_6_one_subject_hmtl_row(tmp_path):
    """Table 6's one-subject HMTL row (ETH-XGaze, puzzle 2x2)."""
    results = tmp_path / "results"
    _, out = _run_rows(tmp_path, 6, "hmtl_p2_s1", timeout=600)
    assert "train/t6_hmtl_p2_s1: done" in out
    _check_row(results, 6, "hmtl_p2_s1", 5.116, "eth_xgaze")


@pytest.mark.smoke
@pytest.mark.slow  # ~1.5 min per row on the shared 2-core CPU; le_rot2 adds its pre-training job (~1.5 min)
@pytest.mark.parametrize("n", TABLES)
def test_smoke_row_end_to_end(tmp_path, n):
    """One row per table through ``python -m experiments.run`` and the real train / evaluate / pretrain commands."""
    results, _ = _run_rows(tmp_path, n, SMOKE_ROWS[n], timeout=1800)
    rec = {r["row"]: r for r in csv.DictReader(open(results / f"table{n}.csv"))}[SMOKE_ROWS[n]]
    assert rec["status"] == "done" and float(rec["ours_mean"]) > 0 and rec["data"] == "synthetic"


def test_mnn_nme_column_reads_the_best_epoch(tmp_path):
    from experiments import mnn

    run = tmp_path / "runs" / "smoke" / "mnn_sym"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"_run": {"best_epoch": 2}}))
    (run / "history.csv").write_text("epoch,val_mae_mean,val_nme\n1,9,7.5\n2,8,6.25\n3,8.5,5.0\n")
    assert mnn.best_epoch_nme(str(run)) == 6.25
    recs = [{} for _ in mnn.ROWS]
    mnn.add_nme(recs, mnn.ROWS, str(tmp_path / "runs"), "smoke")
    by_key = {r.key: rec["NME %"] for r, rec in zip(mnn.ROWS, recs)}
    assert by_key["mnn_sym.aflw2000"] == "6.25 (2.77)" and by_key["mnn_sym.biwi"] == "—"
    assert by_key["mnn_pose.aflw2000"] == "—"


def test_mnn_strategies_share_one_landmark_stage_and_report_every_row(tmp_path):
    from experiments import mnn

    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    fake = FakeRunner()
    status = mnn.run_mnn("smoke", runs, results, runner=fake, say=lambda s: None)
    assert all(v.startswith(("done", "skipped")) for v in status.values()), status
    trains = [(os.path.basename(_arg(a, "run")), _arg(a, "tasks"), _arg(a, "init")) for a in fake.calls
              if a[2] == "hmtl_tf.train"]
    names = [t[0] for t in trains]
    assert names.count("mnn_pre") == 1 and names.index("mnn_pre") < names.index("mnn_pre_sym")
    pre = os.path.join(runs, "smoke", "mnn_pre", "best.weights.h5")
    assert {t[0]: (t[1], t[2]) for t in trains} == {
        "mnn_pose": ("pose", None), "mnn_sym": ("all", None), "mnn_pre": ("landmarks", None),
        "mnn_pre_sym": ("all", pre), "mnn_pre_pose": ("pose", pre)}
    assert all(_arg(a, "family") == "mnn" and _arg(a, "image_size") is None for a in fake.calls
               if a[2] == "hmtl_tf.train")  # smoke: the smoke scale's 64 px
    recs = list(csv.DictReader(open(os.path.join(results, "mnn.csv"))))
    assert [r["row"] for r in recs] == [r.key for r in mnn.ROWS] and all(r["ours_mean"] != "" for r in recs)
    md = open(os.path.join(results, "mnn.md")).read()
    assert "(3.830)" in md and "(3.660)" in md  # their Table 2 MNN row beside Pre+Sym
    assert "| — |" in md  # FakeRunner writes no NME
    paper = {r.key: r.train_argv("runs", "paper") for r in mnn.ROWS}
    assert _arg(paper["mnn_pose.biwi"], "image_size") == "256" and _arg(paper["mnn_pose.biwi"], "optimizer") == "adam"
    again = FakeRunner()
    mnn.run_mnn("smoke", runs, results, runner=again, say=lambda s: None)
    assert again.calls == []


# ------------------------------------------------------------------ issue 12 items 2-3: selection rule, starred rows
def test_starred_row_shares_its_run_with_its_twin(tmp_path):
    """Sec. 4.2 / Fig. 6: SL* and HMTL* are the SL / HMTL runs evaluated on all 2,000 AFLW2000 images: one training
    job, which evaluates (and monitors per epoch) the full set itself, so the starred row's entry needs no job."""
    t2 = {r.key: r for r in ALL[2].ROWS}
    for star, twin in (("sl_aug2_full", "sl_aug2"), ("hmtl_p3_aug2_full", "hmtl_p3_aug2")):
        assert t2[star].run == t2[twin].run == twin and t2[star].flags == t2[twin].flags
        assert (t2[star].evaluate, t2[twin].evaluate) == ("aflw2000_full", "aflw2000")
        assert t2[star].run_dir("runs", "paper") == t2[twin].run_dir("runs", "paper")
        argv = t2[twin].train_argv("runs", "paper")
        assert _arg(argv, "val") == "aflw2000" and _arg(argv, "extra_test") == "aflw2000_full"
    jobs = plan_jobs([t2["sl_aug2"], t2["sl_aug2_full"]], "smoke", str(tmp_path / "runs"))
    assert [j.name for j in jobs if j.kind == "train"] == ["train/sl_aug2"]
    assert {j.name for j in jobs if j.kind == "evaluate"} == {"eval/sl_aug2/aflw2000", "eval/sl_aug2/aflw2000_full"}
    fake = FakeRunner()
    runs, results = str(tmp_path / "runs"), str(tmp_path / "res")
    status = runner.run_table(2, "smoke", runs, results, rows=["sl_aug2", "sl_aug2_full"], runner=fake,
                              say=lambda s: None)
    assert [a[2] for a in fake.calls] == ["hmtl_tf.train"]  # trained once; both entries come from that run
    assert status["eval/sl_aug2/aflw2000_full"] == "skipped (done)"
    recs = {r["row"]: r for r in csv.DictReader(open(os.path.join(results, "table2.csv")))}
    assert recs["sl_aug2_full"]["run"] == recs["sl_aug2"]["run"] and recs["sl_aug2_full"]["status"] == "done"
    assert os.path.getsize(os.path.join(results, "fig6_full_aflw2000.png")) > 1000


def test_reports_state_the_selection_rule_of_every_number(tmp_path):
    """Every report row names the rule (and epoch) of its weights; a best-on-test row is flagged in the report."""
    from experiments import report, table2

    runs = str(tmp_path / "runs")
    ours = [r for r in table2.ROWS if not r.is_literature][:3]
    lit = [r for r in table2.ROWS if r.is_literature][:1]
    rules = [("final", 110), ("best_heldout", 87), ("best_on_test", 93)]
    for row, (rule, epoch) in zip(ours, rules):
        d = tmp_path / "runs" / "smoke" / row.run
        d.mkdir(parents=True, exist_ok=True)
        entry = {"yaw": 5.0, "pitch": 4.0, "roll": 3.0, "mean": 4.0, "n": 10, "selection": rule,
                 "selected_epoch": epoch}
        (d / "metrics.json").write_text(json.dumps({row.evaluate: entry, "_run": {"selection": rule,
                                                                                "selected_epoch": epoch}}))
    recs = report.records(2, ours + lit, runs, "smoke")
    assert [r["weights"] for r in recs] == ["final (ep 110)", "best held-out (ep 87)", "BEST ON TEST (ep 93)", ""]
    assert [r["selection"] for r in recs[:3]] == ["final", "best_heldout", "best_on_test"]
    md = tmp_path / "t.md"
    report.write_markdown(str(md), table2, recs, "smoke", "synthetic")
    text = md.read_text()
    assert "| Weights |" in text and "| final (ep 110) |" in text and "| BEST ON TEST (ep 93) |" in text
    assert "`final` = the last epoch" in text and "Warning: 1 row(s) report the best epoch on the test set" in text
    csv_path = tmp_path / "t.csv"
    report.write_csv(str(csv_path), recs)
    assert [r["selection"] for r in csv.DictReader(open(csv_path))][:3] == ["final", "best_heldout", "best_on_test"]
    # a default-rule report has the rule line and no warning
    report.write_markdown(str(md), table2, recs[:1], "smoke", "synthetic")
    assert "Warning" not in md.read_text() and "`final` = the last epoch" in md.read_text()
