"""hmtl_tf.progress: short periodic lines in a log, rate and ETA that leave the first (warm-up) unit out."""
import io

from hmtl_tf import progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_log_lines_leave_the_warm_up_out_of_the_rate_and_eta(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    out = io.StringIO()
    p = progress.Progress("epoch 1", 75, "steps", stream=out, every_s=10, tty=False)
    clock.t = 60.0  # the first step: imports, graph tracing
    p.update()
    assert out.getvalue() == ""  # no line (and no ETA of hours) from the first step alone
    for _ in range(20):
        clock.t += 1.0
        p.update()
    lines = out.getvalue().splitlines()
    assert lines == ["epoch 1: 2/75 steps (1.0/s, ETA 1m13s)", "epoch 1: 12/75 steps (1.0/s, ETA 1m03s)"], lines
    for _ in range(54):
        clock.t += 1.0
        p.update()
    assert out.getvalue().splitlines()[-1].startswith("epoch 1: 75/75 steps (1.0/s, ETA 0s)")


def test_a_terminal_line_is_rewritten_in_place():
    out = io.StringIO()
    p = progress.Progress("x", 2, stream=out, tty=True)
    p.update()
    p.update()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1 and "\rx: 2/2 items" in out.getvalue()
