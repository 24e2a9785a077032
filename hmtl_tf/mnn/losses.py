"""MNN losses (Valle et al. Eq. 1-5) as pure TF functions; per-image values (B,), batch means by the caller.

Pose: (yaw, pitch, roll) degrees; 3DDFA rotation (``angles.rotation_from_ypr``, DATA_FACTS 1.4) and the
orthographic projection of the mean 3-D face in normalised image units (fractions of the input size S,
x right, y down): ``u = s * F R X + t`` with ``F = diag(1, -1)`` (image y = h + 1 - V_y up to translation).
p^AE (6 raw network outputs) -> ``ypr = raw[:3] * POSE_UNIT_DEG``, ``s = AE_SCALE0 * exp(raw[3])``,
``t = 0.5 + raw[4:6]`` (:func:`decode_ae`).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from hmtl_tf.losses import RMSE_EPS, GlobalSum, local_sum
from hmtl_tf.mnn import heatmaps as H
from hmtl_tf.models.mnn import POSE_UNIT_DEG

AE_SCALE0 = 0.2      # typical RMS radius of the projected landmarks / S (the mean face has RMS radius 1)
AE_UNIT = 256.0      # the alignment loss is reported in pixels of the paper's 256-px input
NORM_EPS = RMSE_EPS  # inside square roots: finite gradients at a zero error


def rotation_from_ypr_tf(ypr_deg: tf.Tensor) -> tf.Tensor:
    """(..., 3) degrees -> (..., 3, 3) 3DDFA rotations ``R = Rx(p) Ry(y) Rz(r)`` (TF twin of angles.py's)."""
    a = tf.cast(ypr_deg, tf.float32) * (np.pi / 180.0)
    y, p, r = a[..., 0], a[..., 1], a[..., 2]
    cy, sy, cp, sp, cr, sr = tf.cos(y), tf.sin(y), tf.cos(p), tf.sin(p), tf.cos(r), tf.sin(r)
    zero, one = tf.zeros_like(y), tf.ones_like(y)

    def mat(rows):
        return tf.stack([tf.stack(row, -1) for row in rows], -2)

    rx = mat([[one, zero, zero], [zero, cp, sp], [zero, -sp, cp]])
    ry = mat([[cy, zero, -sy], [zero, one, zero], [sy, zero, cy]])
    rz = mat([[cr, sr, zero], [-sr, cr, zero], [zero, zero, one]])
    return rx @ ry @ rz


def project(points: tf.Tensor, ypr_deg: tf.Tensor, scale: tf.Tensor, trans: tf.Tensor) -> tf.Tensor:
    """pi(p, X): (L, 3) points, (B, 3) angles, (B,) scale, (B, 2) translation -> (B, L, 2) image points."""
    r = rotation_from_ypr_tf(ypr_deg)[:, :2, :]                               # (B, 2, 3)
    v = tf.einsum("bij,lj->bli", r, tf.cast(points, tf.float32))
    v = v * tf.constant([1.0, -1.0])
    return tf.cast(scale, tf.float32)[:, None, None] * v + tf.cast(trans, tf.float32)[:, None, :]


def decode_ae(raw: tf.Tensor):
    """(B, 6) raw p^AE -> (ypr degrees (B, 3), scale (B,), translation (B, 2)) in normalised image units."""
    raw = tf.cast(raw, tf.float32)
    return raw[:, :3] * POSE_UNIT_DEG, AE_SCALE0 * tf.exp(raw[:, 3]), 0.5 + raw[:, 4:6]


def encode_ae(ypr_deg, scale, trans) -> np.ndarray:
    """Inverse of :func:`decode_ae` (NumPy): the raw p^AE of a known pose, scale and translation."""
    ypr, s, t = (np.asarray(v, np.float64) for v in (ypr_deg, scale, trans))
    return np.concatenate([ypr / POSE_UNIT_DEG, np.log(s / AE_SCALE0)[..., None], t - 0.5], -1).astype(np.float32)


def landmark_mask(landmarks: tf.Tensor, image_size: int, present: tf.Tensor) -> tf.Tensor:
    """w~ of Eq. 2-4, (B, L): annotated (``present`` (B,)) and inside the input image (landmarks outside
    the crop count as missing, Sec. 3.1)."""
    lm = tf.cast(landmarks, tf.float32)
    inside = tf.reduce_all((lm >= 0.0) & (lm < float(image_size)) & tf.math.is_finite(lm), axis=-1)
    return tf.cast(inside, tf.float32) * tf.cast(tf.reshape(present, [-1, 1]) > 0, tf.float32)


def present_from_targets(y) -> tf.Tensor:
    """(B,) 1 where the sample has landmark annotations: ``landmarks_present`` when the pipeline gives it,
    else any visible landmark (the pipeline zeroes the visibility of samples without landmarks)."""
    if "landmarks_present" in y:
        return tf.cast(tf.reshape(y["landmarks_present"], [-1]) > 0, tf.float32)
    return tf.cast(tf.reduce_max(tf.cast(y["visibility"], tf.float32), axis=-1) > 0, tf.float32)


def masked_landmarks(landmarks: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """(B, L, 2) landmarks with the unannotated ones replaced by 0 (no NaN/garbage reaches a loss)."""
    return tf.where(tf.cast(mask, tf.bool)[..., None], tf.cast(landmarks, tf.float32), 0.0)


def landmark_weighted(per_landmark: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """``sum_l (w_l / |w|_1) v_l`` -> (B,) (0 for an image without annotated landmarks)."""
    m = tf.cast(mask, tf.float32)
    return tf.reduce_sum(m * per_landmark, -1) / tf.maximum(tf.reduce_sum(m, -1), 1.0)


def euclidean_pose_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Eq. 1 per image: ``||p~ - p^ED||_2`` over the angles, (B, A) degrees -> (B,)."""
    d = tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32)
    return tf.sqrt(tf.reduce_sum(tf.square(d), -1) + NORM_EPS)


def alignment_loss(landmarks_norm: tf.Tensor, raw_ae: tf.Tensor, mean_face: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Eq. 2 per image: ``sum_l (w_l/|w|_1) ||x~_l - pi(p^AE, X_l)||_2`` against the annotated landmarks (as
    in the paper), in normalised image units (landmarks / S) -> (B,)."""
    ypr, s, t = decode_ae(raw_ae)
    d = project(mean_face, ypr, s, t) - masked_landmarks(landmarks_norm, mask)
    return landmark_weighted(tf.sqrt(tf.reduce_sum(tf.square(d), -1) + NORM_EPS), mask)


def heatmap_loss(logits: tf.Tensor, landmarks: tf.Tensor, mask: tf.Tensor, stride: float, sigma: float) -> tf.Tensor:
    """Eq. 3 per image: masked mean over landmarks of the spatial cross-entropy -> (B,)."""
    safe = masked_landmarks(landmarks, mask)
    return landmark_weighted(H.heatmap_cross_entropy(logits, safe, stride, sigma), mask)


def visibility_loss(visibility: tf.Tensor, logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Eq. 4 per image: masked mean over landmarks of the two-class cross-entropy (sigmoid) -> (B,)."""
    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(visibility, tf.float32),
                                                 logits=tf.cast(logits, tf.float32))
    return landmark_weighted(ce, mask)


def masked_batch_mean(values: tf.Tensor, valid: tf.Tensor, global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """Mean of (B,) ``values`` over the samples with ``valid`` > 0 in the (global) batch; 0 when none."""
    v = tf.cast(tf.reshape(valid, [-1]) > 0, tf.float32)
    stats = global_sum(tf.stack([tf.reduce_sum(v * tf.reshape(tf.cast(values, tf.float32), [-1])),
                                 tf.reduce_sum(v)]))
    return stats[0] / tf.maximum(stats[1], 1.0)
