"""One synthetic person (SPEC section 2, "synthetic heads"): the parameters of a head and of the light of its shot.

:class:`HeadParams` holds shape factors, colours (skin, hair, iris, lips, shirt), the hair line with its side parting
and fringe, optional beard / glasses, the eye-in-head gaze and the light (camera frame); :func:`sample_head` draws a
random person and light, :func:`mirror_params` the mirror-image person (x -> -x, DATA_FACTS 1.5's horizontal flip).
What the person looks like in 3-D is ``geometry`` (ellipsoids), ``appearance`` (albedo) and ``landmarks``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class HeadParams:
    """One synthetic person (shape, colours, hair, accessories) plus the light of the shot (camera frame).

    ``parting`` is the signed x of the hair parting (0 = left/right symmetric head: no parting, no fringe).
    ``gaze`` is the eye-in-head direction (pitch, yaw) in radians, same signs as the head pose.
    """

    skull: Tuple[float, float, float] = (1.0, 1.0, 1.0)     # width, height, depth factors
    jaw: Tuple[float, float] = (1.0, 1.0)                   # face ellipsoid width, length factors
    nose: Tuple[float, float] = (1.0, 1.0)                  # protrusion, width factors
    eye_spacing: float = 1.0
    ear_size: float = 1.0
    skin: Tuple[float, float, float] = (0.85, 0.66, 0.54)
    hair: Tuple[float, float, float] = (0.18, 0.11, 0.06)
    iris: Tuple[float, float, float] = (0.30, 0.18, 0.08)
    lips: Tuple[float, float, float] = (0.72, 0.36, 0.34)
    shirt: Tuple[float, float, float] = (0.2, 0.3, 0.6)
    hair_volume: float = 0.08
    hair_front: float = 0.50                                # hairline height (normalised skull y) at the front
    hair_back: float = -0.8                                 # lowest hair at the back
    parting: float = 0.35
    fringe: float = 0.25
    beard: bool = False
    glasses: bool = False
    glasses_color: Tuple[float, float, float] = (0.08, 0.08, 0.1)
    light: Tuple[float, float, float] = (0.3, 0.5, 0.8)
    ambient: float = 0.45
    diffuse: float = 0.6
    gaze: Tuple[float, float] = (0.0, 0.0)


_SKIN_LIGHT = np.array([0.95, 0.80, 0.69])
_SKIN_DARK = np.array([0.40, 0.26, 0.18])
_HAIR_PALETTE = np.array([[0.07, 0.05, 0.04], [0.28, 0.16, 0.08], [0.45, 0.30, 0.16], [0.82, 0.66, 0.36],
                          [0.58, 0.24, 0.10], [0.62, 0.62, 0.62], [0.15, 0.12, 0.10]])
_IRIS_PALETTE = np.array([[0.30, 0.18, 0.08], [0.22, 0.40, 0.62], [0.25, 0.42, 0.25], [0.10, 0.07, 0.05]])


def _t(x) -> Tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(x).reshape(-1))


def _lum(c) -> float:
    return float(np.dot(c, [0.299, 0.587, 0.114]))


def sample_head(rng: np.random.Generator, symmetric: bool = False) -> HeadParams:
    """A random person and light. ``symmetric=True`` drops the lateral asymmetric detail (parting, fringe)."""
    skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * rng.uniform(0, 1) + rng.normal(0, 0.025, 3)
    hair = _HAIR_PALETTE[rng.integers(len(_HAIR_PALETTE))] * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, 3)
    hair = np.clip(hair, 0.02, 0.95)
    if abs(_lum(hair) - _lum(skin)) < 0.2:   # keep the back of the head clearly different from the face
        hair = hair * 0.35 if _lum(skin) > 0.35 else np.clip(hair * 1.8 + 0.1, 0, 0.95)
    lips = np.clip(skin * np.array([0.95, 0.55, 0.55]) + rng.normal(0, 0.03, 3), 0, 1)
    side = 0.0 if symmetric else float(rng.choice([-1.0, 1.0]))
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.3, 0.8), rng.uniform(0.5, 1.0)])
    return HeadParams(
        skull=_t(rng.uniform([0.92, 0.92, 0.92], [1.08, 1.08, 1.08])),
        jaw=_t(rng.uniform([0.9, 0.9], [1.1, 1.1])),
        nose=_t(rng.uniform([0.85, 0.85], [1.2, 1.2])),
        eye_spacing=float(rng.uniform(0.92, 1.08)),
        ear_size=float(rng.uniform(0.85, 1.15)),
        skin=_t(np.clip(skin, 0, 1)), hair=_t(hair), lips=_t(lips),
        iris=_t(_IRIS_PALETTE[rng.integers(len(_IRIS_PALETTE))]),
        shirt=_t(rng.uniform(0.05, 0.9, 3)),
        hair_volume=float(rng.uniform(0.04, 0.14)),
        hair_front=float(rng.uniform(0.42, 0.58)),
        hair_back=float(rng.uniform(-0.95, -0.7)),
        parting=side * float(rng.uniform(0.25, 0.45)),
        fringe=0.0 if symmetric else float(rng.uniform(0.1, 0.35)),
        beard=bool(rng.uniform() < 0.15),
        glasses=bool(rng.uniform() < 0.15),
        glasses_color=_t(rng.uniform(0.0, 0.35, 3)),
        light=_t(light / np.linalg.norm(light)),
        ambient=float(rng.uniform(0.35, 0.55)),
        diffuse=float(rng.uniform(0.45, 0.75)),
    )


def mirror_params(p: HeadParams) -> HeadParams:
    """The mirror-image person and light (x -> -x): renders the horizontally flipped image exactly."""
    lx, ly, lz = p.light
    return dataclasses.replace(p, parting=-p.parting, light=(-lx, ly, lz), gaze=(p.gaze[0], -p.gaze[1]))
