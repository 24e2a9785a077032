"""The detector interface: a detector maps RGB images to face boxes ``(x_min, y_min, x_max, y_max, score)``.

Anything with ``detect(image_rgb, key=None) -> [Box]`` is a detector (``key`` names the image: its file path;
video frames ``<video path>#<frame index>``; box-file detectors look boxes up by it). ``detect_batch`` runs
several images at once where the library allows (MTCNN stacks them into one tensor); :func:`detect_many`
falls back to one call per image. A plain callable ``fn(image_rgb) -> (boxes (N, 4), scores (N,))`` (a
RetinaFace / SCRFD / YOLO-face wrapper) becomes a detector with :class:`CallableDetector`.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Protocol, Sequence, Tuple

import numpy as np

Box = Tuple[float, float, float, float, float]


class FaceDetector(Protocol):
    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        ...


class DetectorUnavailable(RuntimeError):
    """The detector cannot run in this environment; the message says what to install or use instead."""


def largest_first(boxes: Sequence[Box]) -> List[Box]:
    return sorted((tuple(float(v) for v in b) for b in boxes), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def detect_many(detector, images: Sequence[np.ndarray], keys: Sequence[Optional[str]]) -> List[List[Box]]:
    """Boxes of each image: the detector's ``detect_batch`` when it has one, else one ``detect`` per image."""
    if not len(images):
        return []
    batch = getattr(detector, "detect_batch", None)
    if batch is not None:
        return [list(b) for b in batch(list(images), list(keys))]
    return [list(detector.detect(img, k)) for img, k in zip(images, keys)]


class CallableDetector:
    """Wraps ``fn(image_rgb) -> (boxes (N, 4) x0 y0 x1 y1 pixels, scores (N,))`` as a detector."""

    def __init__(self, fn: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]], min_score: float = 0.0):
        self.fn, self.min_score = fn, float(min_score)

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        boxes, scores = self.fn(image_rgb)
        boxes = np.reshape(np.asarray(boxes, np.float64), (-1, 4))
        scores = np.reshape(np.asarray(scores, np.float64), (-1,))
        if len(scores) != len(boxes):
            raise ValueError(f"detector {self.fn!r}: {len(boxes)} boxes but {len(scores)} scores")
        return largest_first([(*b, s) for b, s in zip(boxes, scores)
                              if s >= self.min_score and b[2] > b[0] and b[3] > b[1]])
