"""Procedural 3-D heads rendered with the 3DDFA pose convention, and small datasets in the published layouts.

SPEC section 2 ("synthetic heads"); geometry convention DATA_FACTS 1.4: head-frame points X (x right, y up,
z toward the camera when frontal), ``R = angles.rotation_3ddfa(pitch, yaw, roll)``, ``V = s R X + t``,
orthographic, image ``x = V_x``, ``y = h + 1 - V_y`` (1-based: the centre of 0-based pixel (row r, col c) is
(c + 1, r + 1)). So +yaw turns the face toward image-left, +pitch looks up, +roll is clockwise in the image.

The head is a union of analytic ellipsoids (skull, hair shell, face, neck, nose, ears, eyeballs, lips)
ray-cast per pixel of each ellipsoid's projected box (vectorised numpy, z-buffer); colours come from
head-frame regions (hair with a side parting and fringe, brows, eye sockets, iris, nostrils, mouth line,
optional beard / glasses), Lambertian + ambient shading, over random background clutter.
Internal geometry is in head units u (1 u = 100 mm); public 3-D points are in BFM-like units
(``UNIT`` per u, so ``Pose_Para`` scales are ~1e-3 as in the real files).
"""
from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import scipy.io as sio

from hmtl_tf import angles
from hmtl_tf.data.sample import DataError

UNIT = 100000.0        # BFM-like units per head unit (BFM coordinates are ~micrometres; 1 u = 100 mm)
UNIT_MM = 100.0        # millimetres per head unit (BIWI translations)

# ----------------------------------------------------------------------------------------------------------
# Head parameters


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


# ----------------------------------------------------------------------------------------------------------
# Geometry: ellipsoids |A (X - c)| <= 1 in head units

SKULL, HAIR, FACE, NECK, NOSE, EAR, EYE, LIPS = range(8)


@dataclass(frozen=True)
class _Ellipsoid:
    kind: int
    centre: np.ndarray        # (3,)
    a: np.ndarray             # (3, 3): X -> unit-sphere coordinates A (X - centre)
    side: float = 0.0         # -1 image-left (subject's right), +1 image-right, 0 central

    @property
    def ainv(self) -> np.ndarray:
        return np.linalg.inv(self.a)


def _ellipsoid(kind, centre, axes, tilt_x: float = 0.0, side: float = 0.0) -> _Ellipsoid:
    c, s = np.cos(tilt_x), np.sin(tilt_x)
    q = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])          # local -> head rotation about x
    a = np.diag(1.0 / np.asarray(axes, dtype=np.float64)) @ q.T
    return _Ellipsoid(kind, np.asarray(centre, dtype=np.float64), a, side)


@dataclass(frozen=True)
class _Geom:
    prims: Tuple[_Ellipsoid, ...]
    skull_c: np.ndarray
    skull_ax: np.ndarray
    eyes: np.ndarray          # (2, 3) eyeball centres (image-left first)
    eye_r: float
    almond: Tuple[float, float]   # eye opening semi-axes (x, y) in the head xy plane
    eye_y: float
    brow_y: float
    lip_c: np.ndarray
    lip_ax: np.ndarray
    nose_tip: np.ndarray
    gaze_dir: np.ndarray      # (3,) eye-in-head direction


def _front_z(prims: Sequence[_Ellipsoid], x: float, y: float) -> float:
    """Frontmost z of the union of ``prims`` along the frontal ray through head-frame (x, y)."""
    o = np.array([[x, y, 0.0]])
    tau, _ = _cast_points(prims, o, np.array([0.0, 0.0, 1.0]), params=None, geom=None)
    if not np.isfinite(tau[0]):
        raise ValueError(f"synthetic head: no surface at ({x:.3f}, {y:.3f})")
    return float(tau[0])


@functools.lru_cache(maxsize=256)
def _geometry(p: HeadParams) -> _Geom:
    """The ellipsoids of one person (cached: HeadParams is frozen and hashable)."""
    sw, sh, sd = p.skull
    skull_c, skull_ax = np.array([0.0, 0.22, -0.1]), np.array([0.80 * sw, 0.88 * sh, 1.0 * sd])
    skull = _ellipsoid(SKULL, skull_c, skull_ax)
    face = _ellipsoid(FACE, [0.0, -0.32, 0.14], [0.66 * p.jaw[0], 0.80 * p.jaw[1], 0.72])
    base = (skull, face)
    hair = _ellipsoid(HAIR, skull_c, skull_ax * (1.0 + p.hair_volume))
    neck = _ellipsoid(NECK, [0.0, -1.05, -0.22], [0.40, 0.62, 0.42])
    ex, ey, er = 0.30 * p.eye_spacing, 0.05, 0.15
    eyes = np.array([[s * ex, ey, _front_z(base, s * ex, ey) - 0.12] for s in (-1.0, 1.0)])
    eye_prims = tuple(_ellipsoid(EYE, eyes[i], [er] * 3, side=s) for i, s in enumerate((-1.0, 1.0)))
    ny = -0.22
    nz = _front_z(base, 0.0, ny)
    nose = _ellipsoid(NOSE, [0.0, ny, nz - 0.06], [0.11 * p.nose[1], 0.25, 0.26 * p.nose[0]], tilt_x=0.25)
    ly = -0.62
    lip_c = np.array([0.0, ly, _front_z(base, 0.0, ly) - 0.045])
    lip_ax = np.array([0.22, 0.075, 0.09])
    lips = _ellipsoid(LIPS, lip_c, lip_ax)
    ears = tuple(_ellipsoid(EAR, [s * 0.79 * sw, -0.04, -0.12], np.array([0.07, 0.25, 0.15]) * p.ear_size,
                            tilt_x=-0.2, side=s) for s in (-1.0, 1.0))
    # the nose tip: the frontmost point of the nose ellipsoid (max z on |A(X-c)| = 1)
    m = nose.ainv @ nose.ainv.T
    tip = nose.centre + m[:, 2] / np.sqrt(m[2, 2])
    gp, gy = p.gaze
    gaze = np.array([-np.cos(gp) * np.sin(gy), np.sin(gp), np.cos(gp) * np.cos(gy)])
    prims = (skull, hair, face, neck, nose, lips) + ears + eye_prims
    return _Geom(prims, skull_c, skull_ax, eyes, er, (0.13, 0.062), ey, 0.21, lip_c, lip_ax, tip, gaze)


# ----------------------------------------------------------------------------------------------------------
# Clip regions (a primitive exists only where its region holds) and colour regions


def _skull_q(g: _Geom, x: np.ndarray) -> np.ndarray:
    """Normalised skull direction of head points (N, 3) -> (N, 3) unit vectors."""
    q = (x - g.skull_c.astype(x.dtype)) / g.skull_ax.astype(x.dtype)
    return q / np.maximum(np.sqrt(np.einsum("ij,ij->i", q, q)), 1e-9)[:, None]


def _hair_region(p: HeadParams, g: _Geom, x: np.ndarray) -> np.ndarray:
    """Hair covers the top and back of the skull (hairline height interpolated front -> side -> back), lower on
    the fringe side, with a bare parting line at x = ``parting`` (lateral asymmetry)."""
    q = _skull_q(g, x)
    c = q[:, 2] / np.maximum(np.hypot(q[:, 0], q[:, 2]), 1e-9)        # cos(azimuth): 1 front, 0 side, -1 back
    line = np.interp(c, [-1.0, -0.35, -0.1, 0.45, 1.0], [p.hair_back, p.hair_back, 0.08, 0.2, p.hair_front])
    if p.parting != 0.0:
        side = np.sign(p.parting)
        sweep = np.clip(-side * q[:, 0] / 0.5, 0.0, 1.0) * np.clip(q[:, 2] / 0.5, 0.0, 1.0)
        line = line - p.fringe * sweep
    hair = q[:, 1] > line
    if p.parting != 0.0:
        bare = (np.abs(q[:, 0] - p.parting * 0.9) < 0.035) & (q[:, 1] > 0.45) & (q[:, 2] > -0.6)
        hair &= ~bare
    return hair


