"""Pluggable face detection for ``hmtl_tf.predict``: anything with ``detect(image_rgb, key=None)``.

A detector returns a list of boxes ``(x_min, y_min, x_max, y_max, score)`` in image pixels, largest first.
``key`` names the image (file path; video frames ``<video path>#<frame index>``) for detectors that look
boxes up rather than compute them.

- :class:`OpenCVHaarDetector` — OpenCV's bundled frontal-face Haar cascade (offline). OpenCV 5 dropped
  ``CascadeClassifier`` and the cascade files, so it needs ``opencv-python-headless<5`` or a cascade file.
- :class:`BoxFileDetector` — the published KD-OE JSON format (``{"file": [{"bbox": [x0, y0, x1, y1]}]}``,
  DATA_FACTS 4), a CSV ``file,x_min,y_min,x_max,y_max`` or a Dockerface folder (one face per file).
- :class:`WholeImageDetector` — every image is one face crop (pre-cropped faces).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Protocol, Tuple

import numpy as np

from hmtl_tf.data.sample import DataError
from hmtl_tf.data.sources.boxes import load_boxes

Box = Tuple[float, float, float, float, float]
DETECTORS = ("auto", "haar", "none")


class FaceDetector(Protocol):
    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        ...


class DetectorUnavailable(RuntimeError):
    """The detector cannot run in this environment; the message says what to install or use instead."""


class WholeImageDetector:
    """The whole image is the face (``--detector=none``)."""

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        h, w = np.asarray(image_rgb).shape[:2]
        return [(0.0, 0.0, float(w), float(h), 1.0)]


def haar_cascade_path() -> Optional[str]:
    """OpenCV's bundled ``haarcascade_frontalface_default.xml`` if this OpenCV build ships it."""
    import cv2

    root = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = os.path.join(root, "haarcascade_frontalface_default.xml")
    return path if root and os.path.isfile(path) else None


class OpenCVHaarDetector:
    """Viola-Jones frontal faces via ``cv2.CascadeClassifier``; score = the cascade's level weight."""

    def __init__(self, cascade: Optional[str] = None, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size_frac: float = 0.05):
        import cv2

        path = cascade or haar_cascade_path()
        if not hasattr(cv2, "CascadeClassifier") or path is None:
            raise DetectorUnavailable(
                f"--detector=haar: OpenCV {cv2.__version__} has no CascadeClassifier / bundled Haar cascade "
                "(removed in OpenCV 5); install opencv-python-headless<5, or pass --boxes=FILE or --detector=none")
        self._clf = cv2.CascadeClassifier(path)
        if self._clf.empty():
            raise DetectorUnavailable(f"{path}: not a readable OpenCV cascade XML file")
        self.scale_factor, self.min_neighbors, self.min_size_frac = scale_factor, min_neighbors, min_size_frac

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(image_rgb, np.uint8), cv2.COLOR_RGB2GRAY))
        side = max(8, int(self.min_size_frac * min(gray.shape)))
        rects, _, weights = self._clf.detectMultiScale3(gray, self.scale_factor, self.min_neighbors,
                                                        minSize=(side, side), outputRejectLevels=True)
        boxes = [(float(x), float(y), float(x + w), float(y + h), float(s))
                 for (x, y, w, h), s in zip(np.reshape(rects, (-1, 4)), np.ravel(weights))]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def _norm(path: str) -> str:
    return os.path.normpath(path).replace("\\", "/").lstrip("./")


class BoxFileDetector:
    """Boxes looked up by the image's key in a box file read by ``hmtl_tf.data.sources.boxes.load_boxes``
    (KD-OE JSON, CSV, Dockerface folder; one face per file). The longest path suffix present in the file
    wins (``/data/BIWI/01/frame_00004_rgb.png`` matches the KD-OE key ``01/frame_00004_rgb.png``)."""

    def __init__(self, path: str):
        self.path = path
        try:
            loaded = load_boxes(path)
        except DataError as exc:
            raise DataError(f"--boxes: {exc}") from None
        self.boxes: Dict[str, Box] = {_norm(k): tuple(float(v) for v in b) + (1.0,) for k, b in loaded.items()}

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        if key is None:
            raise ValueError(f"--boxes={self.path}: boxes are looked up by file name; no key given")
        parts = _norm(key).split("/")
        for i in range(len(parts)):
            hit = self.boxes.get("/".join(parts[i:]))
            if hit is not None:
                return [hit]
        return []


def make_detector(name: str = "auto", boxes: Optional[str] = None) -> Tuple[FaceDetector, str]:
    """(detector, description). ``boxes`` wins; ``auto`` = Haar when available, else the whole image."""
    if boxes:
        return BoxFileDetector(boxes), f"box file {boxes}"
    if name not in DETECTORS:
        raise ValueError(f"--detector={name!r}: expected one of {', '.join(DETECTORS)}")
    if name == "none":
        return WholeImageDetector(), "whole image (no detector)"
    try:
        return OpenCVHaarDetector(), "OpenCV Haar cascade"
    except DetectorUnavailable as exc:
        if name == "haar":
            raise
        return WholeImageDetector(), f"whole image ({exc})"
