"""``--boxes=FILE``: boxes looked up by image name in a KD-OE JSON, a CSV ``file,x_min,y_min,x_max,y_max`` or a
Dockerface folder (``hmtl_tf.data.sources.boxes.load_boxes``; one face per file)."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from hmtl_tf.data.sample import DataError

from .base import Box


def _norm(path: str) -> str:
    return os.path.normpath(path).replace("\\", "/").lstrip("./")


class BoxFileDetector:
    """The longest path suffix present in the file wins (``/data/BIWI/01/frame_00004_rgb.png`` matches the
    KD-OE key ``01/frame_00004_rgb.png``)."""

    def __init__(self, path: str):
        from hmtl_tf.data.sources.boxes import load_boxes

        self.path = path
        try:
            loaded = load_boxes(path)
        except DataError as exc:
            raise DataError(f"--boxes: {exc}") from None
        self.boxes: Dict[str, Box] = {_norm(k): tuple(float(v) for v in b) + (1.0,) for k, b in loaded.items()}

    def lookup(self, key: str) -> Optional[Box]:
        parts = _norm(key).split("/")
        for i in range(len(parts)):
            hit = self.boxes.get("/".join(parts[i:]))
            if hit is not None:
                return hit
        return None

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        if key is None:
            raise ValueError(f"--boxes={self.path}: boxes are looked up by file name; no key given")
        hit = self.lookup(key)
        return [] if hit is None else [hit]

    def check_matches(self, keys: Sequence[str]) -> None:
        """DataError (one line, an example key of each side) when no key of ``keys`` is in the box file."""
        keys = [k for k in keys if k]
        if not keys or any(self.lookup(k) is not None for k in keys):
            return
        example = next(iter(self.boxes), "(the file holds no boxes)")
        raise DataError(f"--boxes={self.path}: no input matches a box (box file key e.g. {example!r}, input e.g. "
                        f"{_norm(keys[0])!r}); expected keys that are a path suffix of the inputs")
