"""The run-directory protocol in one place (DESIGN.md "run directory"; issue 15 item 1).

A run directory holds everything needed to know how its numbers were produced: config.json, versions.json,
data_hashes.json, history.csv, checkpoints/, the selected weights, metrics.json and DONE (written last). Every
file is written by :func:`write_atomic`: to a temporary name in the same directory, then ``os.replace``d, so a
reader (or a resumed run) never sees half a file. Running out of space is one :class:`DiskFullError` line naming
the path and the space needed/free, with the temporary file removed.
"""
from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import platform
import shutil
from typing import Callable, Dict, List, Optional, Union

from hmtl_tf import config as C

_NOSPACE = ("no space left on device", "errno = 28", "disk quota exceeded", "file write failed")


class DiskFullError(RuntimeError):
    """Out of space while writing a run's file; the message is one line (path, space needed, space free)."""


def is_out_of_space(exc: BaseException) -> bool:
    """ENOSPC / EDQUOT, or an h5py / TensorFlow error caused by one (their messages carry the errno text)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if any(s in text for s in _NOSPACE[:3]) or ("file write failed" in text and "28" in text):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _mb(n: Optional[float]) -> str:
    return "unknown" if n is None else f"{n / 1e6:.1f} MB"


def free_bytes(path: str) -> Optional[int]:
    """Free bytes on the file system holding ``path`` (its nearest existing parent)."""
    p = os.path.abspath(path)
    while p and not os.path.exists(p):
        p = os.path.dirname(p)
    try:
        return shutil.disk_usage(p or "/").free
    except OSError:
        return None


def disk_full(path: str, needed: Optional[int] = None) -> DiskFullError:
    """The one-line error of running out of space writing ``path`` (``needed``: bytes, when known)."""
    need = f"needed {_mb(needed)}" if needed else "needed more"
    return DiskFullError(f"no space left on device writing {path} ({need}, free {_mb(free_bytes(path))}); "
                         f"free some space and re-run the same command")


def tmp_name(path: str) -> str:
    """A temporary name beside ``path`` that keeps its suffix (Keras insists on ``.weights.h5`` / ``.keras``)."""
    d, base = os.path.split(os.path.abspath(path))
    return os.path.join(d, f".tmp{os.getpid()}_{base}")


def _remove(p: str) -> None:
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p, ignore_errors=True)
    elif os.path.lexists(p):
        os.remove(p)


def write_atomic(path: str, data: Union[bytes, str, Callable[[str], object]]) -> str:
    """Writes ``path`` whole or not at all: ``data`` (bytes / text) or ``data(tmp)`` (a writer given the temporary
    path, e.g. ``model.save_weights``) goes to a temporary name in the same directory, then ``os.replace``.
    Out of space -> :class:`DiskFullError` (one line), the temporary file removed, ``path`` untouched."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = tmp_name(path)
    needed = len(data.encode() if isinstance(data, str) else data) if not callable(data) else None
    try:
        if callable(data):
            data(tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        if os.path.isdir(path) and os.path.isdir(tmp):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException as e:
        written = _size(tmp)
        _remove(tmp)
        if isinstance(e, Exception) and is_out_of_space(e):
            raise disk_full(path, needed or (written or None)) from None
        raise
    return path


def _size(p: str) -> int:
    if os.path.isdir(p):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(p) for f in fs)
    return os.path.getsize(p) if os.path.isfile(p) else 0


def write_json_atomic(path: str, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str))



def write_history_csv(path: str, rows: List[Dict[str, float]]) -> None:
    """history.csv: one row per epoch, the fixed columns first (epoch, lr, losses, MAEs), the rest sorted."""
    if not rows:
        return
    keys: List[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    first = ["epoch", "lr", "loss", "mae_yaw", "mae_pitch", "mae_roll", "mae_mean"] + [
        f"{p}_{m}" for p in ("heldout", "test") for m in ("loss", "mae_yaw", "mae_pitch", "mae_roll", "mae_mean")]
    cols = [k for k in first if k in keys] + sorted(k for k in keys if k not in first)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    write_atomic(path, buf.getvalue())

def read_json(path: str, default=None):
    if not os.path.isfile(path):
        return default
    with open(path) as f:
        return json.load(f)


def record_metrics(run_dir: str, entries: Dict[str, object]) -> Dict[str, object]:
    """Adds ``entries`` to the run's metrics.json (read-modify-write, atomic); returns the whole record."""
    path = os.path.join(run_dir, "metrics.json")
    metrics = read_json(path, {}) or {}
    metrics.update(entries)
    write_json_atomic(path, metrics)
    return metrics


def library_versions() -> Dict[str, str]:
    import keras
    import numpy
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "platform": platform.platform(),
            "devices": [d.name for d in tf.config.list_physical_devices()]}