def _clip(p: HeadParams, g: _Geom, prim: _Ellipsoid, x: np.ndarray) -> np.ndarray:
    """Which hit points (N, 3) of ``prim`` exist (hair shell only over the hair, eyeballs only in the lid
    opening, neck cut at the shoulders)."""
    if prim.kind == HAIR:
        return _hair_region(p, g, x)
    if prim.kind == EYE:
        ax, ay = g.almond
        return ((x[:, 0] - prim.centre[0]) / ax) ** 2 + ((x[:, 1] - g.eye_y) / ay) ** 2 < 1.0
    if prim.kind == NECK:
        return x[:, 1] > -1.5
    return np.ones(len(x), dtype=bool)


_CLIPPED = (HAIR, EYE, NECK)


def _mix(col: np.ndarray, mask: np.ndarray, value) -> None:
    col[mask] = value if np.ndim(value) < 2 else value[mask]


def _colour(p: HeadParams, g: _Geom, prim: _Ellipsoid, x: np.ndarray) -> np.ndarray:
    """Albedo (N, 3) of hit points ``x`` (head frame) on ``prim``; pure function of the head-frame position."""
    n = len(x)
    skin = np.asarray(p.skin)
    hair = np.asarray(p.hair)
    col = np.empty((n, 3))
    col[:] = skin
    xx, yy, zz = x[:, 0], x[:, 1], x[:, 2]
    ax_abs = np.abs(xx)
    if prim.kind in (SKULL, HAIR, FACE):
        h = _hair_region(p, g, x) if prim.kind != HAIR else np.ones(n, dtype=bool)
        q = _skull_q(g, x)
        strands = 1.0 + 0.15 * np.cos(30.0 * np.arctan2(q[:, 0] - 0.9 * p.parting, q[:, 2]))
        _mix(col, h, hair[None, :] * strands[:, None])
    if prim.kind == NECK:
        col *= 0.88
        _mix(col, yy < -1.36, np.asarray(p.shirt))
    if prim.kind in (SKULL, FACE):
        # eyebrows: arched bands above the eyes
        t = (ax_abs / p.eye_spacing - 0.09) / 0.40
        yb = g.brow_y + 0.05 * np.sin(np.pi * np.clip(t, 0, 1)) - 0.02 * t
        brow = (t > 0) & (t < 1) & (np.abs(yy - yb) < 0.028 + 0.012 * (1 - t)) & (zz > 0.35)
        _mix(col, brow, hair * 0.7)
        # eye sockets: a darker oval around each eye
        socket = ((ax_abs - g.eyes[1, 0]) / 0.2) ** 2 + ((yy - g.eye_y + 0.01) / 0.12) ** 2 < 1.0
        col[socket & (zz > 0.3)] *= 0.8
        # cheeks
        cheek = ((ax_abs - 0.36) / 0.15) ** 2 + ((yy + 0.28) / 0.12) ** 2 < 1.0
        col[cheek & (zz > 0.3)] *= np.array([1.04, 0.9, 0.9])
        if p.beard:
            lip_y = g.lip_c[1]
            chin = (yy < lip_y + 0.02) & (zz > -0.15) & ~(((xx / 0.27) ** 2 + ((yy - lip_y) / 0.11) ** 2) < 1)
            moustache = (yy > lip_y + 0.05) & (yy < lip_y + 0.12) & (ax_abs < 0.22) & (zz > 0.5)
            burns = (ax_abs > 0.5) & (yy < 0.25) & (yy > lip_y) & (zz > -0.15)
            _mix(col, chin | moustache | burns, hair * 0.9)
    if prim.kind == NOSE:
        loc = (x - prim.centre) @ prim.a.T
        nostril = (loc[:, 1] < -0.55) & (np.abs(np.abs(loc[:, 0]) - 0.45) < 0.3) & (loc[:, 2] < 0.7)
        col[nostril] = skin * 0.3
        col *= 1.03
    if prim.kind == LIPS:
        loc = (x - prim.centre) @ prim.a.T
        col[:] = np.asarray(p.lips)
        col[np.abs(loc[:, 1] - 0.05) < 0.14] = np.asarray(p.lips) * 0.25
    if prim.kind == EAR:
        loc = (x - prim.centre) @ prim.a.T
        concha = (loc[:, 0] * prim.side > 0) & ((loc[:, 1] / 0.6) ** 2 + (loc[:, 2] / 0.55) ** 2 < 1)
        col *= 0.92
        col[concha] *= 0.65
    if prim.kind == EYE:
        d = x - prim.centre
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        c = d @ g.gaze_dir
        col[:] = (0.93, 0.92, 0.88)
        col[c > np.cos(0.52)] = np.asarray(p.iris)
        col[c > np.cos(0.22)] = (0.03, 0.03, 0.03)
    if p.glasses and prim.kind in (SKULL, FACE, NOSE, EYE, HAIR):
        ey = g.eye_y + 0.01
        r = np.sqrt(((ax_abs - g.eyes[1, 0]) / 0.18) ** 2 + ((yy - ey) / 0.13) ** 2)
        lens = (r < 1.0) & (zz > 0.3)
        col[lens] = col[lens] * 0.82 + 0.08
        band = np.abs(yy - ey - 0.04) < 0.022
        frame = ((r >= 1.0) & (r < 1.2) & (zz > 0.3)) | (band & (ax_abs < 0.14) & (zz > 0.5)) \
            | (band & (ax_abs > g.eyes[1, 0] + 0.17) & (zz > -0.35))
        col[frame] = np.asarray(p.glasses_color)
    return col


# ----------------------------------------------------------------------------------------------------------
# Ray casting


def _roots(prim: _Ellipsoid, o: np.ndarray, d: np.ndarray):
    """Both ray parameters (front = larger) of ``o + tau d`` on the ellipsoid; NaN where the ray misses."""
    po = (o - prim.centre) @ prim.a.T
    qd = prim.a @ d
    qq = qd @ qd
    b = po @ qd
    c = np.einsum("ij,ij->i", po, po) - 1.0
    disc = b * b - qq * c
    with np.errstate(invalid="ignore"):
        s = np.sqrt(disc)
    return (-b + s) / qq, (-b - s) / qq


def _cast_points(prims, o: np.ndarray, d: np.ndarray, params: Optional[HeadParams], geom: Optional[_Geom]):
    """Front-most hit (tau, primitive index) of rays ``o + tau d`` (N rays) over ``prims`` (clipped when
    ``params`` is given). tau = -inf / index -1 where nothing is hit."""
    best = np.full(len(o), -np.inf)
    idx = np.full(len(o), -1)
    for i, prim in enumerate(prims):
        for tau in _roots(prim, o, d):
            ok = np.isfinite(tau)
            if params is not None and prim.kind in _CLIPPED and ok.any():
                ok[ok] = _clip(params, geom, prim, o[ok] + tau[ok, None] * d)
            better = ok & (tau > best)
            best[better] = tau[better]
            idx[better] = i
    return best, idx


