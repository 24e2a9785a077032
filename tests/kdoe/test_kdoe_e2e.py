"""KD-OE end to end through the real commands (issue 5, experiments/kdoe.py): tiny synthetic shards cropped with
KD-OE-style face boxes (``--crop_policy=boxes``) -> stage 1 ``hmtl_tf.train --family=kdoe`` -> ``hmtl_tf.evaluate
--ensemble=3,1`` -> ``hmtl_tf.distill --student=resnet18`` (stored teacher) -> ``hmtl_tf.evaluate`` of the student.
The commands are the Table 5 rows' smoke commands with CPU-tiny overrides appended (absl: the last value wins)."""
import csv
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import kdoe
from tests.helpers import REPO

TINY = ["--epochs=1", "--steps_per_epoch=2", "--batch_size=4"]


def _write_kdoe_json(path, gt):
    """A KD-OE box file (``{"<file>.jpg": [{"bbox": [x0, y0, x1, y1]}]}``): the 68-point extent with the forehead
    added (their YOLOv5 boxes include it, DATA_FACTS 4)."""
    out = {}
    for sid, g in gt.items():
        lm = np.asarray(g["landmarks68"], np.float64)
        x0, y0, x1, y1 = lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()
        out[f"{sid}.jpg"] = [{"bbox": [float(x0), float(y0 - 0.3 * (y1 - y0)), float(x1), float(y1)]}]
    with open(path, "w") as f:
        json.dump(out, f)
    return str(path)


@pytest.fixture(scope="module")
def tiny_shards(tmp_path_factory):
    from hmtl_tf.data.convert import prepare_dataset
    from hmtl_tf.data.synthetic import write_datasets

    root = tmp_path_factory.mktemp("kdoe_data")
    raw, shards = root / "raw", root / "shards"
    gt = write_datasets(str(raw), seed=0, n_300wlp=8, n_aflw2000=8, biwi_sequences=1, biwi_frames=6,
                        xgaze_subjects=0, progress=False)
    prepare_dataset("300w_lp", str(raw), str(shards), progress=False, crop_policy="boxes",
                    boxes=_write_kdoe_json(root / "300W_LP.json", gt["300w_lp"]))
    prepare_dataset("aflw2000", str(raw), str(shards), progress=False, crop_policy="boxes",
                    boxes=_write_kdoe_json(root / "AFLW2000.json", gt["aflw2000"]))
    prepare_dataset("biwi", str(raw), str(shards), progress=False, crop_policy="boxes")
    return str(shards)


def _run(argv, timings, name):
    t0 = time.time()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1200, env=env)
    timings[name] = round(time.time() - t0, 1)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)


def _best_val_mae(run_dir):
    """The test MAE the trainer logged at the epoch its selection rule reports (the final one by default)."""
    run = _metrics(run_dir)["_run"]
    assert run["selection"] == "final"  # KD-OE stages: the default rule, no model selection on the test set
    with open(os.path.join(run_dir, "history.csv")) as f:
        return float(next(r for r in csv.DictReader(f)
                          if int(r["epoch"]) == run["selected_epoch"])["test_mae_mean"])


