"""``--detector=haar``: OpenCV's bundled frontal-face Haar cascade (Viola-Jones; offline). OpenCV 5 dropped
``CascadeClassifier`` and the cascade files, so it needs ``opencv-python-headless<5`` or a cascade file."""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from .base import Box, DetectorUnavailable, largest_first


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
                "(removed in OpenCV 5); install opencv-python-headless<5, or use --detector=mtcnn")
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
        return largest_first([(float(x), float(y), float(x + w), float(y + h), float(s))
                              for (x, y, w, h), s in zip(np.reshape(rects, (-1, 4)), np.ravel(weights))])