def _occluded(p: HeadParams, g: _Geom, pts: np.ndarray, d: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """True where any (clipped) surface lies in front of the surface point along the viewing direction ``d``."""
    occ = np.zeros(len(pts), dtype=bool)
    for prim in g.prims:
        for tau in _roots(prim, pts, d):
            ok = np.isfinite(tau) & (tau > eps)
            if prim.kind in _CLIPPED and ok.any():
                ok[ok] = _clip(p, g, prim, pts[ok] + tau[ok, None] * d)
            occ |= ok
    return occ


def _normals(prim: _Ellipsoid, x: np.ndarray) -> np.ndarray:
    """Unit outward normals of ellipsoid points (N, 3), in the dtype of ``x``."""
    a = prim.a.astype(x.dtype)
    n = ((x - prim.centre.astype(x.dtype)) @ a.T) @ a
    return n / np.maximum(np.sqrt(np.einsum("ij,ij->i", n, n)), 1e-12)[:, None]


# ----------------------------------------------------------------------------------------------------------
# Landmarks (iBUG 68 + 5 extra points for AFLW's 21)

FLIP_68 = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
                   + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
                   + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])
"""iBUG-68 index permutation of a horizontal mirror (point i of the mirrored face = point FLIP_68[i] mirrored)."""

# AFLW 21 points from the 68 (+ extras 68: right-eye centre, 69: left-eye centre, 70: right ear, 71: left ear,
# 72: mouth centre). "Right" = the subject's right = image-left; order as in the real AFLW2000 files.
AFLW21_FROM_73 = np.array([17, 19, 21, 22, 24, 26, 36, 68, 39, 42, 69, 45, 70, 31, 30, 35, 71, 48, 72, 54, 8])
AFLW_SENTINEL = (-1.0, 452.0)   # how AFLW2000 stores an invisible point (DATA_FACTS 1.3)


def _outline_dist(ells: Sequence[Tuple[np.ndarray, np.ndarray]], o: np.ndarray, d: np.ndarray) -> float:
    """Distance from ``o`` along ``d`` to the outer boundary of a union of 2-D ellipses (centre, axes)."""
    best = 0.0
    for c, ax in ells:
        po, qd = (o - c) / ax, d / ax
        a, b, cc = qd @ qd, po @ qd, po @ po - 1.0
        disc = b * b - a * cc
        if disc > 0:
            best = max(best, (-b + np.sqrt(disc)) / a)
    return best


@functools.lru_cache(maxsize=256)
def _landmarks(p: HeadParams) -> Tuple[np.ndarray, np.ndarray]:
    """(73, 3) head-frame surface points (68 iBUG + 5 AFLW extras) and their (73, 3) outward normals."""
    g = _geometry(p)
    xy = np.zeros((73, 2))
    skull, face = g.prims[0], g.prims[2]
    ells = [(skull.centre[:2], 1.0 / np.diag(skull.a)[:2]), (face.centre[:2], 1.0 / np.diag(face.a)[:2])]
    o = np.array([0.0, -0.12])
    for i, phi in enumerate(np.radians(np.linspace(-112.0, 112.0, 17))):      # jaw 0..16, image-left first
        d = np.array([np.sin(phi), -np.cos(phi)])
        xy[i] = o + 0.94 * _outline_dist(ells, o, d) * d
    for i in range(5):                                                         # brows 17..21 and 22..26
        t = 1.0 - i / 4.0
        x = (0.09 + 0.40 * t) * p.eye_spacing
        y = g.brow_y + 0.05 * np.sin(np.pi * t) - 0.02 * t
        xy[17 + i] = (-x, y)
        xy[26 - i] = (x, y)
    for i, y in enumerate(np.linspace(g.eye_y + 0.02, g.nose_tip[1] + 0.1, 3)):  # nose bridge 27..29, tip 30
        xy[27 + i] = (0.0, y)
    xy[30] = g.nose_tip[:2]
    base_y = g.nose_tip[1] - 0.07
    for i, x in enumerate(np.linspace(-0.085, 0.085, 5) * p.nose[1]):         # 31..35 nostril base
        xy[31 + i] = (x, base_y + 0.02 * abs(x) / 0.085)
    ax, ay = np.array(g.almond) * 0.93
    thetas = np.radians([180, 120, 60, 0, -60, -120])
    for e, start in enumerate((36, 42)):                                       # eyes
        xy[start:start + 6] = np.stack([g.eyes[e, 0] + ax * np.cos(thetas), g.eye_y + ay * np.sin(thetas)], 1)
    lx, ly = g.lip_ax[0] * 0.93, g.lip_ax[1] * 0.85
    th = np.radians([180, 150, 120, 90, 60, 30, 0, -30, -60, -90, -120, -150])
    xy[48:60] = np.stack([g.lip_c[0] + lx * np.cos(th), g.lip_c[1] + 0.01 + ly * np.sin(th)], 1)
    th = np.radians([180, 135, 90, 45, 0, -45, -90, -135])
    xy[60:68] = np.stack([g.lip_c[0] + 0.75 * lx * np.cos(th), g.lip_c[1] + 0.01 + 0.2 * ly * np.sin(th)], 1)
    xy[68], xy[69] = g.eyes[0, :2], g.eyes[1, :2]
    xy[72] = (g.lip_c[0], g.lip_c[1] + 0.01)
    body = [q for q in g.prims if q.kind not in (HAIR, NECK)]
    o3 = np.concatenate([xy, np.zeros((73, 1))], 1)
    tau, idx = _cast_points(body, o3, np.array([0.0, 0.0, 1.0]), p, g)
    pts = o3.copy()
    pts[:, 2] = tau
    nrm = np.zeros_like(pts)
    for j, prim in enumerate(body):
        sel = idx == j
        if sel.any():
            nrm[sel] = _normals(prim, pts[sel])
    for k, ear in zip((70, 71), g.prims[6:8]):           # ears: outer-front point of the ear ellipsoid
        u = np.array([0.8 * ear.side, 0.0, 0.6])
        pts[k] = ear.centre + ear.ainv @ u
        nrm[k] = _normals(ear, pts[k][None])[0]
    if not np.all(np.isfinite(pts)):
        raise ValueError("synthetic head: a landmark missed the surface")
    pts.setflags(write=False)
    nrm.setflags(write=False)
    return pts, nrm


def head_landmarks_3d(params: HeadParams) -> np.ndarray:
    """(68, 3) head-frame iBUG-68 landmarks in BFM-like units (project with ``Pose_Para``: ``s R X + t``)."""
    return np.array(_landmarks(params)[0][:68]) * UNIT


def project_pose_para(points: np.ndarray, pose_para, height: int) -> np.ndarray:
    """3DDFA projection (DATA_FACTS 1.4) of (N, 3) head points: -> (N, 3) image (x, y = h + 1 - V_y, V_z)."""
    pp = np.asarray(pose_para, dtype=np.float64).reshape(-1)
    r = angles.rotation_3ddfa(pp[0], pp[1], pp[2])
    v = pp[6] * np.asarray(points, dtype=np.float64) @ r.T + pp[3:6]
    return np.stack([v[:, 0], height + 1.0 - v[:, 1], v[:, 2]], 1)


# ----------------------------------------------------------------------------------------------------------
# Background


