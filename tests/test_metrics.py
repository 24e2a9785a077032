"""SSL pretext accuracy (issue 13): tie-split top-1 per head, its chance level, the training logs, metrics.json."""
import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from hmtl_tf import metrics
from hmtl_tf.config import make_config
from hmtl_tf.models import MultiTaskModel
from hmtl_tf.models.heads import ssl_head_specs


def np_tie_split_accuracy(labels, logits):
    """Reference: 1/|argmax set| when the label is in it, else 0 (labels: indices or one-hot rows)."""
    logits = np.asarray(logits, np.float64)
    top = logits == logits.max(axis=-1, keepdims=True)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[-1] == logits.shape[-1]:
        hit = (labels * top).sum(-1)
    else:
        hit = top[np.arange(len(logits)), labels.reshape(-1)]
    return hit / top.sum(-1)


def _both(fn, *args):
    """``fn(*args)`` eagerly and inside a tf.function, as NumPy."""
    return fn(*args).numpy(), tf.function(fn)(*args).numpy()


@pytest.mark.parametrize("k", [4, 9])
def test_perfect_head_scores_one_and_uniform_head_scores_chance(k):
    rng = np.random.default_rng(k)
    labels = rng.integers(0, k, 16).astype(np.int32)
    perfect = np.where(np.arange(k)[None] == labels[:, None], 5.0, -5.0).astype(np.float32)
    uniform = np.zeros((16, k), np.float32)  # = softmax 1/k everywhere
    chance = metrics.chance_accuracy(k)
    assert chance == 1.0 / k
    for got in _both(metrics.pretext_accuracy, labels, perfect):
        np.testing.assert_array_equal(got, np.ones(16, np.float32))
    for got in _both(metrics.pretext_accuracy, labels, uniform):
        np.testing.assert_array_equal(got, np.full(16, np.float32(1.0 / k)))  # every sample: exactly 1/k
        assert abs(float(got.mean()) - chance) < 1e-7
    onehot = np.eye(k, dtype=np.float32)[labels]  # one-hot targets give the same numbers
    for got in _both(metrics.pretext_accuracy, onehot, uniform):
        np.testing.assert_array_equal(got, np.full(16, np.float32(1.0 / k)))
    # column labels (B, 1) are indices, not one-hot
    np.testing.assert_array_equal(metrics.pretext_accuracy(labels[:, None], perfect).numpy(), np.ones(16))


def test_mixed_case_matches_numpy_and_a_hand_count():
    labels = np.array([0, 1, 2, 3, 2, 0], np.int32)
    logits = np.array([[3, 1, 0, 0],      # right            -> 1
                       [3, 1, 0, 0],      # wrong            -> 0
                       [0, 2, 2, 0],      # tie of 2, in it  -> 1/2
                       [0, 2, 2, 0],      # tie of 2, not    -> 0
                       [1, 1, 1, 0],      # tie of 3, in it  -> 1/3
                       [7, 7, 7, 7]],     # uniform          -> 1/4
                      np.float32)
    hand = np.array([1, 0, 0.5, 0, 1 / 3, 0.25])
    np.testing.assert_allclose(np_tie_split_accuracy(labels, logits), hand)
    for got in _both(metrics.pretext_accuracy, labels, logits):
        np.testing.assert_allclose(got, hand, rtol=1e-6)
    rng = np.random.default_rng(1)  # random logits with ties (integers), indices and soft targets
    z = rng.integers(0, 3, (64, 9)).astype(np.float32)
    y = rng.integers(0, 9, 64)
    for got in _both(metrics.pretext_accuracy, y, z):
        np.testing.assert_allclose(got, np_tie_split_accuracy(y, z), rtol=1e-6)
    soft = rng.dirichlet(np.ones(9), 64).astype(np.float32)
    np.testing.assert_allclose(metrics.pretext_accuracy(soft, z).numpy(), np_tie_split_accuracy(soft, z), rtol=1e-5)
    assert metrics.pretext_accuracy([0], [[np.nan, np.nan]]).numpy()[0] == 0.0  # non-finite: 0, not NaN


