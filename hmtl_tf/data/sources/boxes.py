"""Face-box files (DATA_FACTS 2.2, 4): KD-OE JSON, CSV and Dockerface text folders -> one mapping.

Keys are file names relative to the dataset root as the box source writes them (``image00002.jpg``,
``01/frame_00004_rgb.png``); boxes are (x_min, y_min, x_max, y_max) float source pixels.
- KD-OE JSON: ``{"<file>": [{"bbox": [x0, y0, x1, y1], "type"?: "train"|"test"}]}`` (first detection used).
- CSV: header ``file,x_min,y_min,x_max,y_max`` (+ optional ``type``).
- Dockerface: a folder of ``<seq>/dockerface-<frame>_rgb.txt`` whose first line is
  ``n x_min y_min x_max y_max conf`` (HopeNet datasets.py:505-552); key ``<seq>/<frame>_rgb.png``. A file
  with fewer tokens (no detection) gives no box: the frame is not evaluated (deep-head-pose issue #23).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Dict, Iterator, Mapping, Optional

import numpy as np

from ..sample import DataError

FORMATS = "a KD-OE JSON ({\"file\": [{\"bbox\": [x0, y0, x1, y1]}]}), a CSV (file,x_min,y_min,x_max,y_max) " \
          "or a Dockerface folder (<seq>/dockerface-<frame>_rgb.txt)"
_DOCKERFACE = re.compile(r"^dockerface-(?:frame_)?(\d+)_rgb\.txt$")


@dataclass
class BoxFile(Mapping):
    """name -> (4,) float64 box, plus an optional per-name ``type`` (KD-OE BIWI: train/test)."""

    path: str
    format: str
    boxes: Dict[str, np.ndarray]
    types: Dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.boxes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.boxes)

    def __len__(self) -> int:
        return len(self.boxes)

    def type_of(self, name: str) -> Optional[str]:
        return self.types.get(name)

    def digest(self) -> str:
        """sha256 of the sorted content (names, boxes, types): identifies the boxes whatever the format."""
        h = hashlib.sha256()
        for name in sorted(self.boxes):
            h.update(name.encode("utf-8"))
            h.update(np.asarray(self.boxes[name], np.float64).tobytes())
            h.update(self.types.get(name, "").encode("utf-8"))
        return h.hexdigest()


def _box(values, where: str) -> np.ndarray:
    try:
        box = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        box = np.zeros(0)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise DataError(f"{where}: bad box {list(values) if isinstance(values, (list, tuple)) else values!r}, "
                        f"expected [x_min, y_min, x_max, y_max] with x_max > x_min, y_max > y_min")
    return box


def _load_json(path: str) -> BoxFile:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON box file ({exc}); expected {FORMATS}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: JSON top level is {type(data).__name__}; expected {FORMATS}")
    boxes, types = {}, {}
    for name, entries in data.items():
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict) \
                or "bbox" not in entries[0]:
            raise DataError(f"{path}: entry {name!r} has no bbox; expected {FORMATS}")
        boxes[name] = _box(entries[0]["bbox"], f"{path}: entry {name!r}")
        if "type" in entries[0]:
            types[name] = str(entries[0]["type"])
    return BoxFile(path, "kdoe_json", boxes, types)


def _load_csv(path: str) -> BoxFile:
    need = ("file", "x_min", "y_min", "x_max", "y_max")
    boxes, types = {}, {}
    try:
        with open(path, "r", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or any(c not in reader.fieldnames for c in need):
                raise DataError(f"{path}: CSV header {reader.fieldnames}; expected {FORMATS}")
            for line, row in enumerate(reader, start=2):
                boxes[row["file"]] = _box([row[c] for c in need[1:]], f"{path}:{line}")
                if row.get("type"):
                    types[row["file"]] = row["type"]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV box file ({exc}); expected {FORMATS}") from None
    return BoxFile(path, "csv", boxes, types)


def _load_dockerface(path: str) -> BoxFile:
    boxes = {}
    root = pathlib.Path(path)
    for txt in sorted(root.glob("*/dockerface-*.txt")):
        m = _DOCKERFACE.match(txt.name)
        if m is None:
            continue
        try:
            tokens = txt.read_text(encoding="utf-8").splitlines()[0].split() if txt.stat().st_size else []
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{txt}: unreadable Dockerface file ({exc})") from None
        if len(tokens) < 5:      # no detection in this frame
            continue
        boxes[f"{txt.parent.name}/frame_{m.group(1)}_rgb.png"] = _box(tokens[1:5], str(txt))
    if not boxes:
        raise DataError(f"{path}: no Dockerface box files (<seq>/dockerface-<frame>_rgb.txt); expected {FORMATS}")
    return BoxFile(path, "dockerface", boxes)


def load_boxes(path) -> BoxFile:
    """Reads a box file, auto-detecting the format (folder -> Dockerface, JSON content, else CSV)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return _load_dockerface(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: box file not found; expected {FORMATS}")
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    if head[:1] in (b"{", b"["):
        return _load_json(path)
    return _load_csv(path)