def make_background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """Random clutter (RGB uint8 HxWx3): a two-colour gradient with low-frequency noise, then 4-14 random shapes."""
    w, h = size
    sw, sh = max(w // 8, 2), max(h // 8, 2)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ang = rng.uniform(0, 2 * np.pi)
    u = np.cos(ang) * np.linspace(0, 1, sw)[None, :] + np.sin(ang) * np.linspace(0, 1, sh)[:, None]
    u = (u - u.min()) / max(u.max() - u.min(), 1e-6)
    small = c0 + (c1 - c0) * u[:, :, None] + rng.normal(0, rng.uniform(4, 18), (sh, sw, 3))
    img = cv2.resize(np.clip(small, 0, 255).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    img = img.astype(np.uint8)
    for _ in range(int(rng.integers(4, 15))):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(4))
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        sx, sy = int(rng.integers(w // 20, w // 2)), int(rng.integers(h // 20, h // 2))
        if kind == 0:
            cv2.rectangle(img, (x0, y0), (x0 + sx, y0 + sy), col, -1)
        elif kind == 1:
            cv2.ellipse(img, (x0, y0), (sx // 2, sy // 2), float(rng.uniform(0, 180)), 0, 360, col, -1)
        elif kind == 2:
            cv2.line(img, (x0, y0), (x0 + sx, y0 + sy), col, int(rng.integers(2, 12)))
        else:
            pts = rng.integers([-w // 4, -h // 4], [w, h], size=(int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], col)
    return img


# ----------------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Render:
    """One rendered head: image and labels (all in the 3DDFA convention, 1-based image coordinates)."""

    image: np.ndarray           # (H, W, 3) RGB uint8
    landmarks: np.ndarray       # (73, 2) image px (68 iBUG + 5 AFLW extras)
    z: np.ndarray               # (73,) V_z
    visibility: np.ndarray      # (73,) 0/1
    pose_para: np.ndarray       # (7,) [pitch, yaw, roll, tx, ty, tz, s] radians / BFM units
    rotation: np.ndarray        # (3, 3)
    mask: np.ndarray            # (H, W) bool, head pixels


def default_scale(size: Tuple[int, int]) -> float:
    """Pixels per head unit that make a head like a 300W-LP face at this image size (~0.3 min(w, h))."""
    return 0.3 * min(size)


def _centre_for(r: np.ndarray, scale: float, size: Tuple[int, int], target=None) -> Tuple[float, float]:
    """Image position of the head origin that puts the face centre (head point (0, -0.3, 0.5)) at ``target``
    (default: the image centre, 1-based)."""
    w, h = size
    tx, ty = ((w + 1) / 2.0, (h + 1) / 2.0) if target is None else target
    v = scale * r @ np.array([0.0, -0.3, 0.5])
    return float(tx - v[0]), float(ty + v[1])


def _bbox(prim: _Ellipsoid, r: np.ndarray, scale: float, t: np.ndarray, size) -> Optional[Tuple[int, int, int, int]]:
    """Pixel box (r0, r1, c0, c1), half-open, 0-based, of the ellipsoid's projection, clipped to the image."""
    w, h = size
    m = scale * r @ prim.ainv
    ext = np.linalg.norm(m, axis=1)
    v = scale * r @ prim.centre + t
    x0, x1 = v[0] - ext[0], v[0] + ext[0]
    y0, y1 = h + 1 - (v[1] + ext[1]), h + 1 - (v[1] - ext[1])
    c0, c1 = max(int(np.floor(x0 - 1)), 0), min(int(np.ceil(x1)), w)
    r0, r1 = max(int(np.floor(y0 - 1)), 0), min(int(np.ceil(y1)), h)
    if c1 <= c0 or r1 <= r0:
        return None
    return r0, r1, c0, c1


def render_rotation(params: HeadParams, r: np.ndarray, size=(450, 450), scale: Optional[float] = None,
                    center=None, background=None, rng: Optional[np.random.Generator] = None,
                    draw: bool = True) -> Render:
    """Render ``params`` under rotation ``r`` (3DDFA frame). See :func:`render_head`. ``draw=False`` computes
    only the labels (landmarks, visibility, pose; image and mask are None)."""
    w, h = int(size[0]), int(size[1])
    scale = default_scale((w, h)) if scale is None else float(scale)
    cx, cy = _centre_for(r, scale, (w, h)) if center is None else (float(center[0]), float(center[1]))
    t = np.array([cx, h + 1.0 - cy, 0.0])
    g = _geometry(params)
    rt = r.T
    b0 = rt @ (np.array([1.0, float(h), 0.0]) - t) / scale         # head point on the ray of pixel (0, 0)
    ex, ey, dz = rt[:, 0] / scale, -rt[:, 1] / scale, rt[:, 2]      # per column, per row, along the view
    boxes = [_bbox(pr, r, scale, t, (w, h)) for pr in g.prims]
    live = [b for b in boxes if b is not None] if draw else []
    img = mask_full = None
    if not draw:
        pass
    elif background is None:
        img = make_background(rng, (w, h)) if rng is not None else np.full((h, w, 3), 128, np.uint8)
    else:
        img = np.array(background, dtype=np.uint8, copy=True)
        if img.shape != (h, w, 3):
            raise ValueError(f"render_head: background must be ({h}, {w}, 3), got {img.shape}")
    if draw:
        mask_full = np.zeros((h, w), dtype=bool)
    if live:
        R0, R1 = min(b[0] for b in live), max(b[1] for b in live)
        C0, C1 = min(b[2] for b in live), max(b[3] for b in live)
        zbuf = np.full((R1 - R0, C1 - C0), -np.inf, dtype=np.float32)
        ids = np.full((R1 - R0, C1 - C0), -1, dtype=np.int8)
        for i, (prim, box) in enumerate(zip(g.prims, boxes)):
            if box is None:
                continue
            _raster(params, g, prim, i, box, b0, ex, ey, dz, zbuf, ids, R0, C0)
        out = img[R0:R1, C0:C1].astype(np.float32)
        light = np.asarray(params.light)
        for i, prim in enumerate(g.prims):
            rows, cols = np.nonzero(ids == i)
            if rows.size == 0:
                continue
            tau = zbuf[rows, cols]
            x = _points(b0, ex, ey, dz, rows + R0, cols + C0, tau)
            n_cam = _normals(prim, x) @ r.T
            shade = params.ambient + params.diffuse * np.clip(n_cam @ light, 0.0, None)
            out[rows, cols] = np.clip(_colour(params, g, prim, x) * shade[:, None] * 255.0, 0, 255)
        img[R0:R1, C0:C1] = out.astype(np.uint8)
        mask_full[R0:R1, C0:C1] = ids >= 0
        # soften the aliased silhouette (symmetric kernel: mirror-consistent)
        y0, y1, x0, x1 = max(R0 - 2, 0), min(R1 + 2, h), max(C0 - 2, 0), min(C1 + 2, w)
        img[y0:y1, x0:x1] = cv2.GaussianBlur(img[y0:y1, x0:x1], (3, 3), 0.6)
    pts, nrm = _landmarks(params)
    v = scale * pts @ r.T + t
    lm = np.stack([v[:, 0], h + 1.0 - v[:, 1]], 1)
    facing = (nrm @ r.T)[:, 2] > 0.0
    vis = facing & ~_occluded(params, g, np.asarray(pts), dz)
    pose = np.array([0.0, 0.0, 0.0, t[0], t[1], t[2], scale / UNIT])
    return Render(img, lm, v[:, 2], vis.astype(np.uint8), pose, r, mask_full)


def _points(b0, ex, ey, dz, rows, cols, tau) -> np.ndarray:
    """Head-frame points (N, 3) float32 of pixels (rows, cols) at depth ``tau`` along the view."""
    f = np.float32
    return (b0.astype(f) + rows.astype(f)[:, None] * ey.astype(f) + cols.astype(f)[:, None] * ex.astype(f)
            + tau.astype(f)[:, None] * dz.astype(f))


def _raster(p, g, prim, i, box, b0, ex, ey, dz, zbuf, ids, R0, C0) -> None:
    """Ray-cast one ellipsoid over its pixel box and update the z-buffer (front root, clipped)."""
    r0, r1, c0, c1 = box
    rm, cm = 0.5 * (r0 + r1 - 1), 0.5 * (c0 + c1 - 1)
    rows = (np.arange(r0, r1) - rm)
    cols = (np.arange(c0, c1) - cm)
    a = prim.a
    p0 = a @ (b0 + cm * ex + rm * ey - prim.centre)
    pc, pr, q = a @ ex, a @ ey, a @ dz
    qq = q @ q
    br = (p0 @ q) + rows * (pr @ q)
    bc = cols * (pc @ q)
    fr = (p0 @ p0 - 1.0) + 2.0 * rows * (p0 @ pr) + rows ** 2 * (pr @ pr)
    fc = 2.0 * cols * (p0 @ pc) + cols ** 2 * (pc @ pc)
    rr = rows.astype(np.float32)[:, None]
    cc = cols.astype(np.float32)[None, :]
    b = br.astype(np.float32)[:, None] + bc.astype(np.float32)[None, :]
    c = fr.astype(np.float32)[:, None] + fc.astype(np.float32)[None, :] + np.float32(2.0 * (pc @ pr)) * rr * cc
    disc = b * b - np.float32(qq) * c
    hit = disc > 0
    if not hit.any():
        return
    tau = (np.sqrt(np.maximum(disc, 0)) - b) / np.float32(qq)
    if prim.kind in _CLIPPED:
        hr, hc = np.nonzero(hit)
        x = _points(b0, ex, ey, dz, hr + r0, hc + c0, tau[hr, hc])
        hit[hr, hc] = _clip(p, g, prim, x)
    zb = zbuf[r0 - R0:r1 - R0, c0 - C0:c1 - C0]
    better = hit & (tau > zb)
    np.copyto(zb, tau, where=better)
    ids[r0 - R0:r1 - R0, c0 - C0:c1 - C0][better] = i


def render_head(params: HeadParams, ypr_deg, size=(450, 450), scale: Optional[float] = None, center=None,
                background=None, rng: Optional[np.random.Generator] = None):
    """Render a head at (yaw, pitch, roll) degrees (3DDFA convention, DATA_FACTS 1.4).

    ``size`` (w, h); ``scale`` pixels per head unit (default :func:`default_scale`); ``center`` the 1-based image
    position of the head origin (default: face centred); ``background`` an (h, w, 3) RGB uint8 image, else random
    clutter from ``rng``, else flat grey. Returns ``(image RGB uint8, landmarks68 (68, 2) 1-based px,
    visibility68 (68,) 0/1, pose_para (7,) [pitch, yaw, roll, tx, ty, tz, s])``.
    """
    yaw, pitch, roll = np.radians(np.asarray(ypr_deg, dtype=np.float64))
    out = render_rotation(params, angles.rotation_3ddfa(pitch, yaw, roll), size, scale, center, background, rng)
    out.pose_para[:3] = (pitch, yaw, roll)
    return out.image, out.landmarks[:68], out.visibility[:68], out.pose_para


def render_ypr(params: HeadParams, ypr_deg, **kw) -> Render:
    """Like :func:`render_head` but returns the full :class:`Render` (73 points, depth, mask)."""
    yaw, pitch, roll = np.radians(np.asarray(ypr_deg, dtype=np.float64))
    out = render_rotation(params, angles.rotation_3ddfa(pitch, yaw, roll), **kw)
    out.pose_para[:3] = (pitch, yaw, roll)
    return out


# ----------------------------------------------------------------------------------------------------------
# Datasets in the published layouts (DATA_FACTS 1.1-1.3, 2.7, 3, 4)

DATASET_CODES = {"300w_lp": 1, "aflw2000": 2, "biwi": 3, "eth_xgaze": 4}
W300LP_SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
_W300LP_P = (0.085, 0.615, 0.03, 0.27)             # share of each subset in the real 61,225 (DATA_FACTS 1.1)
BIWI_KDOE_TEST = (6, 7, 10, 13, 15, 18, 21, 22)     # KD-OE BIWI.json "test" sequences (DATA_FACTS 4)
XGAZE_VAL = (108, 109, 111)                         # HMTL's validation subjects (DATA_FACTS 3)
# subject order for a requested count: one train subject, the validation three, then test / train alternately
_XGAZE_ORDER = (0, 108, 109, 111, 1, 3, 2, 4, 20, 5, 23, 6)
_XGAZE_TEST = (1, 2, 20, 23, 37, 49, 64, 68, 70, 82, 87, 91, 112, 114, 118)
_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: hmtl_tf synthetic heads, Created on: (deterministic)"
BIWI_RGB_CAL = ("517.679 0 320 \n0 517.679 240.5 \n0 0 1 \n\n0 0 0 0 \n\n0.999947 0.00432361 0.00929419 \n"
                "-0.00446314 0.999877 0.0150443 \n-0.009228 -0.015085 0.999844 \n\n-24.0198 5.8896 -13.2308 \n\n"
                "640 480\n")
BIWI_DEPTH_CAL = "575.816 0 320 \n0 575.816 240 \n0 0 1 \n\n0 0 0 0 \n\n1 0 0 \n0 1 0 \n0 0 1 \n\n0 0 0 \n\n640 480\n"
_BIWI_F, _BIWI_C = 517.679, (320.0, 240.5)


def _rng(seed: int, dataset: str, *index: int) -> np.random.Generator:
    """The generator of one sample: seeded by (seed, dataset, index...) only, so files are resumable."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), DATASET_CODES[dataset]] + [int(i) for i in index]))


def _write(path: str, data: Union[bytes, str]) -> bool:
    """Write atomically unless ``path`` exists (never overwrite). True when written."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return True


def _jpg(img_rgb: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def _png(img_rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def _mat(d: dict) -> bytes:
    """MATLAB 5 bytes of ``d`` (keys in order) with a fixed header text (savemat stamps the time otherwise)."""
    buf = io.BytesIO()
    sio.savemat(buf, d, format="5", oned_as="column")
    b = bytearray(buf.getvalue())
    b[:116] = _MAT_HEADER.ljust(116)
    return bytes(b)


def _fit_params(rng: np.random.Generator, p: HeadParams, pose_para: np.ndarray, box) -> dict:
    """Stand-ins for the 3DMM fitting keys of 300W-LP / AFLW2000 (shapes and dtypes as real, DATA_FACTS 1.2)."""
    lx, ly, lz = p.light
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 1.3 * max(x1 - x0, y1 - y0)
    return {
        "roi": np.array([[cx - half, cy - half, cx + half, cy + half]]).round().astype(np.int16),
        "Illum_Para": np.array([[p.ambient * 2, p.ambient * 2, p.ambient * 2, p.diffuse, p.diffuse, p.diffuse,
                                 np.arcsin(ly), np.arctan2(lx, lz), 0.0, 20.0]], dtype=np.float64),
        "Color_Para": np.concatenate([rng.uniform(0.8, 1.1, 3), rng.uniform(-0.1, 0.15, 3), [1.0]])[None]
        .astype(np.float32),
        "Tex_Para": rng.normal(0, 500.0, (199, 1)),
        "Shape_Para": rng.normal(0, 4e4, (199, 1)),
        "Exp_Para": rng.normal(0, 0.5, (29, 1)),
        "Pose_Para": pose_para.astype(np.float32)[None],
    }


def _box68(lm: np.ndarray) -> Tuple[float, float, float, float]:
    return float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())


def face_box(render: Render, size) -> List[float]:
    """A detector-like face box [x0, y0, x1, y1] (0-based px): the 68-point extent with the forehead added
    (KD-OE boxes include the forehead, DATA_FACTS 4), clipped to the image."""
    x0, y0, x1, y1 = _box68(render.landmarks[:68] - 1.0)
    y0 -= 0.3 * (y1 - y0)
    w, h = size
    return [float(np.clip(x0, 0, w - 1)), float(np.clip(y0, 0, h - 1)), float(np.clip(x1, 0, w - 1)),
            float(np.clip(y1, 0, h - 1))]


class _Progress:
    """Rendering progress (hmtl_tf.progress: rate, ETA; plain periodic lines when stderr is not a terminal)."""

    def __init__(self, name: str, total: int, enabled: bool):
        from hmtl_tf.progress import Progress

        self.written = 0
        self._p = Progress(f"[make_synthetic] {name}", total, "images", stream=sys.stderr, enabled=enabled,
                           extra=lambda: f"written {self.written}")

    def step(self, written: bool) -> None:
        self.written += int(written)
        self._p.update(1)


def _gt(render: Render, ypr) -> dict:
    return {"ypr": np.asarray(ypr, dtype=np.float64), "landmarks68": render.landmarks[:68].copy(),
            "visibility68": render.visibility[:68].copy(), "pose_para": render.pose_para.copy()}


def _clip_angles(a, lim):
    return float(np.clip(a, -lim, lim))


# --- 300W-LP ----------------------------------------------------------------------------------------------

def _w300lp_face(seed: int, f: int):
    """One source face: subset, name stem, person, background seed and its profiled views (ypr, scale, shift)."""
    rng = _rng(seed, "300w_lp", f, 0)
    subset = W300LP_SUBSETS[f] if f < 4 else W300LP_SUBSETS[int(rng.choice(4, p=_W300LP_P))]
    stem = {"AFW": f"AFW_{134212 + 7919 * f}_1", "HELEN": f"HELEN_{1269874180 + 7919 * f}_1",
            "IBUG": f"IBUG_image_{f:03d}_1", "LFPW": f"LFPW_image_train_{f:04d}"}[subset]
    params = sample_head(rng)
    yaw0 = _clip_angles(rng.normal(0, 20), 50)
    pitch0, roll0 = _clip_angles(rng.normal(0, 13), 40), _clip_angles(rng.normal(0, 9), 30)
    step, sgn = rng.uniform(12, 28), (1.0 if yaw0 >= 0 else -1.0) * (1 if rng.uniform() < 0.8 else -1)
    views = []
    for k in range(int(rng.integers(1, 5))):
        yaw = yaw0 + sgn * k * step
        if abs(yaw) > 92:
            break
        ypr = (yaw, _clip_angles(pitch0 + rng.normal(0, 3), 40), _clip_angles(roll0 + rng.normal(0, 3), 30))
        views.append((ypr, rng.uniform(118, 150), rng.normal(0, 8, 2)))
    return subset, stem, params, views


def _w300lp_plan(seed: int, n: int):
    """The first ``n`` (face, view) samples; a prefix of an endless deterministic sequence."""
    plan, f = [], 0
    while len(plan) < n:
        subset, stem, params, views = _w300lp_face(seed, f)
        for k, view in enumerate(views[: n - len(plan)]):
            plan.append((f, k, subset, f"{stem}_{k}", params, view))
        f += 1
    return plan


def _render_450(seed: int, dataset: str, index: int, params: HeadParams, ypr, scale: float, shift, draw: bool):
    """One 450x450 face of the 300W-LP / AFLW2000 layouts: 3DDFA rotation of ``ypr``, centred at the image
    centre + ``shift``, its own seeded background (only when ``draw``); Pose_Para angles set exactly."""
    size = (450, 450)
    yaw, pitch, roll = np.radians(ypr)
    rot = angles.rotation_3ddfa(pitch, yaw, roll)
    centre = _centre_for(rot, scale, size, (225.5 + shift[0], 225.5 + shift[1]))
    bg = make_background(_rng(seed, dataset, index, 1), size) if draw else None
    out = render_rotation(params, rot, size, scale, centre, background=bg, draw=draw)
    out.pose_para[:3] = (pitch, yaw, roll)
    return out


def _w300lp_item(root: str, seed: int, item) -> Tuple[dict, bool]:
    """Renders and writes one 300W-LP sample and its ``_Flip`` copy (files that exist are kept); returns its
    ground truth ``{source_id: ...}`` and whether anything was written. A pure function of (seed, item)."""
    size = (450, 450)
    f, k, subset, name, params, (ypr, scale, shift) = item
    paths = [os.path.join(root, sub, name + ext) for sub in (subset, subset + "_Flip") for ext in (".jpg", ".mat")]
    draw = not all(os.path.exists(q) for q in paths)
    out = _render_450(seed, "300w_lp", f, params, ypr, scale, shift, draw)
    mrng = _rng(seed, "300w_lp", f, 2 + k)
    keys = _fit_params(mrng, params, out.pose_para, _box68(out.landmarks[:68]))
    mat = {"pt2d": out.landmarks[:68].T.astype(np.float64), "roi": keys["roi"], **{
        q: keys[q] for q in ("Illum_Para", "Color_Para", "Tex_Para", "Shape_Para", "Exp_Para", "Pose_Para")}}
    # the mirrored copy: image flipped, (pitch, -yaw, -roll), x -> W + 1 - x, iBUG indices re-paired
    fl = out.landmarks[:68][FLIP_68].copy()
    fl[:, 0] = size[0] + 1.0 - fl[:, 0]
    fpose = out.pose_para * np.array([1, -1, -1, -1, 1, 1, 1.0]) + np.array([0, 0, 0, size[0] + 1.0, 0, 0, 0])
    fmat = dict(mat, pt2d=fl.T.copy(), Pose_Para=fpose.astype(np.float32)[None])
    written = False
    if draw:
        written |= _write(paths[0], _jpg(out.image))
        written |= _write(paths[1], _mat(mat))
        written |= _write(paths[2], _jpg(np.ascontiguousarray(out.image[:, ::-1])))
        written |= _write(paths[3], _mat(fmat))
    gt = {f"{subset}/{name}": _gt(out, ypr),
          f"{subset}_Flip/{name}": {"ypr": angles.flip_ypr(ypr), "landmarks68": fl,
                                    "visibility68": out.visibility[:68][FLIP_68].copy(), "pose_para": fpose}}
    return gt, written


def _w300lp_chunk(args) -> List[Tuple[dict, bool]]:
    root, seed, items = args
    return [_w300lp_item(root, seed, it) for it in items]


def render_workers(n: int) -> int:
    """Processes used to render ``n`` samples: 1 for small sets (a process start costs ~2 s), else the cores
    (``HMTL_RENDER_WORKERS`` overrides). The output is identical for any count: every sample is a pure function
    of (seed, index)."""
    env = os.environ.get("HMTL_RENDER_WORKERS")
    if env:
        return max(1, int(env))
    return 1 if n < 600 else max(1, min(os.cpu_count() or 1, 8))


def _write_300wlp(root: str, seed: int, n: int, progress: bool) -> dict:
    gt = {}
    prog = _Progress("300W_LP", n, progress)
    plan = _w300lp_plan(seed, n)
    workers = render_workers(n)
    if workers == 1:
        results = (_w300lp_item(root, seed, it) for it in plan)
        for g, written in results:
            gt.update(g)
            prog.step(written)
        return gt
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = 50
    jobs = [(root, seed, plan[i:i + chunk]) for i in range(0, len(plan), chunk)]
    # fork: works from any caller (spawn re-imports an unguarded __main__); the children run numpy / OpenCV only
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for part in pool.map(_w300lp_chunk, jobs):
            for g, written in part:
                gt.update(g)
                prog.step(written)
    return gt


# --- AFLW2000 ---------------------------------------------------------------------------------------------

def _aflw_sample(seed: int, i: int):
    rng = _rng(seed, "aflw2000", i)
    number = 2 + 2 * i + int(rng.integers(2))            # non-contiguous, increasing ids like the real set
    params = sample_head(rng)
    yaw = rng.normal(0, 22) if rng.uniform() < 0.55 else rng.uniform(-90, 90)
    ypr = [_clip_angles(yaw, 92), _clip_angles(rng.normal(0, 15), 60), _clip_angles(rng.normal(0, 10), 45)]
    if i % 50 == 17:                                     # ~2 %: an |angle| > 99 (the +-99 filter, DATA_FACTS 1.3)
        j = int(rng.integers(3))
        ypr[j] = float(rng.choice([-1, 1]) * rng.uniform(100, 130))
    return f"image{number:05d}", params, tuple(ypr), rng.uniform(118, 150), rng.normal(0, 10, 2)


def _write_aflw2000(root: str, seed: int, n: int, progress: bool) -> dict:
    gt, size = {}, (450, 450)
    prog = _Progress("AFLW2000", n, progress)
    for i in range(n):
        name, params, ypr, scale, shift = _aflw_sample(seed, i)
        paths = [os.path.join(root, name + ext) for ext in (".jpg", ".mat")]
        draw = not all(os.path.exists(q) for q in paths)
        out = _render_450(seed, "aflw2000", i, params, ypr, scale, shift, draw)
        pt21 = out.landmarks[AFLW21_FROM_73].copy()
        pt21[out.visibility[AFLW21_FROM_73] == 0] = AFLW_SENTINEL
        keys = _fit_params(_rng(seed, "aflw2000", i, 2), params, out.pose_para, _box68(out.landmarks[:68]))
        pt3d = np.concatenate([out.landmarks[:68], out.z[:68, None]], 1).T.astype(np.float32)
        mat = {"pt2d": pt21.T.copy(), **{q: keys[q] for q in ("Illum_Para", "Color_Para", "Tex_Para", "Shape_Para",
                                                               "Exp_Para", "Pose_Para", "roi")}, "pt3d_68": pt3d}
        written = False
        if draw:
            written |= _write(paths[0], _jpg(out.image))
            written |= _write(paths[1], _mat(mat))
        gt[name] = dict(_gt(out, ypr), pt2d=pt21)
        prog.step(written)
    return gt


# --- BIWI -------------------------------------------------------------------------------------------------

def biwi_sequence_ids(n: int) -> List[int]:
    """Sequence numbers used for ``n`` sequences: KD-OE train and test sequences alternately (so both types
    exist from n = 2), then the remaining real numbers, then 25, 26, ..."""
    train = [s for s in range(1, 25) if s not in BIWI_KDOE_TEST]
    order = [v for pair in zip(train, BIWI_KDOE_TEST) for v in pair] + train[len(BIWI_KDOE_TEST):]
    return (order + list(range(25, 25 + max(n - 24, 0))))[:n]


def format_biwi_pose(r_file: np.ndarray, t_mm) -> str:
    """The text of a BIWI ``frame_XXXXX_pose.txt`` (DATA_FACTS 5): 3 rows of R, blank, T in mm, blank;
    6 significant digits and a trailing space per row, as in the real files."""
    rows = [" ".join(f"{v:g}" for v in row) + " " for row in np.asarray(r_file)]
    return "\n".join(rows) + "\n\n" + " ".join(f"{v:g}" for v in t_mm) + " \n\n"


def _write_biwi(root: str, seed: int, n_seq: int, n_frames: int, progress: bool) -> dict:
    gt, size, boxes = {}, (640, 480), {}
    prog = _Progress("BIWI", n_seq * n_frames, progress)
    for s in biwi_sequence_ids(n_seq):
        seq = f"{s:02d}"
        srng = _rng(seed, "biwi", s, 0)
        params = sample_head(srng)
        amp = srng.uniform([35, 20, 12], [75, 45, 30])
        freq = srng.uniform(0.6, 1.6, 3) * 2 * np.pi / max(n_frames, 1)
        phase = srng.uniform(0, 2 * np.pi, 3)
        mean = srng.normal(0, [8, 6, 4])
        base_c = np.array([320.0, 250.0]) + srng.normal(0, [50, 30])
        scale0 = srng.uniform(60, 78)
        seq_dir = os.path.join(root, seq)
        for cal, text in (("rgb.cal", BIWI_RGB_CAL), ("depth.cal", BIWI_DEPTH_CAL)):
            _write(os.path.join(seq_dir, cal), text)
        bg = None
        for j in range(n_frames):
            frng = _rng(seed, "biwi", s, 1 + j)
            ypr = np.clip(mean + amp * np.sin(freq * j + phase) + frng.normal(0, 1.5, 3), [-80, -60, -50], [80, 60, 50])
            frame = f"frame_{3 + j:05d}"
            paths = [os.path.join(seq_dir, frame + suffix) for suffix in ("_rgb.png", "_pose.txt")]
            draw = not all(os.path.exists(q) for q in paths)
            if draw and bg is None:
                bg = make_background(_rng(seed, "biwi", s, 10 ** 6), size)
            scale = scale0 * (1 + 0.03 * np.sin(0.3 * j))
            yaw, pitch, roll = np.radians(ypr)
            rot = angles.rotation_3ddfa(pitch, yaw, roll)
            centre = _centre_for(rot, scale, size, tuple(base_c + frng.normal(0, 3, 2)))
            out = render_rotation(params, rot, size, scale, centre, background=bg, draw=draw)
            out.pose_para[:3] = (pitch, yaw, roll)
            z_mm = _BIWI_F * UNIT_MM / scale
            t_mm = [(centre[0] - 1 - _BIWI_C[0]) * z_mm / _BIWI_F, (centre[1] - 1 - _BIWI_C[1]) * z_mm / _BIWI_F, z_mm]
            written = False
            if draw:
                written |= _write(paths[0], _png(out.image))
                written |= _write(paths[1], format_biwi_pose(angles.ypr_to_biwi_rotation(ypr), t_mm))
            box = face_box(out, size)
            boxes[f"{seq}/{frame}_rgb.png"] = [{"bbox": box, "type": "test" if s in BIWI_KDOE_TEST else "train"}]
            gt[f"{seq}/{frame}"] = dict(_gt(out, ypr), box=np.array(box))
            prog.step(written)
    return gt, boxes


# --- ETH-XGaze --------------------------------------------------------------------------------------------

def xgaze_subject_ids(subjects: Union[int, Sequence[int]]) -> List[int]:
    """Subject numbers: an explicit sequence, or a count (>= 4 includes the validation subjects 108, 109, 111)."""
    if not isinstance(subjects, (int, np.integer)):
        return [int(v) for v in subjects]
    n = int(subjects)
    extra = [v for v in range(120) if v not in _XGAZE_ORDER]
    return (list(_XGAZE_ORDER) + extra)[:n]


def _xgaze_split(sid: int) -> str:
    return "test" if sid in _XGAZE_TEST else "train"


def _write_xgaze_subject(path: str, seed: int, sid: int, n: int, split: str, draw: bool) -> dict:
    import h5py

    gt, size = {}, (224, 224)
    srng = _rng(seed, "eth_xgaze", sid, 0)
    person = sample_head(srng)
    arrays = {"cam_index": np.zeros((n, 1), np.int64), "frame_index": np.zeros((n, 1), np.int64),
              "face_gaze": np.zeros((n, 2)), "face_head_pose": np.zeros((n, 2)), "face_mat_norm": np.zeros((n, 3, 3))}
    patches = np.zeros((n, 224, 224, 3), np.uint8) if draw else None
    for j in range(n):
        rng = _rng(seed, "eth_xgaze", sid, 1 + j)
        pitch, yaw = np.radians([rng.uniform(-40, 40), rng.uniform(-70, 70)])
        gp, gy = np.clip(rng.normal(0, 0.25, 2), -0.5, 0.5)
        params = dataclasses.replace(person, gaze=(float(gp), float(gy)),
                                     light=_t(np.array(person.light) + rng.normal(0, 0.1, 3)))
        rot = angles.eth_head_rotation(pitch, yaw)
        scale = rng.uniform(80, 95)
        out = render_rotation(params, rot, size, scale, _centre_for(rot, scale, size),
                              background=make_background(rng, size) if draw else None, draw=draw)
        f = rot @ _geometry(params).gaze_dir
        arrays["face_gaze"][j] = (np.arcsin(f[1]), np.arctan2(-f[0], f[2]))
        arrays["face_head_pose"][j] = (pitch, yaw)
        arrays["face_mat_norm"][j] = angles.rotation_3ddfa(*rng.uniform(-0.4, 0.4, 3))
        arrays["cam_index"][j], arrays["frame_index"][j] = j % 18, j // 18
        if draw:
            patches[j] = out.image[:, :, ::-1]                  # BGR, as released (DATA_FACTS 3)
        gt[f"subject{sid:04d}/{j:06d}"] = {"ypr": np.degrees([yaw, pitch, 0.0]), "split": split,
                                            "face_head_pose": arrays["face_head_pose"][j].copy()}
    if draw:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_", suffix=".h5")
        os.close(fd)
        with h5py.File(tmp, "w") as h5:
            for key, arr in arrays.items():
                if key == "face_gaze" and split == "test":
                    continue                                    # test files carry no gaze labels
                h5.create_dataset(key, data=arr, chunks=(1,) + arr.shape[1:])
            h5.create_dataset("face_patch", data=patches, chunks=(1, 224, 224, 3), compression="lzf")
        os.replace(tmp, path)
    return gt


def _write_xgaze(root: str, seed: int, subjects, per_subject: int, progress: bool):
    gt, split = {}, {"train": [], "test": [], "test_person_specific": []}
    ids = xgaze_subject_ids(subjects)
    prog = _Progress("xgaze_224", len(ids), progress)
    for sid in ids:
        name = f"subject{sid:04d}.h5"
        sp = _xgaze_split(sid)
        path = os.path.join(root, sp, name)
        draw = not os.path.exists(path)
        gt.update(_write_xgaze_subject(path, seed, sid, per_subject, sp, draw))
        split[sp].append(name)
        prog.step(draw)
    return gt, split


# --- index files (merged: existing entries are kept, ours added, a conflicting entry is refused) ------------

def _merge_json(path: str, new: dict, merge_lists: bool) -> None:
    if not os.path.exists(path):
        _write(path, json.dumps(new, indent=None if not merge_lists else 1))
        return
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: exists and is not readable JSON ({e}); remove it or use another --out")
    merged = dict(old)
    for key, value in new.items():
        if merge_lists:
            merged[key] = list(old.get(key, [])) + [v for v in value if v not in old.get(key, [])]
        elif key in old and old[key] != json.loads(json.dumps(value)):
            raise DataError(f"{path}: entry {key!r} differs from the synthetic one; refusing to overwrite "
                            "a file not written by make_synthetic (remove it or use another --out)")
        else:
            merged[key] = value
    if merge_lists:
        owner = {v: k for k, vs in old.items() for v in vs}
        for key, value in new.items():
            for v in value:
                if owner.get(v, key) != key:
                    raise DataError(f"{path}: {v} is listed under {owner[v]!r}, expected {key!r}; refusing to "
                                    "overwrite (remove it or use another --out)")
    if merged != old:
        os.replace(_tmp_json(path, merged, merge_lists), path)


def _tmp_json(path: str, obj: dict, pretty: bool) -> str:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1 if pretty else None)
    return tmp


def write_datasets(out_dir: str, seed: int = 0, n_300wlp: int = 300, n_aflw2000: int = 100,
                   biwi_sequences: int = 2, biwi_frames: int = 30,
                   xgaze_subjects: Union[int, Sequence[int]] = 5, xgaze_per_subject: int = 40,
                   progress: bool = True) -> Dict[str, dict]:
    """Write the four synthetic datasets under ``out_dir`` in the published layouts and return the ground truth.

    ``out_dir/300W_LP/{AFW,HELEN,IBUG,LFPW}[_Flip]/<name>.{jpg,mat}`` (``n_300wlp`` samples + as many flipped),
    ``out_dir/AFLW2000/imageNNNNN.{jpg,mat}``, ``out_dir/BIWI/hpdb/NN/frame_XXXXX_{rgb.png,pose.txt}`` +
    ``rgb.cal``/``depth.cal`` and ``out_dir/BIWI/BIWI.json`` (KD-OE box format), ``out_dir/xgaze_224/{train,test}/
    subjectNNNN.h5`` + ``train_test_split.json``. Every sample is seeded by (seed, dataset, index); files that
    exist are never rewritten (missing ones are filled in, identically). Returns ``{dataset: {source_id: {"ypr":
    (yaw, pitch, roll) deg, "landmarks68", "visibility68", ...}}}`` (source id = path without extension relative
    to the dataset root, as the readers of ``hmtl_tf.data.sources`` name them; ETH-XGaze: ``subjectNNNN/<row:06d>``).
    """
    for name, v in (("n_300wlp", n_300wlp), ("n_aflw2000", n_aflw2000), ("biwi_sequences", biwi_sequences),
                    ("biwi_frames", biwi_frames), ("xgaze_per_subject", xgaze_per_subject)):
        if int(v) < 0:
            raise ValueError(f"{name}: expected a count >= 0, got {v}")
    out = {"300w_lp": _write_300wlp(os.path.join(out_dir, "300W_LP"), seed, n_300wlp, progress),
           "aflw2000": _write_aflw2000(os.path.join(out_dir, "AFLW2000"), seed, n_aflw2000, progress)}
    out["biwi"], boxes = _write_biwi(os.path.join(out_dir, "BIWI", "hpdb"), seed, biwi_sequences, biwi_frames,
                                     progress)
    if boxes:
        _merge_json(os.path.join(out_dir, "BIWI", "BIWI.json"), boxes, merge_lists=False)
    n_x = len(xgaze_subject_ids(xgaze_subjects))
    if n_x and xgaze_per_subject:
        out["eth_xgaze"], split = _write_xgaze(os.path.join(out_dir, "xgaze_224"), seed, xgaze_subjects,
                                               xgaze_per_subject, progress)
        _merge_json(os.path.join(out_dir, "xgaze_224", "train_test_split.json"), split, merge_lists=True)
    else:
        out["eth_xgaze"] = {}
    return out
