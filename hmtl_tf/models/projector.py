"""Barlow Twins projector (Sec. 4.3; Zbontar et al. 2021): three linear layers of ``units`` (2048 in the paper),
batch-norm + ReLU after the first two. Bias-free like the original (BN follows / the loss standardises)."""
from __future__ import annotations

from typing import Sequence

import keras


def build_projector(input_dim: int, units: Sequence[int] = (2048, 2048, 2048), name: str = "projector") -> keras.Model:
    """(B, input_dim) features -> (B, units[-1]) embedding; layers ``{name}_dense{i}``, ``{name}_bn{i}``."""
    if len(units) < 1 or any(int(u) <= 0 for u in units):
        raise ValueError(f"projector units={tuple(units)}: expected one or more positive layer sizes")
    x = inputs = keras.Input((int(input_dim),), name=f"{name}_in")
    for i, u in enumerate(units):
        x = keras.layers.Dense(int(u), use_bias=False, name=f"{name}_dense{i + 1}")(x)
        if i < len(units) - 1:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i + 1}")(x)
            x = keras.layers.ReLU(name=f"{name}_relu{i + 1}")(x)
    x = keras.layers.Activation("linear", dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, x, name=name)
