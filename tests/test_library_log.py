"""Library noise goes to ``<run>/library.log``, our own lines to the console and ``<run>/console.log`` (issue 14):
``hmtl_tf.library_log`` alone (a script without TensorFlow), then a tiny ``hmtl_tf.train`` run and ``evaluate``."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from hmtl_tf import library_log
from tests.helpers import REPO

# what TensorFlow, Keras and absl print (native start-up lines, glog-style records, Python warnings / logging)
NOISE = re.compile(r"cuInit|oneDNN|absl::InitializeLog|cudart_stub|UserWarning|INFO:|^[IWEF]\d{4} \d\d:\d\d",
                   re.MULTILINE)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell
    return dict(env, PYTHONPATH=str(REPO), **extra)


def test_terminal_rewrites_collapse_to_the_last_state():
    lines = library_log._Lines()
    assert lines.feed("epoch 1: 1/3\r") == ""
    assert lines.feed("\b" * 12 + "\repoch 1: 3/3 - loss 1.0\n") == "epoch 1: 3/3 - loss 1.0\n"  # Keras' bar
    assert lines.feed("a\nb") == "a\n" and lines.feed("\n") == "b\n"


def test_attach_outside_a_command_changes_nothing(tmp_path):
    assert library_log.attach(str(tmp_path)) is None and library_log.current() is None
    assert os.listdir(tmp_path) == []


SCRIPT = textwrap.dedent("""
    import logging, os, sys, warnings
    from absl import app
    from hmtl_tf import library_log

    def main(argv):
        library_log.start(verbose=sys.argv[2] == "verbose")
        os.write(2, b"I0000 native start-up line\\n")
        warnings.warn("a library warning", UserWarning)
        logging.info("an absl record")
        print("ours: started", flush=True)
        sys.stderr.write("step 1/2\\rstep 2/2\\n")
        if sys.argv[1] != "-":
            library_log.attach(sys.argv[1])
        os.write(2, b"I0000 native line after attach\\n")
        print("ours: done")

    app.run(main)
""")


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_library_lines_go_to_the_run_directory(tmp_path, verbose):
    run = tmp_path / "run"
    run.mkdir()
    script = tmp_path / "fake_command.py"
    script.write_text(SCRIPT)
    p = subprocess.run([sys.executable, str(script), str(run), "verbose" if verbose else "quiet"], cwd=REPO,
                       capture_output=True, text=True, timeout=120, env=_env())
    assert p.returncode == 0, p.stderr
    console = p.stdout + p.stderr
    assert "ours: started" in p.stdout and "ours: done" in p.stdout and "step 2/2" in p.stderr
    library = (run / "library.log").read_text()
    for line in ("native start-up line", "a library warning", "an absl record", "native line after attach"):
        assert line in library, (line, library)
        assert (line in console) == verbose, (line, console)
    assert "ours" not in library
    kept = (run / "console.log").read_text().splitlines()
    assert kept[1:] == ["ours: started", "step 2/2", "ours: done"], kept  # after the "--- date pid argv" header


def test_a_command_that_never_attaches_leaves_its_lines_in_the_fallback_log(tmp_path):
    script = tmp_path / "fake_command.py"
    script.write_text(SCRIPT)
    fallback = tmp_path / "fallback.log"
    p = subprocess.run([sys.executable, str(script), "-", "quiet"], cwd=REPO, capture_output=True, text=True,
                       timeout=120, env=_env(HMTL_LIBRARY_LOG=str(fallback)))
    assert p.returncode == 0 and not NOISE.search(p.stdout + p.stderr), p.stderr
    assert "native start-up line" in fallback.read_text() and "a library warning" in fallback.read_text()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from hmtl_tf.data.smoke import SmokeSizes, ensure_smoke_data

    sizes = SmokeSizes(n_300wlp=16, n_aflw2000=8, biwi_sequences=1, biwi_frames=2, xgaze_subjects=1,
                       xgaze_per_subject=2)
    return ensure_smoke_data(str(tmp_path_factory.mktemp("smoke")), sizes, progress=False)


def test_train_console_has_only_our_lines_and_verbose_shows_the_rest(shards, tmp_path):
    """A tiny run: its console holds our lines only, TensorFlow's start-up lines, Keras' ``shuffle`` warning and the
    SavedModel INFO records are in ``<run>/library.log``; ``evaluate --verbose`` shows them on the console too."""
    run = tmp_path / "run"
    train = subprocess.run([sys.executable, "-m", "hmtl_tf.train", "--scale=smoke", f"--data_root={shards}",
                            f"--run={run}", "--image_size=64", "--batch_size=4", "--epochs=1", "--steps_per_epoch=1",
                            "--val=", "--aug_level=1", "--backbone=resnet18"], cwd=REPO, capture_output=True,
                           text=True, timeout=900, env=_env())
    assert train.returncode == 0, train.stderr[-3000:]
    console = train.stdout + train.stderr
    assert not NOISE.search(console), NOISE.search(console).group(0) + "\n" + console[-3000:]
    assert f"run {run} done" in train.stdout
    library = (run / "library.log").read_text()
    assert "absl::InitializeLog" in library or "oneDNN" in library or "cudart_stub" in library, library[:2000]
    assert "`shuffle=True` was passed" in library  # Keras' UserWarning, recorded rather than silenced
    assert f"run {run} done" in (run / "console.log").read_text()

    ev = subprocess.run([sys.executable, "-m", "hmtl_tf.evaluate", f"--run={run}", "--dataset=aflw2000",
                         f"--data_root={shards}", "--verbose"], cwd=REPO, capture_output=True, text=True,
                        timeout=600, env=_env())
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert NOISE.search(ev.stdout + ev.stderr), ev.stderr[-3000:]  # --verbose: the libraries' lines as well
    assert "aflw2000: MAE" in ev.stdout
    library = (run / "library.log").read_text()
    assert library.count("--- ") >= 2 and "hmtl_tf/evaluate.py" in library  # evaluate appended its own lines
