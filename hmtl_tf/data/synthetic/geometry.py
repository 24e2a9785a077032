"""The shape of a synthetic head (SPEC section 2): a union of analytic ellipsoids, where each exists, and ray queries.

The ellipsoids ``|A (X - c)| <= 1`` (skull, hair shell, face, neck, nose, ears, eyeballs, lips) of one person are
built in the head frame of DATA_FACTS 1.4 (x right, y up, z toward the camera when frontal), in head units u
(1 u = 100 mm; public 3-D points are in BFM-like units, ``UNIT`` per u, so ``Pose_Para`` scales are ~1e-3 as in the
real files). The hair shell exists only over the hair region (hair line, side parting, fringe), an eyeball only in
the lid opening, the neck down to the shoulders. The ray queries (front-most hit, occlusion, normals) serve the
rasteriser and the landmarks.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from hmtl_tf.data.synthetic.head import HeadParams


UNIT = 100000.0        # BFM-like units per head unit (BFM coordinates are ~micrometres; 1 u = 100 mm)
UNIT_MM = 100.0        # millimetres per head unit (BIWI translations)


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
# Clip regions (a primitive exists only where its region holds)


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
