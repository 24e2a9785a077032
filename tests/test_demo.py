"""``make demo``: the table writer, the predict-the-mean baseline, and (slow) the whole demo at one epoch."""
import os
import subprocess
import sys

import numpy as np
import pytest

from hmtl_tf import demo
from hmtl_tf.evaluate import mae_table
from tests.helpers import REPO



def test_table_has_one_block_per_test_set(tmp_path):
    r = {"yaw": 1.0, "pitch": 2.0, "roll": 3.0, "mean": 2.0, "n": 7}
    text = demo.write_table(str(tmp_path / "t.md"), [("A crops", [("SL", r)]), ("B crops", [("SL", r), ("HMTL", r)])])
    assert text == open(tmp_path / "t.md").read()
    assert text.count("| method | yaw | pitch | roll | mean | n |") == 2 and "**B crops**" in text
    assert "| HMTL | 1.000 | 2.000 | 3.000 | 2.000 | 7 | — |" in text  # no SSL heads: no pretext accuracy
    pre = dict(r, pretext={"ssl_acc": 0.5, "ssl_chance": 1 / 9})
    text = demo.write_table(str(tmp_path / "t.md"), [("A crops", [("HMTL", pre)])])
    assert "| method | yaw | pitch | roll | mean | n | pretext acc: held-out / training (chance) |" in text
    assert "| HMTL | 1.000 | 2.000 | 3.000 | 2.000 | 7 | 0.500 (0.111) |" in text
    held = dict(r, pretext={"ssl_acc": 0.5, "ssl_chance": 1 / 9, "test": {"ssl_acc": 0.25, "ssl_chance": 1 / 9}})
    text = demo.write_table(str(tmp_path / "t.md"), [("A crops", [("HMTL", held)])])
    assert "| HMTL | 1.000 | 2.000 | 3.000 | 2.000 | 7 | 0.250 / 0.500 (0.111) |" in text


def test_mean_baseline_is_the_mae_of_the_training_mean():
    rng = np.random.default_rng(0)
    train, test = rng.normal(0, 20, (50, 3)), rng.normal(5, 20, (30, 3))
    got = mae_table(np.broadcast_to(train.mean(0), test.shape), test, ("yaw", "pitch", "roll"))
    want = np.abs(test - train.mean(0)).mean(0)
    np.testing.assert_allclose([got["yaw"], got["pitch"], got["roll"]], want, rtol=1e-6)
    assert abs(got["mean"] - want.mean()) < 1e-5


def test_demo_uses_the_visible_test_crops_and_the_paper_defaults(tmp_path):
    sl, hmtl = demo.demo_configs(str(tmp_path), 8)
    assert sl.data.val == hmtl.data.val == "aflw2000_visible" == demo.TEST_SETS[0][0]
    assert (hmtl.ssl.task, hmtl.ssl.flag, hmtl.ssl.weight, hmtl.ssl.prob) == ("puzzle2x2", 3, 1.0, 1.0)
    assert demo.hmtl_title() == "HMTL 2x2 puzzle, flag 3"
    assert sl.ssl.task == "none" and sl.seed == hmtl.seed and sl.epochs == hmtl.epochs == 8
    assert sl.data.val_split == hmtl.data.val_split == 0.1  # the in-distribution block: held-out source faces


@pytest.mark.slow
def test_demo_end_to_end_sl_learns_below_the_mean_baseline(tmp_path):
    """The whole ``make demo`` (about 10 min here, idle): its files, SL's MAE on the visible-crop test set well below
    predicting the training mean (measured 0.564 of it on 2026-12-03; asserted <= 0.7), every SL angle below its own baseline, and
    the table's "Does training work?" block (issue 13's targets, which this scale does not all meet yet)."""
    r = subprocess.run([sys.executable, "-m", "hmtl_tf.demo", f"--out={tmp_path}"], cwd=REPO,
                       capture_output=True, text=True, timeout=3600,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("table.md", "learning_curves.png", "contact_sheet.png"):
        assert os.path.getsize(tmp_path / name) > 200, name
    text = open(tmp_path / "table.md").read()
    first = text.split("**")[2]  # the visible-crop block
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:6]] for line in first.splitlines()
            if line.startswith("| ") and not line.startswith("| method")}
    base, sl = rows["predict the training mean"], rows["SL (HopeNet)"]
    assert sl[3] <= 0.7 * base[3], rows
    assert all(s < b for s, b in zip(sl[:3], base[:3])), rows
    assert "**Does training work?**" in text and "| HMTL puzzle accuracy / chance |" in text


def test_learning_checks_follow_the_targets():
    base = {"yaw": 30.0, "pitch": 12.0, "roll": 8.0, "mean": 16.667}
    good_sl = {"yaw": 12.0, "pitch": 7.0, "roll": 5.0, "mean": 8.0}
    hm = {"yaw": 12.5, "pitch": 7.5, "roll": 5.2, "mean": 8.4, "pretext": {"ssl_acc": 0.40, "ssl_chance": 1 / 9}}
    checks = demo.learning_checks([("base", base), ("SL", good_sl), ("HMTL", hm)])
    assert all(ok for *_, ok in checks) and len(checks) == 6
    bad_roll = dict(good_sl, roll=6.0)                       # 0.75 of its baseline: fails the per-angle target
    failed = [c for c, _, _, ok in demo.learning_checks([("base", base), ("SL", bad_roll), ("HMTL", hm)]) if not ok]
    assert failed == ["SL roll MAE / baseline"]
    chance_level = dict(hm, pretext={"ssl_acc": 0.2, "ssl_chance": 1 / 9})  # 1.8x chance
    failed = [c for c, _, _, ok in demo.learning_checks([("base", base), ("SL", good_sl), ("HMTL", chance_level)])
              if not ok]
    assert failed == ["HMTL puzzle accuracy / chance"]
    # the held-out accuracy (every test image puzzled) decides when measured, not the training batches'
    held_low = dict(hm, pretext={"ssl_acc": 0.9, "ssl_chance": 1 / 9, "test": {"ssl_acc": 0.2, "ssl_chance": 1 / 9}})
    failed = [c for c, _, _, ok in demo.learning_checks([("base", base), ("SL", good_sl), ("HMTL", held_low)])
              if not ok]
    assert failed == ["HMTL puzzle accuracy / chance"]
    assert "| HMTL mean MAE / SL | 1.050 | <= 1.1 | yes |" in demo.checks_text(checks)
