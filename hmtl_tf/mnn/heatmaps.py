"""Landmark heatmaps (Valle et al. Sec. 3.1 "Position-dependent tasks", Eq. 3, 7): targets, spatial softmax,
cross-entropy, decoding and NME. Pure TF functions on batches.

Coordinates: model-input pixels, x right, y down, pixel j covering [j, j + 1) (its centre at j + 0.5), as
the pipeline's ``landmarks`` targets. A heatmap of H x W cells over an S-px input has stride S / H and
cell (i, j) centred at ((j + 0.5) * stride, (i + 0.5) * stride). Heatmaps are NHWC with one channel per
landmark: (B, H, W, L).
"""
from __future__ import annotations

import tensorflow as tf

TINY = 1e-30


def axis_gaussians(coord: tf.Tensor, n: int, stride: float, sigma: float) -> tf.Tensor:
    """(B, L) coordinates -> (B, L, n) Gaussian weights at the n cell centres, normalised to sum 1
    (all zero when the landmark is far outside)."""
    centres = (tf.range(n, dtype=tf.float32) + 0.5) * float(stride)
    d = (centres[None, None, :] - tf.cast(coord, tf.float32)[..., None]) / float(sigma)
    g = tf.exp(-0.5 * tf.square(d))
    return g / tf.maximum(tf.reduce_sum(g, axis=-1, keepdims=True), TINY)


def gaussian_heatmaps(landmarks: tf.Tensor, height: int, width: int, stride: float, sigma: float) -> tf.Tensor:
    """Target heatmaps h~ (B, H, W, L) from (B, L, 2) landmarks: separable Gaussians, each summing to 1."""
    lm = tf.cast(landmarks, tf.float32)
    gx = axis_gaussians(lm[..., 0], width, stride, sigma)
    gy = axis_gaussians(lm[..., 1], height, stride, sigma)
    return tf.einsum("blh,blw->bhwl", gy, gx)


def spatial_log_softmax(logits: tf.Tensor) -> tf.Tensor:
    """log h: log-softmax over the spatial axes (1, 2) of (B, H, W, L) logits."""
    z = tf.cast(logits, tf.float32)
    return z - tf.reduce_logsumexp(z, axis=[1, 2], keepdims=True)


def spatial_softmax(logits: tf.Tensor) -> tf.Tensor:
    """h with ``sum_p h(p) = 1`` per image and landmark (the paper's softmax activation)."""
    return tf.exp(spatial_log_softmax(logits))


def heatmap_cross_entropy(logits: tf.Tensor, landmarks: tf.Tensor, stride: float, sigma: float) -> tf.Tensor:
    """Per landmark ``-sum_p h~(p) log h(p)`` (Eq. 3's inner sum) -> (B, L); the separable target is never
    materialised: ``-sum_ij gy_i gx_j log h_ij``."""
    logp = spatial_log_softmax(logits)
    h, w = logp.shape[1], logp.shape[2]
    lm = tf.cast(landmarks, tf.float32)
    gx = axis_gaussians(lm[..., 0], w, stride, sigma)
    gy = axis_gaussians(lm[..., 1], h, stride, sigma)
    return -tf.einsum("blh,bhwl,blw->bl", gy, logp, gx)


def decode_heatmaps(log_heatmaps: tf.Tensor, stride: float) -> tf.Tensor:
    """(B, H, W, L) log-heatmaps (or logits) -> (B, L, 2) landmarks: the maximum response (Sec. 4.3.3) refined
    by the vertex of the parabola through the log values of its 4-neighbours (exact for a Gaussian, whose log
    is quadratic); no refinement along an axis at the border or where the log values are not concave."""
    z = tf.cast(log_heatmaps, tf.float32)
    shape = tf.shape(z)
    h, w = z.shape[1], z.shape[2]
    zt = tf.transpose(z, [0, 3, 1, 2])                       # (B, L, H, W)
    flat = tf.reshape(zt, tf.concat([shape[:1], shape[3:], [-1]], 0))
    idx = tf.argmax(flat, axis=-1, output_type=tf.int32)     # (B, L)
    i, j = idx // w, idx % w

    def at(ii, jj):
        ii = tf.clip_by_value(ii, 0, h - 1)
        jj = tf.clip_by_value(jj, 0, w - 1)
        return tf.gather(flat, ii * w + jj, batch_dims=2)

    c = at(i, j)

    def offset(lo, hi, valid):
        lo, hi = tf.maximum(lo, c - 50.0), tf.maximum(hi, c - 50.0)  # -inf / underflow guard
        den = lo - 2.0 * c + hi
        ok = valid & (den < -1e-12)
        d = tf.where(ok, 0.5 * (lo - hi) / tf.where(ok, den, -1.0), 0.0)
        return tf.clip_by_value(d, -0.5, 0.5)

    dx = offset(at(i, j - 1), at(i, j + 1), (j > 0) & (j < w - 1))
    dy = offset(at(i - 1, j), at(i + 1, j), (i > 0) & (i < h - 1))
    x = (tf.cast(j, tf.float32) + 0.5 + dx) * float(stride)
    y = (tf.cast(i, tf.float32) + 0.5 + dy) * float(stride)
    return tf.stack([x, y], axis=-1)


def normaliser(landmarks: tf.Tensor, mask: tf.Tensor, norm: str = "height") -> tf.Tensor:
    """d_i of Eq. 7 from the ground-truth landmarks' enclosing rectangle (annotated points only):
    ``height`` (their Tables 5-6) or ``size`` = sqrt(width * height) (3DDFA's AFLW2000-3D protocol) -> (B,)."""
    lm = tf.cast(landmarks, tf.float32)
    m = tf.cast(mask, tf.float32)[..., None] > 0
    big = tf.constant(1e9, tf.float32)
    lo = tf.reduce_min(tf.where(m, lm, big), axis=1)
    hi = tf.reduce_max(tf.where(m, lm, -big), axis=1)
    ext = tf.maximum(hi - lo, 0.0)
    if norm == "height":
        return ext[:, 1]
    if norm == "size":
        return tf.sqrt(ext[:, 0] * ext[:, 1])
    raise ValueError(f"nme norm={norm!r}: expected height or size")


def nme(pred: tf.Tensor, true: tf.Tensor, mask: tf.Tensor, norm: str = "height") -> tf.Tensor:
    """Per-image NME of Eq. 7 in percent: ``100 * sum_l (w_l / |w|_1) ||x_l - x~_l|| / d`` -> (B,)
    (0 for an image without annotated landmarks)."""
    m = tf.cast(mask, tf.float32)
    err = tf.norm(tf.cast(pred, tf.float32) - tf.cast(true, tf.float32), axis=-1)
    per = tf.reduce_sum(m * err, axis=-1) / tf.maximum(tf.reduce_sum(m, axis=-1), 1.0)
    return 100.0 * per / tf.maximum(normaliser(true, mask, norm), 1e-6)
