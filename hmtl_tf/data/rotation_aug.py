"""KD-OE's pose-changing augmentations (kd-offset-ensemble-head-pose.md §4.3; DATA_FACTS 1.4, 1.5).

In-plane rotation: the image is rotated by ``phi`` degrees about a centre, **positive = clockwise in the
displayed image** (the +roll direction). Rotating the image about the camera axis composes with the head
rotation, exactly: ``R' = Rz(phi) @ R`` with the 3DDFA matrices (``Rz(phi) = rotation_from_ypr((0, 0, phi))``),
and the new labels are ``ypr_from_rotation(R')``: roll changes by about phi, yaw/pitch change for non-frontal
heads. Flip (p=0.5): mirrored image, (yaw, pitch, roll) -> (-yaw, pitch, -roll). Image coordinates here are
pixel-index coordinates (pixel (i, j) centre at x=j, y=i), as ``ImageProjectiveTransformV3`` and cv2 use.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from hmtl_tf import angles

MAX_DEG = 15.0
FLIP_PROB = 0.5


# ------------------------------------------------------------------ labels
def rotated_ypr_np(ypr, phi_deg: float) -> np.ndarray:
    """NumPy reference: labels after rotating the image clockwise by ``phi_deg``."""
    r = angles.rotation_from_ypr((0.0, 0.0, phi_deg)) @ angles.rotation_from_ypr(ypr)
    return angles.ypr_from_rotation(r)


def rotation_from_ypr_tf(ypr):
    """TF twin of ``angles.rotation_from_ypr`` on (..., 3) degrees -> (..., 3, 3) (float64)."""
    a = tf.cast(ypr, tf.float64) * (math.pi / 180.0)
    y, p, r = a[..., 0], a[..., 1], a[..., 2]
    o, z = tf.ones_like(y), tf.zeros_like(y)

    def m(rows):
        return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=-2)

    rx = m([[o, z, z], [z, tf.cos(p), tf.sin(p)], [z, -tf.sin(p), tf.cos(p)]])
    ry = m([[tf.cos(y), z, -tf.sin(y)], [z, o, z], [tf.sin(y), z, tf.cos(y)]])
    rz = m([[tf.cos(r), tf.sin(r), z], [-tf.sin(r), tf.cos(r), z], [z, z, o]])
    return rx @ ry @ rz


def ypr_from_rotation_tf(r):
    """TF twin of ``angles.ypr_from_rotation``: (..., 3, 3) -> (..., 3) degrees (float64)."""
    r = tf.cast(r, tf.float64)
    yaw = tf.asin(tf.clip_by_value(-r[..., 0, 2], -1.0, 1.0))
    pitch = tf.atan2(r[..., 1, 2], r[..., 2, 2])
    roll = tf.atan2(r[..., 0, 1], r[..., 0, 0])
    return tf.stack([yaw, pitch, roll], axis=-1) * (180.0 / math.pi)


def rotated_ypr_tf(ypr, phi_deg):
    """Graph-safe :func:`rotated_ypr_np`; ``ypr`` (..., 3), ``phi_deg`` broadcastable to (...) -> float32."""
    phi = tf.cast(phi_deg, tf.float64)
    rz = rotation_from_ypr_tf(tf.stack([tf.zeros_like(phi), tf.zeros_like(phi), phi], axis=-1))
    return tf.cast(ypr_from_rotation_tf(rz @ rotation_from_ypr_tf(ypr)), tf.float32)


# ------------------------------------------------------------------ image and points
def rotate_points_np(points, phi_deg: float, center) -> np.ndarray:
    """(N, 2) image points (x, y), y down, rotated clockwise on screen by ``phi_deg`` about ``center``."""
    t = math.radians(phi_deg)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    c = np.asarray(center, np.float64)
    return (np.asarray(points, np.float64) - c) @ rot.T + c


def rotate_image_np(image, phi_deg: float, center=None) -> np.ndarray:
    """NumPy reference of :func:`rotate_image_tf`: exact bilinear sampling (scipy), black outside.

    Output pixel p samples the source at ``R(-phi) (p - c) + c`` (clockwise on screen for phi > 0). cv2's
    warpAffine is not used as the reference: OpenCV 4 quantises bilinear weights to 1/32 pixel.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[:2]
    cx, cy = ((w - 1) / 2.0, (h - 1) / 2.0) if center is None else (float(center[0]), float(center[1]))
    a = np.radians(float(phi_deg))
    ys, xs = np.mgrid[:h, :w].astype(np.float64)
    dx, dy = xs - cx, ys - cy
    sx = np.cos(a) * dx + np.sin(a) * dy + cx   # inverse of a clockwise (y-down) rotation by phi
    sy = -np.sin(a) * dx + np.cos(a) * dy + cy
    chans = img[..., None] if img.ndim == 2 else img
    out = np.stack([ndimage.map_coordinates(chans[..., k], [sy, sx], order=1, mode="grid-constant", cval=0.0)
                    for k in range(chans.shape[-1])], axis=-1)
    return out[..., 0] if img.ndim == 2 else out.astype(np.float32)


