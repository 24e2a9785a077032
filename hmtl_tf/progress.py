"""Progress with rate and ETA for long loops (rendering, conversion, training, evaluation).

On a terminal one line is rewritten in place (``\\r``); anywhere else (a log file, CI, a pipe) a plain line is printed
every ``every_s`` seconds and at the end, so logs hold short readable lines instead of one very long one.
"""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def _secs(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


class Progress:
    """``Progress("AFLW2000", 2000, unit="images")``; ``.update(n)`` after each piece of work; ``.close()``."""

    def __init__(self, label: str, total: Optional[int], unit: str = "items", stream: Optional[TextIO] = None,
                 every_s: float = 10.0, enabled: bool = True, tty: Optional[bool] = None, extra=None,
                 always_final: bool = True):
        self.label, self.total, self.unit, self.enabled = label, total, unit, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.every_s = 0.2 if self.tty else every_s
        self.done, self.t0 = 0, time.monotonic()
        self._last, self._closed = self.t0, False
        self._first = None  # (time, count) at the first update: the rate leaves the warm-up out
        self.extra = extra  # callable -> str appended to each line (e.g. "written 12")
        self.always_final = always_final  # False: a short loop prints nothing in a log

    def rate(self) -> float:
        """Units per second since the first update (so a first unit slowed by imports / graph tracing does not give
        an ETA of hours), or since the start while there is only that first update."""
        now = time.monotonic()
        if self._first and self.done > self._first[1] and now > self._first[0]:
            return (self.done - self._first[1]) / (now - self._first[0])
        return self.done / max(now - self.t0, 1e-9)

    def line(self) -> str:
        dt = max(time.monotonic() - self.t0, 1e-9)
        rate = self.rate()
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            text = f"{self.label}: {self.done}/{self.total} {self.unit} ({rate:.1f}/s, ETA {_secs(eta)})"
        else:
            text = f"{self.label}: {self.done} {self.unit} ({rate:.1f}/s, {_secs(dt)})"
        return text + (f" {self.extra()}" if self.extra else "")

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._first is None:
            self._first = (now, self.done)
        if not self.enabled:
            return
        if self.total and self.done >= self.total:
            self.close()
        elif self.done > self._first[1] and now - self._last >= self.every_s:  # not on the first: no rate yet
            self._last = now
            self._emit(final=False)

    def _emit(self, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """The final line; a loop shorter than ``every_s`` that printed nothing stays silent in logs."""
        if self.enabled and not self._closed:
            self._closed = True
            if self.tty or self._last > self.t0 or self.always_final:
                self._emit(final=True)


def keras_progress(steps_per_epoch: int, every_s: float = 30.0, stream: Optional[TextIO] = None):
    """A Keras callback printing ``epoch e: step s/S (rate, ETA, loss)`` lines within an epoch when the output is not
    a terminal (Keras' own ``verbose=2`` prints only at the epoch end)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._p = Progress(f"epoch {epoch + 1}", steps_per_epoch, "steps", stream=stream or sys.stdout,
                               every_s=every_s, tty=False)
            self._loss = None
            self._p.extra = lambda: f"loss {self._loss:.4g}" if self._loss is not None else ""

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            self._loss = float(loss) if loss is not None else None
            if batch + 1 < steps_per_epoch:  # the epoch-end line is Keras'
                self._p.update(1)

    return EpochProgress()
