"""The albedo of a synthetic head (SPEC section 2): colours as a pure function of the head-frame position.

Hair (strands, side parting, fringe) over the hair region of ``geometry``, brows, eye sockets, cheeks, optional beard,
nostrils, the mouth line, ears, eyeballs with iris and pupil turned by the gaze, optional glasses. A function of the
head-frame point only, so a mirrored person (``head.mirror_params``) renders the mirrored image exactly.
"""
from __future__ import annotations

import numpy as np

from hmtl_tf.data.synthetic.geometry import (EAR, EYE, FACE, HAIR, LIPS, NECK, NOSE, SKULL, _Ellipsoid, _Geom,
                                             _hair_region, _skull_q)
from hmtl_tf.data.synthetic.head import HeadParams


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
