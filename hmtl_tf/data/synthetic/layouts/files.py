"""The files of the synthetic layouts: written atomically and never overwritten, deterministic bytes.

JPEG (quality 95) and PNG bytes of RGB images, MATLAB 5 bytes with a fixed header text (the 300W-LP / AFLW2000
``.mat`` files, DATA_FACTS 1.2, 1.3), and the JSON index files (BIWI.json, DATA_FACTS 4; ETH-XGaze's
train_test_split.json, DATA_FACTS 3) merged with what is already there.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Union

import cv2
import numpy as np
import scipy.io as sio

from hmtl_tf.data.sample import DataError


_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: hmtl_tf synthetic heads, Created on: (deterministic)"


def _write(path: str, data: Union[bytes, str]) -> bool:
    """Write atomically unless ``path`` exists (never overwrite). True when written."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return True


def _jpg(img_rgb: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def _png(img_rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def _mat(d: dict) -> bytes:
    """MATLAB 5 bytes of ``d`` (keys in order) with a fixed header text (savemat stamps the time otherwise)."""
    buf = io.BytesIO()
    sio.savemat(buf, d, format="5", oned_as="column")
    b = bytearray(buf.getvalue())
    b[:116] = _MAT_HEADER.ljust(116)
    return bytes(b)


# --- index files (merged: existing entries are kept, ours added, a conflicting entry is refused) ------------


def _merge_json(path: str, new: dict, merge_lists: bool) -> None:
    if not os.path.exists(path):
        _write(path, json.dumps(new, indent=None if not merge_lists else 1))
        return
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: exists and is not readable JSON ({e}); remove it or use another --out")
    merged = dict(old)
    for key, value in new.items():
        if merge_lists:
            merged[key] = list(old.get(key, [])) + [v for v in value if v not in old.get(key, [])]
        elif key in old and old[key] != json.loads(json.dumps(value)):
            raise DataError(f"{path}: entry {key!r} differs from the synthetic one; refusing to overwrite "
                            "a file not written by make_synthetic (remove it or use another --out)")
        else:
            merged[key] = value
    if merge_lists:
        owner = {v: k for k, vs in old.items() for v in vs}
        for key, value in new.items():
            for v in value:
                if owner.get(v, key) != key:
                    raise DataError(f"{path}: {v} is listed under {owner[v]!r}, expected {key!r}; refusing to "
                                    "overwrite (remove it or use another --out)")
    if merged != old:
        os.replace(_tmp_json(path, merged, merge_lists), path)


def _tmp_json(path: str, obj: dict, pretty: bool) -> str:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1 if pretty else None)
    return tmp
