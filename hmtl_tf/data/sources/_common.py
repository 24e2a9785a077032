"""Small helpers shared by the dataset readers: root discovery, .mat labels, per-file error routing."""
from __future__ import annotations

import logging
import pathlib
from typing import Callable, Iterable, Optional

import numpy as np

from ..sample import DataError

# on_error(file, reason, error): a reader reports a bad/missing file and goes on. Without a callback a
# fatal problem raises the DataError and a non-fatal one (e.g. a missing 300W-LP subset) is logged.
OnError = Callable[[str, str, Exception], None]

log = logging.getLogger("hmtl_tf.data.sources")


def report(on_error: Optional[OnError], file: str, reason: str, error: Exception, fatal: bool = True) -> None:
    """Routes one problem to ``on_error``; without a callback raises (fatal) or logs a warning."""
    if on_error is not None:
        on_error(str(file), reason, error)
    elif fatal:
        raise error
    else:
        log.warning("%s", error)


def find_dir(root, candidates: Iterable[str], is_dataset: Callable[[pathlib.Path], bool]) -> Optional[pathlib.Path]:
    """The first of ``root/<candidate>`` (``""`` = root itself) that ``is_dataset`` accepts, else None."""
    root = pathlib.Path(root)
    for rel in candidates:
        path = root / rel if rel else root
        if path.is_dir() and is_dataset(path):
            return path
    return None


def load_mat(path) -> dict:
    """scipy.io.loadmat with a one-line DataError naming the file."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: label file missing (expected a MATLAB .mat beside the image)") from None
    except Exception as exc:
        why = "truncated or not a MATLAB file" if isinstance(exc, (IndexError, EOFError)) \
            else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise DataError(f"{path}: unreadable .mat file ({why}); "
                        f"expected a MATLAB 5 file with Pose_Para and pt2d") from None


def mat_array(mat: dict, key: str, path, shape_ok: Callable[[tuple], bool], expected: str) -> np.ndarray:
    """``mat[key]`` as a float64 array, checked; DataError naming the file and the expected shape."""
    if key not in mat:
        raise DataError(f"{path}: no {key!r} in the .mat file (expected {key} {expected})")
    arr = np.asarray(mat[key], dtype=np.float64)
    if not shape_ok(arr.shape) or not np.all(np.isfinite(arr)):
        raise DataError(f"{path}: {key} has shape {arr.shape} or non-finite values, expected {expected}")
    return arr


def lookup_box(boxes, *keys: str):
    """(box or None, type or None) of the first key found in a :class:`boxes.BoxFile` (or None)."""
    if boxes is None:
        return None, None
    for key in keys:
        if key in boxes:
            return boxes[key], boxes.type_of(key)
    return None, None
