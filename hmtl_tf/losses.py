"""Loss functions of the paper (pure TF functions on tensors).

Eq. 1 / Eq. 3: RMSE per angle (regression SHs) + C * sum of the SSL cross-entropies.
Eq. 2: per angle CE(logits, bin(y)) + alpha * RMSE(E(softmax), y) (HopeNet; ``mse`` = HopeNet's code) + SSL term.

Batch statistics take an optional ``global_sum``: a function summing a local tensor over replicas
(:func:`cross_replica_sum`), so that the non-decomposable RMSE uses the GLOBAL batch under tf.distribute.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from hmtl_tf.bins import Bins

GlobalSum = Callable[[tf.Tensor], tf.Tensor]
RMSE_EPS = 1e-12  # inside the square root: finite gradient at a zero error


def _float(x, like=None) -> tf.Tensor:
    """``x`` as float32, or float64 when ``like`` (default ``x``) is float64 (half precision is promoted)."""
    x = tf.convert_to_tensor(x)
    ref = x if like is None else like
    return tf.cast(x, tf.float64 if ref.dtype == tf.float64 else tf.float32)


def local_sum(x: tf.Tensor) -> tf.Tensor:
    """The identity (one device)."""
    return x


def cross_replica_sum(x: tf.Tensor) -> tf.Tensor:
    """Sum of ``x`` over the replicas of the current tf.distribute replica context (identity outside one)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def batch_mean(values: tf.Tensor, global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """Mean of per-sample ``values`` over the (global) batch; sum and count are reduced in one call."""
    v = tf.reshape(_float(values), [-1])
    stats = global_sum(tf.stack([tf.reduce_sum(v), tf.cast(tf.size(v), v.dtype)]))
    return stats[0] / tf.maximum(stats[1], 1.0)


def mse(y_true: tf.Tensor, y_pred: tf.Tensor, global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """``1/n sum_j (y_j - yhat_j)^2`` (HopeNet's regression term)."""
    y_pred = _float(y_pred)
    err = tf.reshape(y_pred, [-1]) - tf.reshape(_float(y_true, y_pred), [-1])
    return batch_mean(tf.square(err), global_sum)


def rmse(y_true: tf.Tensor, y_pred: tf.Tensor, global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """``sqrt(1/n sum_j (y_j - yhat_j)^2)`` over the batch (Eq. 1, 2, 3)."""
    return tf.sqrt(mse(y_true, y_pred, global_sum) + RMSE_EPS)


def hopenet_expectation(logits: tf.Tensor, values) -> tf.Tensor:
    """``E = sum_i softmax(logits)_i * values_i`` (Eq. 2's E; values = bins' left edges or centres)."""
    p = tf.nn.softmax(_float(logits), axis=-1)
    return tf.reduce_sum(p * tf.constant(np.asarray(values), dtype=p.dtype), axis=-1)


def sparse_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-sample ``-log softmax(logits)[label]`` (B,)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(tf.reshape(labels, [-1]), tf.int32), logits=_float(logits))


def hopenet_loss(logits: tf.Tensor, y_deg: tf.Tensor, bins: Bins, alpha: float = 2.0, reg_loss: str = "rmse",
                 decode: str = "left_edge", global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """Eq. 2, one angle: ``CE(logits, bin(y)) + alpha * RMSE(E(softmax(logits)), y)`` (``reg_loss="mse"``: MSE)."""
    if reg_loss not in ("rmse", "mse"):
        raise ValueError(f"reg_loss={reg_loss!r}: expected rmse or mse")
    ce = batch_mean(sparse_cross_entropy(bins.index_tf(tf.reshape(y_deg, [-1])), logits), global_sum)
    expectation = hopenet_expectation(logits, bins.decode_values(decode))
    reg = (rmse if reg_loss == "rmse" else mse)(y_deg, expectation, global_sum)
    return ce + alpha * reg


def ssl_cross_entropy(labels: Sequence[tf.Tensor], logits: Sequence[tf.Tensor],
                      global_sum: GlobalSum = local_sum) -> tf.Tensor:
    """SSL term of Eq. 1-3 without its factor C: ``sum_heads mean_batch CE(head)`` (one head per tile/task)."""
    if len(labels) != len(logits) or not labels:
        raise ValueError(f"ssl_cross_entropy: expected as many labels as logits (>0), got {len(labels)}, {len(logits)}")
    per_sample = tf.add_n([sparse_cross_entropy(y, z) for y, z in zip(labels, logits)])
    return batch_mean(per_sample, global_sum)


def combine_losses(task_losses: Mapping[str, tf.Tensor], mode: str = "fixed",
                   weights: Optional[Mapping[str, float]] = None,
                   log_vars: Optional[Mapping[str, tf.Tensor]] = None) -> tf.Tensor:
    """Total loss from per-task losses ``L_t``.

    ``fixed`` (paper, Eq. 1-3): ``sum_t w_t L_t`` (w_ssl = C, others 1).
    ``uncertainty`` (Kendall et al., CVPR 2018): ``sum_t exp(-s_t) w_t L_t + s_t``, s_t trainable log-variances.
    ``geometric``: ``(prod_t L_t)^(1/T)`` (scale-free, so ``weights`` do not apply).
    """
    if not task_losses:
        raise ValueError("combine_losses: no task losses")
    weights = weights or {}
    names = list(task_losses)
    if mode == "fixed":
        return tf.add_n([weights.get(t, 1.0) * task_losses[t] for t in names])
    if mode == "uncertainty":
        if log_vars is None or set(names) - set(log_vars):
            raise ValueError(f"combine_losses(uncertainty): need a log-variance for each of {names}")
        return tf.add_n([tf.exp(-log_vars[t]) * weights.get(t, 1.0) * task_losses[t] + log_vars[t] for t in names])
    if mode == "geometric":
        logs = [tf.math.log(tf.maximum(task_losses[t], 1e-12)) for t in names]
        return tf.exp(tf.add_n(logs) / float(len(names)))
    raise ValueError(f"loss_weighting={mode!r}: expected fixed, uncertainty or geometric")