def shard_hashes(path: str) -> Dict[str, str]:
    """sha256 of the shard directory's manifest.csv and summary.json (what data a run saw)."""
    out = {}
    for name in ("manifest.csv", "summary.json"):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def worker_run_dir(run: str, tf_config: Optional[str] = None) -> str:
    """Under a TF_CONFIG cluster only the chief (task ``chief``, else ``worker`` 0) writes ``run``; every other
    worker trains in lock-step but writes its copy to ``<run>.workers/<type>_<index>`` (no clobbering on a
    shared file system)."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw or not run:
        return run
    try:
        conf = json.loads(raw)
        task, cluster = conf.get("task", {}), conf.get("cluster", {})
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError) as e:
        raise C.ConfigError(f"TF_CONFIG: expected JSON with 'cluster' and 'task' ({e})")
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return run if chief else os.path.join(run.rstrip("/") + ".workers", f"{kind}_{index}")


def check_run_dir(cfg: C.TrainConfig, overwrite: bool = False, compare: bool = True) -> Optional[str]:
    """What :func:`prepare_run_dir` would do, without touching the disk: returns ``"done"`` for a finished run with
    the same config, ``"resume"`` / ``"new"`` otherwise; raises ConfigError (one line) for a file, a directory
    that is not a run, or a run with a different config (compared BEFORE the DONE marker; ``compare=False``: only
    the first two, for a config not yet resolved)."""
    run_dir = cfg.run
    if not run_dir:
        raise C.ConfigError("--run: an output directory is required")
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise C.ConfigError(f"--run={run_dir} is a file; expected a run directory (new or existing)")
    if overwrite:
        return "new"
    cfg_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(cfg_path) and not compare:  # the caller compares once the config is resolved
        return "resume"
    if os.path.isfile(cfg_path):
        old, new = read_json(cfg_path), json.loads(cfg.to_json())
        if old != new:
            fo, fn = _flat(old), _flat(new)
            diff = sorted(k for k in set(fo) | set(fn) if fo.get(k) != fn.get(k))
            done = "finished " if os.path.isfile(os.path.join(run_dir, "DONE")) else ""
            raise C.ConfigError(f"--run={run_dir} holds a {done}run with a different config ({', '.join(diff[:5])}); "
                                f"use --overwrite or a new --run")
        return "done" if os.path.isfile(os.path.join(run_dir, "DONE")) else "resume"
    if os.path.isdir(run_dir) and _contents(run_dir):
        raise C.ConfigError(f"--run={run_dir} exists and is not a hmtl_tf run directory; use another --run "
                            f"or --overwrite")
    return "new"


def _contents(run_dir: str) -> List[str]:
    """What a directory holds besides the logs of a command that stopped before config.json was written."""
    from hmtl_tf.library_log import LOG_FILES

    return [n for n in os.listdir(run_dir) if n not in LOG_FILES]


def prepare_run_dir(cfg: C.TrainConfig, overwrite: bool = False) -> Optional[str]:
    """Creates or re-opens the run directory and sends the libraries' log lines (and a copy of the console's) to
    its library.log / console.log (:func:`hmtl_tf.library_log.attach`). Returns None when the run is already
    finished (same config)."""
    from hmtl_tf import library_log

    what = check_run_dir(cfg, overwrite)
    if what == "done":
        return None
    run_dir = cfg.run
    if overwrite and os.path.isdir(run_dir) and os.listdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    library_log.attach(run_dir)
    return run_dir


def _flat(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def load_run(run_dir: str):
    """(TrainConfig, inference model) of a finished run directory."""
    import keras

    import hmtl_tf.models  # noqa: F401  (registers the custom layers)

    cfg_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "inference.keras")
    if not os.path.isfile(cfg_path) or not os.path.isfile(model_path):
        raise FileNotFoundError(f"--run={run_dir}: not a finished run (expected config.json and inference.keras)")
    with open(cfg_path) as f:
        cfg = C.TrainConfig.from_json(f.read())
    return cfg, keras.models.load_model(model_path, compile=False)


def dataset_key(dataset: str) -> str:
    """metrics.json / CSV name of a ``--dataset``: a name as given, a shard directory by its normalised last
    folder (``data/x/`` and ``data/x`` are one entry)."""
    if os.path.isdir(dataset) or os.sep in dataset or "/" in dataset:
        return os.path.basename(os.path.normpath(dataset)) or "dataset"
    return dataset


# ----------------------------------------------------------------------------------------- selection record
LEGACY_SELECTION = "legacy_best_on_val"  # runs from before SPEC 8: best epoch by --val MAE (the test set there)


def selection_of(metrics: Dict[str, object]) -> Dict[str, object]:
    """``{"selection": rule, "selected_epoch": e}`` of a run's metrics.json (its ``_run`` record)."""
    info = metrics.get("_run") or {}
    if not isinstance(info, dict) or not info:
        return {}
    if "selection" not in info:
        return {"selection": LEGACY_SELECTION, "selected_epoch": info.get("best_epoch")}
    return {"selection": info["selection"], "selected_epoch": info.get("selected_epoch")}


def selection_label(rule: Optional[str], epoch=None) -> str:
    """Short label of a rule for the tables: ``final (ep 110)``, ``best held-out (ep 87)``, ``BEST ON TEST (ep 93)``."""
    names = {"final": "final", "best_heldout": "best held-out", "best_on_test": "BEST ON TEST",
             LEGACY_SELECTION: "best on val (legacy)"}
    if not rule:
        return "not recorded"
    return names.get(str(rule), str(rule)) + (f" (ep {epoch})" if epoch not in (None, "") else "")