@pytest.mark.slow  # four processes, each tracing a ResNet (20-60 s on the shared 2-core CPU)
def test_kdoe_stage1_ensemble_distill_student(tmp_path, tiny_shards):
    rows = {r.key: r for r in kdoe.ROWS}
    runs, timings = str(tmp_path / "runs"), {}
    for ds in ("300w_lp", "aflw2000", "biwi"):
        with open(os.path.join(tiny_shards, ds, "summary.json")) as f:
            assert json.load(f)["crop_policy"] == "boxes"

    teacher = rows["base_r50.aflw2000"]
    t_dir = teacher.run_dir(runs, "smoke")
    _run(teacher.train_argv(runs, "smoke") + [f"--data_root={tiny_shards}", "--crop_policy=boxes"] + TINY,
         timings, "stage1_train")
    assert os.path.isfile(os.path.join(t_dir, "DONE"))
    with open(os.path.join(t_dir, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["model"]["family"] == "kdoe" and cfg["data"]["rotate_deg"] == 15 and cfg["optim"]["optimizer"] == "adam"

    out = _run(teacher.eval_argv(runs, "smoke")[:-1] + ["--dataset=aflw2000", "--ensemble=3,1"], timings,
               "stage1_ensemble_3_1")
    m = _metrics(t_dir)
    plain, ens = m["aflw2000"], m["aflw2000_oe3_1"]
    assert ens["n"] == plain["n"] == 8 and "S=49" in ens["variant"] and "aflw2000_oe3_1" in out
    assert all(np.isfinite(ens[a]) and 0 <= ens[a] < 180 for a in ("yaw", "pitch", "roll", "mean"))
    # the trainer's test MAE at the reported (final) epoch is the evaluation's MAE of the saved inference model
    assert abs(_best_val_mae(t_dir) - plain["mean"]) < 1e-3
    # their Table 2 sweep (CLI): K=0 is the plain prediction, K=3 d=1 the 49-crop ensemble evaluated above
    out = _run([sys.executable, "-m", "hmtl_tf.kdoe.ensemble", f"--run={t_dir}", "--dataset=aflw2000",
                "--grid=0,1;3,1"], timings, "stage1_sweep")
    with open(os.path.join(t_dir, "ensemble_grid_aflw2000.csv")) as f:
        grid = {(int(r["K"]), int(r["d"])): r for r in csv.DictReader(f)}
    assert [int(grid[k]["S"]) for k in ((0, 1), (3, 1))] == [1, 49] and "wrote" in out
    assert abs(float(grid[0, 1]["mean"]) - plain["mean"]) < 1e-3
    assert abs(float(grid[3, 1]["mean"]) - ens["mean"]) < 1e-3

    student = rows["kd_r18.aflw2000"]
    s_dir = student.run_dir(runs, "smoke")
    _run(student.train_argv(runs, "smoke") + ["--K=3", "--d=1", "--max_train_samples=8"] + TINY, timings,
         "distill_resnet18")
    with open(os.path.join(s_dir, "distill.json")) as f:
        info = json.load(f)
    assert info["teacher"] == os.path.abspath(t_dir) and info["S"] == 49 and info["teacher_mode"] == "stored"
    stored = info["teacher_shards"]
    assert stored.startswith(os.path.abspath(t_dir)) and stored.endswith("teacher_shards_K3_d1_n8")
    import tensorflow as tf

    recs = [tf.train.Example.FromString(r.numpy()) for f in sorted(pathlib.Path(stored).glob("*.tfrecord"))
            for r in tf.data.TFRecordDataset(str(f))]
    assert len(recs) == 8
    probs = np.asarray(recs[0].features.feature["teacher/probs"].float_list.value).reshape(2, 3, 198)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-4)  # ensemble of softmaxes: a distribution
    with open(os.path.join(s_dir, "config.json")) as f:
        scfg = json.load(f)
    assert scfg["model"]["backbone"] == "resnet18" and scfg["optim"]["lr"] == 3e-4

    _run(student.eval_argv(runs, "smoke"), timings, "student_eval_aflw2000")
    _run(rows["kd_r18.biwi"].eval_argv(runs, "smoke"), timings, "student_eval_biwi")
    sm = _metrics(s_dir)
    assert sm["aflw2000"]["n"] == 8 and 1 <= sm["biwi"]["n"] <= 6
    assert abs(_best_val_mae(s_dir) - sm["aflw2000"]["mean"]) < 1e-3
    assert all(0 <= sm[d][a] < 180 for d in ("aflw2000", "biwi") for a in ("yaw", "pitch", "roll", "mean"))
    summary = {"timings_s": timings, "teacher": {k: m[k]["mean"] for k in ("aflw2000", "aflw2000_oe3_1")},
               "student": {k: sm[k]["mean"] for k in ("aflw2000", "biwi")}}
    print(json.dumps(summary))
    with open(os.path.join(os.environ.get("KDOE_E2E_SUMMARY_DIR", str(tmp_path)), "kdoe_e2e_summary.json"),
              "w") as f:
        json.dump(summary, f, indent=1)
