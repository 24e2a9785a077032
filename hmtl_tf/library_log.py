"""Where the libraries' output goes (issue 14): a user reads our lines; TensorFlow's, Keras' and absl's go to a file.

Started by every command's entry point (:func:`hmtl_tf.cli.run_main`) before TensorFlow is imported:

- ``library.log``: TensorFlow's native log lines (C++ writes to file descriptor 2 -- ``absl::InitializeLog``,
  ``oneDNN``, ``cudart_stub``, ``cuInit``), Python ``warnings`` (Keras' ``UserWarning``) and every ``logging`` /
  absl record (SavedModel, tf2onnx, ``INFO:`` lines). ``--verbose`` shows them on the console as well.
- ``console.log``: what the command itself printed (progress, results, ``error: ...``), which stays on the console;
  a terminal's ``\\r`` / backspace rewrites are collapsed to the line's last state.

Until the command knows its output directory both are temporary files of the process; :func:`attach` (called when a
run directory is created or re-opened -- ``rundir.prepare_run_dir`` (train, distill), pretrain, ``evaluate --run``,
export, the demo) moves what they hold into ``<dir>/library.log`` / ``<dir>/console.log`` and appends there from then
on (a later :func:`attach` moves on to another directory). A command that never attaches (predict, a refused run)
appends its library lines to ``$TMPDIR/hmtl_tf_library.log`` (``HMTL_LIBRARY_LOG``). Outside a command (tests, the
Python API) nothing is redirected and :func:`attach` does nothing. Log files are append-only: they are the one kind
of file in a run directory that is not written atomically, and a failed write to them never stops a run.
"""
from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Optional

LIBRARY_LOG, CONSOLE_LOG = "library.log", "console.log"
LOG_FILES = (LIBRARY_LOG, CONSOLE_LOG)


def fallback_path() -> str:
    """Where a command that never attached leaves its library lines."""
    return os.environ.get("HMTL_LIBRARY_LOG") or os.path.join(tempfile.gettempdir(), "hmtl_tf_library.log")


class _Lines:
    """Terminal output -> log lines: of each line only what follows its last ``\\r`` (backspaces dropped)."""

    def __init__(self):
        self.part = ""

    def feed(self, text: str) -> str:
        *done, self.part = (self.part + text.replace("\b", "")).split("\n")
        return "".join(_last(line) + "\n" for line in done)


def _last(line: str) -> str:
    segments = [s for s in line.split("\r") if s.strip()]
    return segments[-1] if segments else ""


class _State:
    started = False
    verbose = False
    directory: Optional[str] = None  # attached to; None: the temporary pair
    stem = ""
    console_fd: Optional[int] = None  # the original fd 2 (the terminal, a pipe ...)
    library = None  # text file: library.log
    console = None  # text file: console.log
    temp_library = temp_console = ""
    native_fd: Optional[int] = None  # --verbose: where the pipe reader copies native lines besides the console
    reader: Optional[threading.Thread] = None
    lock = threading.Lock()


S = _State()


def _safe_write(f, text: str) -> None:
    if f is None or not text:
        return
    try:
        f.write(text)
        f.flush()
    except (OSError, ValueError):
        pass  # a full disk or a closed file: the log loses lines, the run goes on


class _LibraryStream:
    """The stream of Python's logging records (absl's handler): library.log, and the console under --verbose."""

    def __init__(self, console=None):
        self.console = console

    def write(self, text: str) -> int:
        _safe_write(S.library, text)
        if self.console is not None:
            _safe_write(self.console, text)
        return len(text)

    def flush(self) -> None:
        for f in (S.library, self.console):
            try:
                f and f.flush()
            except (OSError, ValueError):
                pass

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        self.flush()


class _Tee:
    """``sys.stdout`` / ``sys.stderr`` of a command: writes to the console stream and, as lines, to console.log."""

    def __init__(self, stream):
        self._stream, self._lines = stream, _Lines()

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        _safe_write(S.console, self._lines.feed(text))
        return n

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, buffer ...
        return getattr(self._stream, name)


