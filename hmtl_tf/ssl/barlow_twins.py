"""Barlow Twins loss (Zbontar et al. 2021; paper Sec. 4.3).

Each embedding dimension is standardised over the batch (mean 0, biased std 1, as the original's
``BatchNorm1d(affine=False)``), ``c = z1n^T z2n / B`` is the (D, D) cross-correlation, and
``L = sum_i (1 - c_ii)^2 + lambd * sum_{i != j} c_ij^2``.
"""
from __future__ import annotations

import tensorflow as tf

BN_EPSILON = 1e-5  # torch.nn.BatchNorm1d default, used by the original implementation


def standardise(z, epsilon: float = BN_EPSILON):
    """(B, D) -> per-dimension (z - mean) / sqrt(var + eps), statistics over the batch (biased variance)."""
    z = tf.cast(z, tf.float32)
    mean, var = tf.nn.moments(z, axes=[0])
    return (z - mean) * tf.math.rsqrt(var + epsilon)


def cross_correlation(z1, z2, epsilon: float = BN_EPSILON):
    """The (D, D) cross-correlation of the standardised embeddings, ``z1n^T z2n / B``."""
    b = tf.cast(tf.shape(z1)[0], tf.float32)
    return tf.matmul(standardise(z1, epsilon), standardise(z2, epsilon), transpose_a=True) / b


def barlow_twins_loss(z1, z2, lambd: float = 5e-3, epsilon: float = BN_EPSILON):
    """Scalar loss for two (B, D) embeddings of the same images under two views."""
    if z1.shape.rank != 2 or z2.shape.rank != 2:
        raise ValueError(f"barlow_twins_loss: expected two (batch, dim) embeddings, got {z1.shape} and {z2.shape}")
    c = cross_correlation(z1, z2, epsilon)
    diag = tf.linalg.diag_part(c)
    on_diag = tf.reduce_sum(tf.square(1.0 - diag))
    off_diag = tf.reduce_sum(tf.square(c)) - tf.reduce_sum(tf.square(diag))
    return on_diag + lambd * off_diag
