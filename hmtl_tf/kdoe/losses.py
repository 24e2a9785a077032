"""KD-OE losses (kd-offset-ensemble-head-pose.md Eq. 4 and 7). Pure functions on dicts of tensors.

Targets: ``{"yaw", "pitch", "roll"}`` degrees (B,). Stage-1 outputs: ``rvc{b}_{angle}`` logits for
b in 1..4 and ``reg_{angle}`` degrees (99*tanh, Eq. 3). Batch means throughout.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence

import tensorflow as tf

from hmtl_tf.bins import kdoe_bins

BIN_SIZES = (1, 2, 3, 4)
KD_CE_WEIGHT = 0.05  # Eq. 7


def bin_cross_entropy(angle_deg, logits, bin_size: int):
    """Batch-mean CE of the ground-truth bin (``kdoe_bins(bin_size)``, out-of-range clipped to end bins)."""
    idx = kdoe_bins(bin_size).index_tf(angle_deg)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=idx, logits=tf.cast(logits, tf.float32))
    return tf.reduce_mean(ce)


def stage1_loss(targets: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor],
                angles: Sequence[str] = ("yaw", "pitch", "roll"),
                bin_sizes: Sequence[int] = BIN_SIZES) -> Dict[str, tf.Tensor]:
    """Eq. 4: ``L = (MAE(reg) + sum_j sum_angle CE_j) / (M + 1)``; MAE = mean over angles and batch of
    ``|99 tanh(.) - y|``. Returns {"loss", "loss_reg", "loss_rvc{b}"}."""
    parts = {}
    errs = [tf.abs(tf.reshape(tf.cast(outputs[f"reg_{a}"], tf.float32), [-1]) - tf.cast(targets[a], tf.float32))
            for a in angles]
    parts["loss_reg"] = tf.reduce_mean(tf.stack(errs))
    for b in bin_sizes:
        parts[f"loss_rvc{b}"] = tf.add_n([bin_cross_entropy(targets[a], outputs[f"rvc{b}_{a}"], b) for a in angles])
    parts["loss"] = tf.add_n(list(parts.values())) / float(len(bin_sizes) + 1)
    return parts


def kl_divergence(p, logits_q):
    """Batch-mean ``KL(p || softmax(logits_q))``, with ``0 log 0 = 0``."""
    p = tf.cast(p, tf.float32)
    log_q = tf.nn.log_softmax(tf.cast(logits_q, tf.float32), axis=-1)
    log_p = tf.math.log(tf.maximum(p, 1e-30))
    return tf.reduce_mean(tf.reduce_sum(tf.where(p > 0, p * (log_p - log_q), 0.0), axis=-1))


def kd_loss(targets: Mapping[str, tf.Tensor], logits: Mapping[str, tf.Tensor], teacher: Mapping[str, tf.Tensor],
            angles: Sequence[str] = ("yaw", "pitch", "roll"), ce_weight: float = KD_CE_WEIGHT,
            bin_size: int = 1) -> Dict[str, tf.Tensor]:
    """Eq. 7: ``L = (0.05 * sum_angle CE(gt bin) + sum_angle KL(ens || student)) / 2``. ``logits`` and
    ``teacher`` (ensemble probabilities, Eq. 6) keyed by angle. Returns {"loss", "loss_ce", "loss_kl"}."""
    ce = tf.add_n([bin_cross_entropy(targets[a], logits[a], bin_size) for a in angles])
    kl = tf.add_n([kl_divergence(teacher[a], logits[a]) for a in angles])
    return {"loss": (ce_weight * ce + kl) / 2.0, "loss_ce": ce, "loss_kl": kl}
