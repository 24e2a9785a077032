"""Robust image reading and JPEG encoding for the converters.

Decoding uses PIL with ``LOAD_TRUNCATED_IMAGES`` off, so a truncated JPEG or PNG raises instead of being
padded with grey (cv2 may return a partial image); JPEGs are also checked for their end-of-image marker.
Every failure is a one-line :class:`DataError` naming the file.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from ..sample import DataError

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes -> (H, W, 3) uint8 RGB; ``name`` is used in the error message."""
    if not data:
        raise DataError(f"{name}: empty image file (expected a JPEG or PNG image)")
    if data[:2] == _JPEG_SOI and _JPEG_EOI not in data[-4096:]:
        raise DataError(f"{name}: truncated JPEG (no end-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for corrupt files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{name}: unreadable or corrupt image ({msg}); expected a JPEG or PNG image") from None
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name}: decoded image has shape {arr.shape}, expected (H, W, 3)")
    return arr


def load_rgb(path) -> np.ndarray:
    """Reads an image file as (H, W, 3) uint8 RGB; DataError naming the file when missing or corrupt."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read image ({exc.strerror or exc})") from None
    return decode_rgb(data, path)


def bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    """Channel reversal of an (H, W, 3) array (ETH-XGaze ``face_patch`` and FSA-Net npz images are BGR)."""
    return np.ascontiguousarray(np.asarray(image)[..., ::-1])


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes (deterministic for a given Pillow build)."""
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def clip_box(box, width: int, height: int):
    """Integer box clipped to the image, or None when nothing of it lies inside."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(int(width), int(box[2])), min(int(height), int(box[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1
