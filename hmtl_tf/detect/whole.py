"""``--detector=none``: every image is one face crop (pre-cropped faces)."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from .base import Box


class WholeImageDetector:
    """The whole image is the face."""

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        h, w = np.asarray(image_rgb).shape[:2]
        return [(0.0, 0.0, float(w), float(h), 1.0)]