def test_tie_split_is_the_expected_accuracy_of_a_random_tie_break():
    z = np.array([[1, 1, 1, 0, 0]], np.float32)
    want = np.mean([float(c == 1) for c in (0, 1, 2)])  # label 1, argmax drawn uniformly from {0, 1, 2}
    assert abs(float(metrics.pretext_accuracy([1], z)[0]) - want) < 1e-7


def test_chance_levels_of_the_tasks():
    def chance(task):
        return metrics.pretext_chance([k for _, n, k in ssl_head_specs(task) for _ in range(n)])
    assert chance("puzzle2x2") == 0.25 and chance("rotation2x2") == 0.25 and chance("puzzle_rotation2x2") == 0.25
    assert abs(chance("puzzle3x3") - 1 / 9) < 1e-12
    assert metrics.pretext_chance([9, 4]) == (1 / 9 + 1 / 4) / 2
    accs = metrics.pretext_accuracies({"a": [0, 1], "b": [1, 1]}, {"a": [[1.0, 0.0]] * 2, "b": [[0.0, 0.0]] * 2},
                                      ["a", "b"])
    np.testing.assert_allclose(accs["a"].numpy(), [1, 0])
    np.testing.assert_allclose(accs["mean"].numpy(), [0.75, 0.25])


def test_pretext_summary_takes_the_last_epoch_and_is_empty_without_ssl():
    hist = [{"epoch": 1, "loss": 3.0, "ssl_acc": 0.3, "ssl_chance": 0.25, "ssl_acc_puzzle_0": 0.2,
             "ssl_acc_puzzle_1": 0.4},
            {"epoch": 2, "loss": 2.0, "ssl_acc": 0.5, "ssl_chance": 0.25, "ssl_acc_puzzle_0": 0.6,
             "ssl_acc_puzzle_1": 0.4}]
    s = metrics.pretext_summary(hist, best_epoch=1)
    assert (s["epoch"], s["ssl_acc"], s["ssl_chance"], s["best_epoch_ssl_acc"]) == (2, 0.5, 0.25, 0.3)
    assert s["heads"] == {"puzzle_0": 0.6, "puzzle_1": 0.4}
    assert metrics.pretext_summary([{"epoch": 1, "loss": 1.0}]) == {} and metrics.pretext_summary([]) == {}


def _stub_model(task="puzzle2x2"):
    """MultiTaskModel on a tiny stand-in network with the HMTL output keys (the metrics need no ResNet)."""
    cfg = make_config("smoke", {"ssl.task": task, "model.head": "regression"})
    x = keras.Input((3,), name="image")
    outs = {a: keras.layers.Dense(1, name=f"head_{a}")(x) for a in cfg.model.angles}
    for branch, n, k in ssl_head_specs(task):
        outs.update({f"{branch}_{i}": keras.layers.Dense(k, name=f"{branch}{i}")(x) for i in range(n)})
    return MultiTaskModel(keras.Model(x, outs), cfg), cfg


def test_training_model_logs_accuracy_only_with_ssl_targets():
    model, cfg = _stub_model()
    labels = np.array([0, 1, 2, 3], np.int32)
    y = {a: np.zeros(4, np.float32) for a in cfg.model.angles}
    y_ssl = dict(y, **{f"puzzle_{i}": labels for i in range(4)})
    pred = {a: tf.zeros((4, 1)) for a in cfg.model.angles}
    perfect = dict(pred, **{f"puzzle_{i}": tf.one_hot(labels, 4) for i in range(4)})
    logs = model.compute_metrics(None, y_ssl, perfect)
    assert float(logs["ssl_acc"]) == 1.0 and float(logs["ssl_chance"]) == 0.25
    assert all(float(logs[f"ssl_acc_puzzle_{i}"]) == 1.0 for i in range(4))
    model.reset_metrics()
    uniform = dict(pred, **{f"puzzle_{i}": tf.zeros((4, 4)) for i in range(4)})
    logs = tf.function(model.compute_metrics)(None, y_ssl, uniform)
    assert abs(float(logs["ssl_acc"]) - 0.25) < 1e-7 and float(logs["ssl_chance"]) == 0.25
    model.reset_metrics()
    val = model.compute_metrics(None, y, pred)  # validation: no SSL targets -> no SSL accuracy keys
    assert not any(k.startswith("ssl_") for k in val) and "mae_mean" in val
    sl, _ = _stub_model("none")
    assert not any(k.startswith("ssl_") for k in sl.compute_metrics(None, y, pred))