def _open(path: str):
    return open(path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")


def _pipe_reader(read_fd: int) -> None:
    """--verbose: native lines from the pipe on fd 2 -> the console and library.log."""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        with S.lock:
            for fd in (S.console_fd, S.native_fd):
                if fd is not None:
                    try:
                        os.write(fd, chunk)
                    except OSError:
                        pass


def start(verbose: bool = False) -> bool:
    """Sends the libraries' output to a temporary library.log (also the console with ``verbose``) and keeps a copy
    of the command's own lines; returns False (nothing redirected) where no temporary file can be made."""
    if S.started:
        return True
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        fd, S.temp_library = tempfile.mkstemp(prefix="hmtl_tf_", suffix=".library.log")
        os.close(fd)
        fd, S.temp_console = tempfile.mkstemp(prefix="hmtl_tf_", suffix=".console.log")
        os.close(fd)
        S.library, S.console = _open(S.temp_library), _open(S.temp_console)
        S.console_fd = os.dup(2)
    except OSError:
        return False
    S.started, S.verbose = True, verbose
    _native_to(S.temp_library)
    console = io.TextIOWrapper(io.FileIO(S.console_fd, "w", closefd=False), encoding=sys.stderr.encoding or "utf-8",
                               errors="backslashreplace", line_buffering=True)
    sys.stderr = _Tee(console)
    sys.stdout = _Tee(sys.stdout)
    _python_logging(_LibraryStream(console if verbose else None))
    atexit.register(_finish)
    return True


def _native_to(path: str) -> None:
    """File descriptor 2 (TensorFlow's C++ log) -> ``path``; under --verbose a pipe read into it and the console."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if not S.verbose:
        os.dup2(fd, 2)
        os.close(fd)
        return
    with S.lock:
        old, S.native_fd = S.native_fd, fd
    if old is not None:
        os.close(old)
    if S.reader is None:
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
        S.reader = threading.Thread(target=_pipe_reader, args=(r,), name="library_log", daemon=True)
        S.reader.start()


def _python_logging(stream: _LibraryStream) -> None:
    """absl's handler (the root logger's, so TensorFlow's and tf2onnx's records too) and ``warnings`` -> stream."""
    from absl import logging as absl_logging

    logging.raiseExceptions = False  # a log write that fails is not a traceback on the console
    absl_logging.get_absl_handler().python_handler.stream = stream
    logging.captureWarnings(True)


def attach(directory: str, stem: str = "") -> Optional[str]:
    """From now on library lines go to ``<directory>/<stem>library.log`` and our own to ``<stem>console.log``
    (what the temporary files hold moves there first); returns the library.log path, None outside a command."""
    if not S.started or not os.path.isdir(directory):
        return None
    directory = os.path.abspath(directory)
    library = os.path.join(directory, stem + LIBRARY_LOG)
    if (S.directory, S.stem) == (directory, stem) and os.path.isfile(library):  # (not removed by --overwrite)
        return library
    _flush()
    try:
        new_library, new_console = _open(library), _open(os.path.join(directory, stem + CONSOLE_LOG))
    except OSError:
        return None
    header = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {' '.join(sys.argv)}\n"
    _safe_write(new_library, header)
    _native_to(library)  # first, so that no native line falls between the copy below and the switch
    for new, temp in ((new_library, S.temp_library), (new_console, S.temp_console)):
        if new is new_console:
            _safe_write(new, header)
        if S.directory is None:
            _copy(temp, new)
    old = (S.library, S.console)
    S.library, S.console = new_library, new_console
    for f in old:
        f.close()
    if S.directory is None:
        _remove_temps()
    S.directory, S.stem = directory, stem
    return library


def _copy(path: str, dest) -> None:
    try:
        with open(path, encoding="utf-8", errors="backslashreplace") as f:
            shutil.copyfileobj(f, dest)
        dest.flush()
    except (OSError, ValueError):
        pass


def _remove_temps() -> None:
    for p in (S.temp_library, S.temp_console):
        try:
            os.remove(p)
        except OSError:
            pass


def _flush() -> None:
    for f in (sys.stdout, sys.stderr, S.library, S.console):
        try:
            f.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _finish() -> None:
    """At exit: the --verbose pipe drained; a command that never attached appends its lines to the fallback log."""
    _flush()
    if S.reader is not None and S.console_fd is not None:
        os.dup2(S.console_fd, 2)  # closes the pipe's write end: the reader sees its end
        S.reader.join(timeout=2.0)
    if S.directory is None and os.path.isfile(S.temp_library):
        try:
            if os.path.getsize(S.temp_library):
                with _open(fallback_path()) as out:
                    out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {' '.join(sys.argv)}\n")
                    _copy(S.temp_library, out)
        except OSError:
            pass
        _remove_temps()


def current() -> Optional[str]:
    """The library.log lines go to now (None outside a command)."""
    if not S.started:
        return None
    return os.path.join(S.directory, S.stem + LIBRARY_LOG) if S.directory else S.temp_library
