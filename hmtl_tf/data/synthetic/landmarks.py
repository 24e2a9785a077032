"""The 3-D landmarks of a synthetic head: iBUG 68 + 5 extra points for AFLW's 21 (DATA_FACTS 1.2, 1.3), on its surface.

Also the iBUG-68 mirror permutation (DATA_FACTS 1.5), the AFLW-21 selection and its invisible-point sentinel
(DATA_FACTS 1.3), and the 3DDFA projection ``V = s R X + t`` of head points with ``Pose_Para`` (DATA_FACTS 1.4).
"""
from __future__ import annotations

import functools
from typing import Sequence, Tuple

import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.geometry import HAIR, NECK, UNIT, _cast_points, _geometry, _normals
from hmtl_tf.data.synthetic.head import HeadParams


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