def _transform(phi_deg, center):
    """ImageProjectiveTransformV3 row (8,): output (x, y) -> input ``c + R(-phi) (p - c)``."""
    t = tf.cast(phi_deg, tf.float32) * (math.pi / 180.0)
    c, s = tf.cos(t), tf.sin(t)
    cx, cy = tf.cast(center[0], tf.float32), tf.cast(center[1], tf.float32)
    return tf.stack([c, s, cx - c * cx - s * cy, -s, c, cy + s * cx - c * cy, 0.0, 0.0])


def rotate_image_tf(image, phi_deg, center=None):
    """Rotates one image (H, W, C) clockwise on screen by ``phi_deg`` about ``center`` (x, y) (default the
    image centre); bilinear, black outside. Graph-safe."""
    image = tf.convert_to_tensor(image)
    dtype = image.dtype
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    if center is None:
        center = ((hw[1] - 1.0) / 2.0, (hw[0] - 1.0) / 2.0)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None], transforms=_transform(phi_deg, center)[None],
        output_shape=tf.shape(image)[:2], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.cast(out[0], dtype)


def box_center(box):
    """Centre (x, y) in pixel-index coordinates of a box given by pixel edges (x1, y1, x2, y2)."""
    return ((box[0] + box[2]) / 2.0 - 0.5, (box[1] + box[3]) / 2.0 - 0.5)


def flip_tf(image, ypr, box=None):
    """Horizontal mirror: image, (yaw, roll) negated (DATA_FACTS 1.5), box edges x -> W - x."""
    out = (tf.image.flip_left_right(image), tf.cast(ypr, tf.float32) * tf.constant([-1.0, 1.0, -1.0]))
    if box is None:
        return out
    w = tf.cast(tf.shape(image)[1], tf.float32)
    b = tf.cast(box, tf.float32)
    return out + (tf.stack([w - b[2], b[1], w - b[0], b[3]]),)


def random_pose_augment_tf(image, ypr, box=None, max_deg: float = MAX_DEG, flip_prob: float = FLIP_PROB,
                           seed=None):
    """KD-OE §4.3 on one example: flip with ``flip_prob``, then rotation by U[-max_deg, max_deg] about the crop
    box centre (image centre without a box), labels changed exactly. ``seed``: a stateless seed (2,) or None.
    Returns (image, ypr float32, box or None)."""
    if seed is None:
        u = tf.random.uniform([2])
    else:
        u = tf.random.stateless_uniform([2], seed=seed)
    flip = u[0] < flip_prob
    fimage, fypr, *fbox = flip_tf(image, ypr, box)
    image = tf.where(flip, fimage, image)
    ypr = tf.where(flip, fypr, tf.cast(ypr, tf.float32))
    if box is not None:
        box = tf.where(flip, fbox[0], tf.cast(box, tf.float32))
    phi = (2.0 * u[1] - 1.0) * max_deg
    center = None if box is None else box_center(box)
    image = rotate_image_tf(image, phi, center)
    return image, rotated_ypr_tf(ypr, phi), box
