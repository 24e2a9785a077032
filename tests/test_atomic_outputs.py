"""Every file the experiments, the demo and the KD-OE ensemble write is whole or absent (issue 14): a write that runs
out of space half-way (an injected ENOSPC) is one DiskFullError line, leaves no partial or temporary file, and the
previous version of the file is intact."""
import errno
import os

import pytest

from hmtl_tf import rundir
from hmtl_tf.rundir import DiskFullError


def _snapshot(folder):
    return {n: open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, n))}


class _HalfThenFull:
    """A file whose first write stores half of the data, then fails as a full disk does."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)


def fail_writing(monkeypatch, name):
    """From now on the temporary file of ``name`` (rundir.write_atomic's ``.tmp<pid>_<name>``) fills the disk
    half-way; figures (``Figure.savefig``) of that name too."""
    import matplotlib.figure

    real_open, real_savefig = open, matplotlib.figure.Figure.savefig

    def fake_open(path, *args, **kw):
        f = real_open(path, *args, **kw)
        return _HalfThenFull(f) if str(path).endswith("_" + name) else f

    def fake_savefig(self, path, *args, **kw):
        real_savefig(self, path, *args, **kw)
        if str(path).endswith("_" + name):
            os.truncate(path, os.path.getsize(path) // 2)
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir, "open", fake_open, raising=False)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fake_savefig)


def _assert_intact(folder, before, name):
    after = _snapshot(folder)
    assert sorted(after) == sorted(before), (sorted(after), sorted(before))  # no partial / temporary file
    assert after[name] == before[name]


@pytest.fixture
def table5(tmp_path, monkeypatch):
    """Table 5's report (csv, md, Fig. 8) from fake finished runs (tests.helpers.FakeRunner)."""
    from experiments import run as runner
    from tests.helpers import FakeRunner

    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    runner.run_table(5, "smoke", runs, results, runner=FakeRunner(), say=lambda s: None)
    return runs, results


@pytest.mark.parametrize("name", ["table5.csv", "table5.md"])
def test_table_report_written_whole_or_not_at_all(table5, monkeypatch, name):
    from experiments import run as runner

    runs, results = table5
    before = _snapshot(results)
    fail_writing(monkeypatch, name)
    with pytest.raises(DiskFullError, match=rf"no space left on device writing .*{name}"):
        runner.write_report(5, "smoke", runs, results, say=lambda s: None)
    _assert_intact(results, before, name)


def test_figure_written_whole_or_not_at_all(table5, monkeypatch):
    from experiments import run as runner

    runs, results = table5
    before = _snapshot(results)
    assert len(before["fig8_wo_sshs.png"]) > 1000
    fail_writing(monkeypatch, "fig8_wo_sshs.png")
    said = []
    runner.write_report(5, "smoke", runs, results, say=said.append)  # a figure never hides the table
    assert any("no space left on device writing" in s and "fig8_wo_sshs.png" in s for s in said), said
    after = _snapshot(results)
    assert sorted(after) == sorted(before) and after["fig8_wo_sshs.png"] == before["fig8_wo_sshs.png"]


@pytest.mark.parametrize("module,name", [("kdoe", "kdoe_table5.md"), ("kdoe", "kdoe_table5.csv"),
                                         ("mnn", "mnn.md"), ("mnn", "mnn.csv")])
def test_kdoe_and_mnn_reports_written_whole_or_not_at_all(tmp_path, monkeypatch, module, name):
    import importlib

    mod = importlib.import_module(f"experiments.{module}")
    runs, results = str(tmp_path / "runs"), str(tmp_path / "results")
    mod.write_report(mod.ROWS, "smoke", runs, results, {}, say=lambda s: None)  # the report of rows not run yet
    before = _snapshot(results)
    fail_writing(monkeypatch, name)
    with pytest.raises(DiskFullError, match=name):
        mod.write_report(mod.ROWS, "smoke", runs, results, {}, say=lambda s: None)
    _assert_intact(results, before, name)


def test_ensemble_grid_csv_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from hmtl_tf.kdoe.ensemble import write_grid_csv

    path = str(tmp_path / "ensemble_grid_aflw2000.csv")
    rows = [{"K": 0, "d": 1, "S": 1, "yaw": 4.0, "pitch": 5.0, "roll": 3.0, "mean": 4.0, "n": 10}]
    write_grid_csv(path, rows)
    before = _snapshot(str(tmp_path))
    fail_writing(monkeypatch, "ensemble_grid_aflw2000.csv")
    with pytest.raises(DiskFullError):
        write_grid_csv(path, rows * 50)
    _assert_intact(str(tmp_path), before, "ensemble_grid_aflw2000.csv")


def test_demo_table_and_curves_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from hmtl_tf import demo

    out = tmp_path / "out"
    out.mkdir()
    runs = []
    for name in ("sl", "hmtl"):
        run = tmp_path / name
        run.mkdir()
        (run / "history.csv").write_text("epoch,mae_mean,test_mae_mean\n1,9,10\n2,7,8\n")
        runs.append((name, str(run)))
    r = {"yaw": 1.0, "pitch": 2.0, "roll": 3.0, "mean": 2.0, "n": 7}
    demo.write_table(str(out / "table.md"), [("A crops", [("SL", r)])])
    demo.plot_curves(str(out / "learning_curves.png"), runs)
    before = _snapshot(str(out))
    fail_writing(monkeypatch, "table.md")
    with pytest.raises(DiskFullError, match="table.md"):
        demo.write_table(str(out / "table.md"), [("B crops", [("SL", r), ("HMTL", r)])])
    _assert_intact(str(out), before, "table.md")
    fail_writing(monkeypatch, "learning_curves.png")
    with pytest.raises(DiskFullError, match="learning_curves.png"):
        demo.plot_curves(str(out / "learning_curves.png"), runs[:1])
    _assert_intact(str(out), before, "learning_curves.png")
