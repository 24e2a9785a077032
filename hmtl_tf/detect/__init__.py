"""Pluggable face detection for ``hmtl_tf.predict``, the API and ``evaluate --crops=detector`` (docs/DETECTION.md).

A detector has ``detect(image_rgb, key=None) -> [(x_min, y_min, x_max, y_max, score)]`` (largest first) and may
have ``detect_batch(images, keys)``; see :mod:`.base`. Named detectors live in a registry (one file each):

- ``mtcnn`` (default) — :class:`MTCNNDetector`, weights inside the ``mtcnn`` wheel (offline).
- ``haar`` — :class:`OpenCVHaarDetector`, OpenCV's bundled frontal-face cascade.
- ``none`` — :class:`WholeImageDetector`, every image is one face crop.
- ``--boxes=FILE`` — :class:`BoxFileDetector`, boxes looked up by file name.

``register_detector("scrfd", factory)`` adds a user's own (``factory()`` returns a detector, or wrap a plain
``fn(image) -> (boxes, scores)`` in :class:`CallableDetector`); it is then usable by name everywhere.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from .base import Box, CallableDetector, DetectorUnavailable, FaceDetector, detect_many, largest_first
from .boxfile import BoxFileDetector
from .haar import OpenCVHaarDetector, haar_cascade_path
from .mtcnn_detector import MTCNNDetector
from .whole import WholeImageDetector

DEFAULT_DETECTOR = "mtcnn"
_REGISTRY: Dict[str, Tuple[Callable[[], FaceDetector], str]] = {
    "mtcnn": (MTCNNDetector, "MTCNN (mtcnn 1.0.0, offline weights)"),
    "haar": (OpenCVHaarDetector, "OpenCV Haar cascade"),
    "none": (WholeImageDetector, "whole image (no detector)"),
}


def register_detector(name: str, factory: Callable[[], FaceDetector], description: str = "") -> None:
    """Makes ``factory()`` available as ``--detector=name`` (replacing a detector of that name)."""
    if not name or name in ("auto", "boxes") or "/" in name or ":" in name:
        raise ValueError(f"detector name {name!r}: expected a short name without '/' or ':' (not auto/boxes)")
    _REGISTRY[name] = (factory, description or name)


def detector_names() -> Tuple[str, ...]:
    return tuple(_REGISTRY)


def make_detector(name: str = DEFAULT_DETECTOR, boxes: Optional[str] = None) -> Tuple[FaceDetector, str]:
    """(detector, description). ``boxes`` wins; ``auto`` = the default (mtcnn)."""
    if boxes:
        return BoxFileDetector(boxes), f"box file {boxes}"
    name = DEFAULT_DETECTOR if name in (None, "", "auto") else name
    if name not in _REGISTRY:
        raise ValueError(f"--detector={name!r}: expected one of {', '.join(_REGISTRY)} (or --boxes=FILE)")
    factory, desc = _REGISTRY[name]
    return factory(), desc


__all__ = ["Box", "BoxFileDetector", "CallableDetector", "DEFAULT_DETECTOR", "DetectorUnavailable", "FaceDetector",
           "MTCNNDetector", "OpenCVHaarDetector", "WholeImageDetector", "detect_many", "detector_names",
           "haar_cascade_path", "largest_first", "make_detector", "register_detector"]