@pytest.mark.slow  # ~20 s; in `make test` the smoke row of every table checks ssl_acc in a real CLI run
def test_tiny_hmtl_fit_writes_pretext_accuracy_to_history_and_metrics(shards, tmp_path):
    """Two training steps of puzzle2x2 HMTL (64 px, batch 4): ssl_acc (+ per head) and ssl_chance in history.csv
    (training only: no val_ssl_*), and the last epoch's summary in metrics.json with the held-out accuracy."""
    from hmtl_tf import train

    run = tmp_path / "hmtl"
    cfg = make_config("smoke", {"data.data_root": shards, "data.image_size": 64, "batch_size": 4,
                                "data.aug_level": 1, "seed": 3, "ssl.task": "puzzle2x2", "ssl.flag": 3,
                                "model.backbone": "resnet18", "epochs": 1, "steps_per_epoch": 2,
                                "data.val": "aflw2000", "run": str(run)})
    train.run(cfg, verbose=0)
    hist = pd.read_csv(run / "history.csv")
    assert {"ssl_acc", "ssl_chance"} | {f"ssl_acc_puzzle_{i}" for i in range(4)} <= set(hist.columns)
    assert not any(c.startswith("val_ssl") for c in hist.columns)
    assert list(hist["ssl_chance"]) == [0.25] and hist["ssl_acc"].between(0, 1).all()
    np.testing.assert_allclose(hist["ssl_acc"], hist[[f"ssl_acc_puzzle_{i}" for i in range(4)]].mean(axis=1),
                               rtol=1e-5)
    pre = json.loads((run / "metrics.json").read_text())["_pretext"]
    assert pre["ssl_chance"] == 0.25 and abs(pre["ssl_acc"] - hist["ssl_acc"].iloc[-1]) < 1e-9
    assert set(pre["heads"]) == {f"puzzle_{i}" for i in range(4)} and pre["epoch"] == 1
    held = pre["test"]  # the SSL heads on the test images, every one puzzled (hmtl_tf.pretext_eval)
    assert held["dataset"] == "aflw2000" and held["n"] > 0 and held["ssl_chance"] == 0.25
    assert 0 <= held["ssl_acc"] <= 1 and set(held["heads"]) == set(pre["heads"])


def test_table_reports_have_a_pretext_column(tmp_path):
    """Tables 1-6: ``held-out / training (chance)`` for a row whose run has SSL heads, — for one without and for literature."""
    from experiments import report, table2

    runs = str(tmp_path / "runs")
    ours = [r for r in table2.ROWS if not r.is_literature][:2]
    lit = [r for r in table2.ROWS if r.is_literature][:1]
    held = {"ssl_acc": 0.4321, "ssl_chance": 1 / 9, "test": {"ssl_acc": 0.3012, "ssl_chance": 1 / 9}}
    for row, pre in zip(ours, (held, {})):
        d = tmp_path / "runs" / "smoke" / row.run
        d.mkdir(parents=True, exist_ok=True)
        entry = {"yaw": 5.0, "pitch": 4.0, "roll": 3.0, "mean": 4.0, "n": 10}
        (d / "metrics.json").write_text(json.dumps({row.evaluate: entry, "_pretext": pre}))
    recs = report.records(2, ours + lit, runs, "smoke")
    assert (recs[0]["pretext_acc"], recs[0]["pretext_chance"], recs[0]["pretext_test_acc"]) == (0.4321, 1 / 9, 0.3012)
    assert recs[1]["pretext_acc"] is None and recs[2]["pretext_acc"] is None
    md = tmp_path / "t.md"
    report.write_markdown(str(md), table2, recs, "smoke", "synthetic")
    lines = md.read_text().splitlines()
    head = next(line for line in lines if line.startswith("| Method"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    i = cols.index("Pretext acc held-out / training (chance)")
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines
            if line.startswith("| ") and not line.startswith("| Method")]
    assert [b[i] for b in body] == ["0.301 / 0.432 (0.111)", "—", "—"]
    report.write_csv(str(tmp_path / "t.csv"), recs)
    assert "pretext_acc" in (tmp_path / "t.csv").read_text().splitlines()[0]
