"""``--detector=mtcnn`` (the default): MTCNN (Zhang et al. 2016, the detector FSA-Net used for BIWI) from the
``mtcnn`` package, whose P/R/O-net weights ship inside the wheel, so it runs offline on TensorFlow.

Images of one size are detected as one batch (the package stacks them into one tensor); boxes below
``min_score`` (ONet probability) are dropped. Measured on the 16 real AFLW2000 samples: 16 faces found
(docs/DETECTION.md).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from .base import Box, DetectorUnavailable, largest_first

WEIGHTS = ("pnet.lz4", "rnet.lz4", "onet.lz4")


def weights_dir() -> str:
    """Where the installed ``mtcnn`` package keeps its weights; DetectorUnavailable when absent."""
    try:
        import mtcnn
    except ImportError as exc:
        raise DetectorUnavailable(f"--detector=mtcnn: the mtcnn package is not installed ({exc}); "
                                  "pip install mtcnn==1.0.0, or use --detector=haar|none or --boxes=FILE") from None
    d = os.path.join(os.path.dirname(mtcnn.__file__), "assets", "weights")
    missing = [w for w in WEIGHTS if not os.path.isfile(os.path.join(d, w))]
    if missing:
        raise DetectorUnavailable(f"--detector=mtcnn: weights {', '.join(missing)} missing from {d}; "
                                  "reinstall mtcnn==1.0.0 (its wheel ships them), no download is attempted")
    return d


class MTCNNDetector:
    """MTCNN faces: (x_min, y_min, x_max, y_max, ONet probability), largest first."""

    def __init__(self, min_score: float = 0.9, min_face_size: int = 20, device: str = "CPU:0",
                 batch_size: int = 16):
        weights_dir()
        from mtcnn import MTCNN

        self._net = MTCNN(device=device)
        self.min_score, self.min_face_size, self.batch_size = float(min_score), int(min_face_size), int(batch_size)

    def _run(self, images: List[np.ndarray]) -> List[List[Box]]:
        out = self._net.detect_faces(images, box_format="xyxy", output_type="numpy",
                                     min_face_size=self.min_face_size)
        rows = np.reshape(np.asarray(out, np.float64), (-1, np.shape(out)[-1] if np.size(out) else 6))
        per: List[List[Box]] = [[] for _ in images]
        for r in rows:
            if r[5] >= self.min_score and r[3] > r[1] and r[4] > r[2]:
                per[int(r[0])].append((r[1], r[2], r[3], r[4], r[5]))
        return [largest_first(b) for b in per]

    def detect(self, image_rgb: np.ndarray, key: Optional[str] = None) -> List[Box]:
        return self.detect_batch([image_rgb])[0]

    def detect_batch(self, images: Sequence[np.ndarray], keys: Sequence[Optional[str]] = ()) -> List[List[Box]]:
        """One tensor per group of equal-size images (at most ``batch_size``), results in input order."""
        imgs = [np.ascontiguousarray(np.asarray(i)[..., :3], dtype=np.uint8) for i in images]
        groups: Dict[tuple, List[int]] = {}
        for n, img in enumerate(imgs):
            groups.setdefault(img.shape, []).append(n)
        result: List[List[Box]] = [[] for _ in imgs]
        for idx in groups.values():
            for s in range(0, len(idx), self.batch_size):
                part = idx[s:s + self.batch_size]
                for n, boxes in zip(part, self._run([imgs[n] for n in part])):
                    result[n] = boxes
        return result
