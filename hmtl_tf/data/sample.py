"""The one record every dataset reader yields, before cropping and sharding (SPEC section 2)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


class DataError(ValueError):
    """A source file is unusable; the message names the file and what was expected (one line)."""


@dataclass
class RawSample:
    """One face of a public (or synthetic) dataset, labels in the internal convention (hmtl_tf.angles).

    ``ypr`` is (yaw, pitch, roll) in degrees; ETH-XGaze has no roll (``has_roll=False``, roll stored as 0).
    ``pt2d`` are the points the crop policies use, exactly as the source stores them (AFLW2000: 21 points
    with the (-1, 452) sentinels kept; 300W-LP: 68 points), shape (N, 2), image pixels.
    ``landmarks68``/``visibility68``: 68 points (N=68, x, y in image pixels) and 0/1 visibility, when known.
    ``box``: a face box (x_min, y_min, x_max, y_max) from a box file, when the policy is ``boxes`` / BIWI.
    The image is read lazily by ``load_image()`` (RGB uint8, HxWx3) so a corrupt file is found, counted and
    skipped at conversion time rather than at listing time.
    """

    source_id: str                    # stable id, the file path relative to the dataset root without extension
    dataset: str                      # 300w_lp | aflw2000 | biwi | eth_xgaze (| synthetic variants keep these)
    ypr: np.ndarray                   # (3,) float64 degrees
    load_image: Callable[[], np.ndarray]
    split: str = "train"
    subject: str = ""
    has_roll: bool = True
    pt2d: Optional[np.ndarray] = None
    landmarks68: Optional[np.ndarray] = None
    visibility68: Optional[np.ndarray] = None
    box: Optional[np.ndarray] = None
    image_path: str = ""
    extra: dict = field(default_factory=dict)
