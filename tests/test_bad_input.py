"""Bad input, on purpose (issue 14): each case is one ``error: ...`` line naming the flag / file, exit status 2, and
nothing half-written. Table-driven and in-process (``hmtl_tf.cli.guarded``, the wrapper every command's
``run_main`` uses); out-of-space is injected (ENOSPC) into train, prepare and export writes."""
import errno
import json
import os

import pytest

from hmtl_tf import cli
from hmtl_tf import config as C


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A few synthetic heads in the published layouts (no TensorFlow needed to write them)."""
    from hmtl_tf.data.synthetic import write_datasets

    out = tmp_path_factory.mktemp("raw")
    write_datasets(str(out), seed=1, n_300wlp=6, n_aflw2000=6, biwi_sequences=1, biwi_frames=3, xgaze_subjects=1,
                   xgaze_per_subject=3, progress=False)
    return out


@pytest.fixture(scope="module")
def shard_root(raw, tmp_path_factory):
    from hmtl_tf.data.convert import prepare_dataset

    out = tmp_path_factory.mktemp("shards")
    for name in ("300w_lp", "aflw2000"):
        prepare_dataset(name, str(raw), str(out), progress=False)
    return out


def _train_argv(shard_root, run, *extra):
    return ["train", "--scale=smoke", f"--data_root={shard_root}", f"--run={run}", "--epochs=1",
            "--steps_per_epoch=1", "--batch_size=2", "--image_size=64"] + list(extra)


def _call_train(argv):
    from absl import flags

    from hmtl_tf import train

    train.define_flags()
    flags.FLAGS.unparse_flags()
    flags.FLAGS(argv)
    return cli.guarded(train.main, ["train"])


def _listing(path):
    return sorted(os.path.relpath(os.path.join(r, f), path) for r, _, fs in os.walk(path) for f in fs) \
        if os.path.isdir(path) else None


# (case, extra argv, words that the one line must contain)
TRAIN_CASES = [
    ("dropout above 1", ["--dropout=1.5"], ["--dropout=1.5", "[0, 1)"]),
    ("negative ssl weight", ["--ssl=puzzle2x2", "--ssl_weight=-1"], ["--ssl_weight=-1", ">= 0"]),
    ("negative lr", ["--lr=-1"], ["--lr=-1", "> 0"]),
    ("negative steps", ["--steps_per_epoch=-3"], ["--steps_per_epoch=-3"]),
    ("batch above the training set", ["--batch_size=4096"], ["--batch_size=4096", "fewer than one batch"]),
    ("missing init file", ["--init=/nonexistent/x.weights.h5"], ["--init=/nonexistent/x.weights.h5", "not found"]),
    ("missing imagenet file", ["--init=imagenet", "--imagenet_weights=/nonexistent/in.h5"],
     ["--init=imagenet", "/nonexistent/in.h5"]),
]


@pytest.mark.parametrize("case,extra,words", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train_bad_input_is_one_line_and_leaves_no_run_dir(case, extra, words, shard_root, tmp_path, capsys):
    run = tmp_path / "R"
    argv = _train_argv(shard_root, run, *extra)
    if "--batch_size=4096" in extra:
        argv.remove("--batch_size=2")
    code = _call_train(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for w in words:
        assert w in err[0], (w, err[0])
    assert not run.exists(), _listing(str(run))  # validated before the run directory is touched (issue 14.2)


def test_train_run_is_a_file(shard_root, tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert _call_train(_train_argv(shard_root, f)) == 2
    err = capsys.readouterr().err.strip()
    assert "--run=" in err and "is a file" in err and len(err.splitlines()) == 1
    assert f.read_text() == "mine"


def test_finished_run_with_another_config_is_refused(shard_root, tmp_path, capsys):
    """Issue 14.1: the config is compared before the DONE marker (old code: "finished run; nothing to do")."""
    from hmtl_tf import rundir

    run = tmp_path / "R"
    run.mkdir()
    cfg = C.make_config("smoke", {"run": str(run), "ssl.task": "puzzle3x3", "ssl.flag": 3})
    (run / "config.json").write_text(cfg.to_json())
    (run / "DONE").write_text("x\n")
    assert rundir.prepare_run_dir(cfg) is None  # same config: finished, nothing to do
    cfg.ssl.flag = 2
    with pytest.raises(C.ConfigError, match=r"finished run with a different config \(ssl\.flag\).*--overwrite"):
        rundir.prepare_run_dir(cfg)
    assert rundir.prepare_run_dir(cfg, overwrite=True) == str(run) and not (run / "DONE").exists()


def _finished_run(tmp_path, shard_root):
    run = tmp_path / "run"
    run.mkdir()
    cfg = C.make_config("smoke", {"run": str(run), "data.data_root": str(shard_root)})
    (run / "config.json").write_text(cfg.to_json())
    return run


EVAL_CASES = [
    ("unknown dataset", dict(dataset="nosuch"), ["--dataset='nosuch'", "aflw2000"]),
    ("not a run", dict(run="/nonexistent/run"), ["--run=/nonexistent/run"]),
]


@pytest.mark.parametrize("case,kw,words", EVAL_CASES, ids=[c[0] for c in EVAL_CASES])
def test_evaluate_bad_input(case, kw, words, tmp_path, shard_root, capsys):
    from hmtl_tf import evaluate

    run = kw.get("run") or str(_finished_run(tmp_path, shard_root))
    before = _listing(run)
    assert cli.guarded(evaluate.evaluate_run, run, kw.get("dataset", "aflw2000")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for w in words:
        assert w in err, (w, err)
    assert _listing(run) == before


@pytest.mark.parametrize("text", ["abc", "15", "15,x", "0,5", "15,5,1"])
def test_evaluate_ensemble_is_parsed(text, capsys):
    from hmtl_tf import evaluate

    assert cli.guarded(evaluate.parse_ensemble, text) == 2
    assert f"--ensemble={text!r}: expected K,d" in capsys.readouterr().err
    assert evaluate.parse_ensemble("15,5") == (15, 5)


def test_dataset_key_is_normalised(tmp_path):
    """Issue 14.4: a shard directory (with or without a trailing /) is one metrics.json key and a valid CSV name."""
    from hmtl_tf.rundir import dataset_key

    d = tmp_path / "shards" / "aflw2000"
    d.mkdir(parents=True)
    assert dataset_key(str(d)) == dataset_key(str(d) + "/") == "aflw2000"
    assert dataset_key("biwi") == "biwi"


def _prepare_opts(raw, out, **kw):
    from hmtl_tf.data.convert import Options

    return Options(dataset=kw.pop("dataset", "aflw2000"), root=str(raw), out=str(out), log=lambda m: None, **kw)


@pytest.mark.parametrize("content", ["{}", None], ids=["empty box file", "another dataset's boxes"])
def test_prepare_boxes_matching_nothing(content, raw, tmp_path, capsys):
    """Issue 14.6: zero matches is an error naming the box file and an example key of each side."""
    from hmtl_tf.data import convert as prepare

    boxes = tmp_path / "boxes.json"
    other = {"01/frame_00003_rgb.png": [{"bbox": [1, 2, 30, 40], "type": "test"}]}
    boxes.write_text(content if content is not None else json.dumps(other))
    out = tmp_path / "out"
    code = cli.guarded(prepare.run, _prepare_opts(raw, out, boxes=str(boxes)))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"--boxes={boxes}" in err and "sample keys e.g. '" in err and "box keys e.g." in err
    if content is None:
        assert "'01/frame_00003_rgb.png'" in err
    assert not out.exists()


def test_unreadable_mat_names_the_file(raw, tmp_path):
    from hmtl_tf.data.sample import DataError
    from hmtl_tf.data.sources._common import load_mat

    bad = tmp_path / "x.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 40)
    with pytest.raises(DataError) as e:
        load_mat(bad)
    msg = str(e.value)
    assert str(bad) in msg and "unreadable .mat" in msg and "IndexError" not in msg and "\n" not in msg


# ------------------------------------------------------------------------------------------- disk full
def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_write_atomic_out_of_space_leaves_nothing(tmp_path):
    from hmtl_tf.rundir import DiskFullError, write_atomic

    path = tmp_path / "metrics.json"
    path.write_text("old")

    def half(tmp):
        with open(tmp, "wb") as f:
            f.write(b"x" * 1000)
        _enospc()

    with pytest.raises(DiskFullError) as e:
        write_atomic(str(path), half)
    msg = str(e.value)
    assert str(path) in msg and "needed" in msg and "free" in msg and "\n" not in msg
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["metrics.json"]
    write_atomic(str(path), "new")
    assert path.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["metrics.json"]


def test_train_checkpoint_out_of_space(tmp_path, monkeypatch):
    """Issue 14.7 (train): the per-epoch checkpoint write runs out of space -> one line, no partial weights file, no
    state.json commit; after freeing space the same epoch end writes the same checkpoint."""
    import keras
    import numpy as np

    from hmtl_tf import runsetup
    from hmtl_tf.rundir import DiskFullError

    keras.utils.set_random_seed(0)
    inp = keras.Input((3,))
    model = keras.Model(inp, {"yaw": keras.layers.Dense(1, name="yaw")(inp)})
    model.compile(optimizer="sgd", loss={"yaw": "mse"})
    model.fit(np.ones((4, 3)), {"yaw": np.ones((4, 1))}, verbose=0)
    run = tmp_path / "run"
    run.mkdir()

    def epoch_end(state):
        cb = runsetup.run_callbacks(str(run), state, model)[0]
        cb.set_model(model)
        cb.on_epoch_begin(0)
        cb.on_epoch_end(0, {"loss": 1.0})

    real = keras.Model.save_weights

    def full_disk(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"\x89HDF partial")
        raise OSError("Unable to synchronously create file (file write failed: errno = 28, error message = "
                      "'No space left on device')")

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    with pytest.raises(DiskFullError, match=r"no space left on device writing .*epoch_001\.weights\.h5"):
        epoch_end({})
    assert _listing(str(run)) == []  # no partial checkpoint, no temporary file, no state.json / history.csv
    monkeypatch.setattr(keras.Model, "save_weights", real)
    epoch_end({})
    assert _listing(str(run)) == ["checkpoints/epoch_001.weights.h5", "history.csv", "state.json"]
    other = tmp_path / "ref.weights.h5"
    model.save_weights(str(other))
    fresh = keras.models.clone_model(model)
    fresh.load_weights(str(run / "checkpoints" / "epoch_001.weights.h5"))
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_prepare_out_of_space_then_rerun_is_identical(raw, tmp_path, monkeypatch, capsys):
    """Issue 14.7 (prepare): ENOSPC while a shard is written -> one line, no partial shard or .tmp; the re-run after
    "freeing space" gives the same shards as a conversion that never failed."""
    import tensorflow as tf

    from hmtl_tf.data import convert as prepare

    ref = tmp_path / "ref"
    prepare.run(_prepare_opts(raw, ref))
    real = tf.io.TFRecordWriter
    calls = {"n": 0}

    class FullWriter:
        def __init__(self, path):
            self.w, self.path = real(path), path

        def write(self, rec):
            self.w.write(rec)

        def close(self):
            self.w.close()
            calls["n"] += 1
            if calls["n"] == 2:  # the second shard hits a full disk
                _enospc()

    monkeypatch.setattr(tf.io, "TFRecordWriter", FullWriter)
    out = tmp_path / "out"
    code = cli.guarded(prepare.run, _prepare_opts(raw, out))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no space left on device writing" in err, err
    names = os.listdir(out / "aflw2000")
    assert not [n for n in names if "tmp" in n], names
    monkeypatch.setattr(tf.io, "TFRecordWriter", real)
    prepare.run(_prepare_opts(raw, out))
    for name in sorted(os.listdir(ref / "aflw2000")):
        if name.endswith(".tfrecord"):
            assert (out / "aflw2000" / name).read_bytes() == (ref / "aflw2000" / name).read_bytes(), name


def test_truncated_shard_is_rewritten_on_resume_and_refused_on_read(raw, tmp_path):
    """Issue 14.8: a finished shard cut short is noticed (old code: "records kept", rc 0)."""
    from hmtl_tf.data import convert as prepare
    from hmtl_tf.data import records
    from hmtl_tf.data.sample import DataError

    prepare.run(_prepare_opts(raw, tmp_path))
    d = tmp_path / "aflw2000"
    shard = sorted(d.glob("test-*.tfrecord"))[0]
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"truncated\?.*re-run"):
        records.shard_files(str(d), "test")
    prepare.run(_prepare_opts(raw, tmp_path))
    assert shard.read_bytes() == good


def test_three_angle_run_on_eth_xgaze_uses_yaw_and_pitch(tmp_path):
    """Issue 14.5: the evaluation targets of a 3-angle run on a set without roll are yaw and pitch (old code asked
    the pipeline for roll: a 51-line InvalidArgumentError)."""
    from hmtl_tf.data.locate import angles_on

    d = tmp_path / "eth_xgaze"
    d.mkdir()
    cfg = C.make_config("smoke")
    assert angles_on(cfg, str(d)) == ("yaw", "pitch") and cfg.model.angles == ("yaw", "pitch")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({"has_roll": True}))
    assert angles_on(C.make_config("smoke"), str(other)) == ("yaw", "pitch", "roll")


def test_help_is_generated_from_the_field_comments():
    """``train --help``: grouped, each flag with its config comment (choices expanded), not "config field X"."""
    text = cli.config_help()
    titles = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert titles == ["data", "model", "ssl", "optim", "mnn", "run"]
    assert "--ssl=none\n      one of none, puzzle2x2, puzzle3x3" in text
    assert "1..4 = after conv2_x .. conv5_x (Sec. 3.2, Fig. 2) [ssl.flag]" in text
    assert "config field" not in text and "see hmtl_tf/config.py" not in text
