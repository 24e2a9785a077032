"""The rasteriser: a synthetic head at a rotation -> an image with its labels (3DDFA convention, DATA_FACTS 1.4).

``R = angles.rotation_3ddfa(pitch, yaw, roll)``, ``V = s R X + t``, orthographic, image ``x = V_x``,
``y = h + 1 - V_y`` (1-based: the centre of 0-based pixel (row r, col c) is (c + 1, r + 1)). So +yaw turns the face
toward image-left, +pitch looks up, +roll is clockwise in the image. Each ellipsoid of ``geometry`` is ray-cast per
pixel of its projected box (vectorised numpy, z-buffer), coloured by ``appearance``, shaded Lambertian + ambient,
over random background clutter; landmarks, their depth and visibility come with the image (:class:`Render`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.appearance import _colour
from hmtl_tf.data.synthetic.geometry import (UNIT, _CLIPPED, _clip, _Ellipsoid, _geometry, _normals,
                                             _occluded)
from hmtl_tf.data.synthetic.head import HeadParams
from hmtl_tf.data.synthetic.landmarks import _landmarks


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
