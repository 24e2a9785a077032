"""Evaluation metrics: MAE in degrees per angle and their mean (the paper's "Average", SPEC section 8).

As in HopeNet's test script (DATA_FACTS 2.5): ``sum |E - y| / n`` per angle, no angle wrapping.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import tensorflow as tf


def absolute_errors(y_true, y_pred) -> tf.Tensor:
    """Per-sample ``|y_pred - y_true|`` in degrees, float32, flattened."""
    return tf.abs(tf.reshape(tf.cast(y_pred, tf.float32), [-1]) - tf.reshape(tf.cast(y_true, tf.float32), [-1]))


def mae_per_angle(y_true: Mapping[str, object], y_pred: Mapping[str, object],
                  angles: Optional[Sequence[str]] = None) -> dict:
    """``{angle: mean |pred - true|}`` for ``angles`` (default: those in both mappings, in y_true's order)."""
    names = list(angles) if angles is not None else [a for a in y_true if a in y_pred]
    missing = [a for a in names if a not in y_true or a not in y_pred]
    if missing:
        raise ValueError(f"mae_per_angle: angle(s) {missing} missing from the labels or the predictions")
    return {a: tf.reduce_mean(absolute_errors(y_true[a], y_pred[a])) for a in names}


def mean_mae(maes: Mapping[str, object]) -> tf.Tensor:
    """Mean of the per-angle MAEs (the tables' "Average")."""
    if not maes:
        raise ValueError("mean_mae: no per-angle MAE given")
    return tf.add_n([tf.cast(v, tf.float32) for v in maes.values()]) / float(len(maes))


# ----------------------------------------------------------------------------------------- SSL pretext accuracy
# Issue 13: each SSL head reports how well it does its own task (puzzle position / tile rotation). Definition:
# top-1 accuracy with ties split fractionally. For one sample with logits z and true class c, let
# A = argmax set {k : z_k = max z}; accuracy = 1/|A| if c in A else 0 (for soft / one-hot targets y:
# sum_{k in A} y_k / |A|). Without ties this is the usual argmax accuracy; with ties it is the expected accuracy of
# breaking the tie uniformly at random, so a head with uniform (all-equal) logits scores exactly 1/K = chance, and a
# perfectly predicting head scores 1. Training-time only: validation images are never puzzled (SPEC section 4).


def pretext_accuracy(labels, logits) -> tf.Tensor:
    """Per-sample (B,) float32 tie-split top-1 accuracy of one SSL head (definition above).

    ``logits`` (B, K); ``labels``: class indices (B,) / (B, 1), or one-hot / soft targets (B, K).
    A sample with non-finite logits (no maximum equals itself) scores 0.
    """
    z = tf.cast(logits, tf.float32)
    k = z.shape[-1]
    top = tf.cast(tf.equal(z, tf.reduce_max(z, axis=-1, keepdims=True)), tf.float32)
    n_top = tf.reduce_sum(top, axis=-1)
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == z.shape.rank and k is not None and k > 1 and labels.shape[-1] == k:
        hit = tf.reduce_sum(tf.cast(labels, tf.float32) * top, axis=-1)
    else:
        index = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        hit = tf.gather(top, index, axis=1, batch_dims=1)
    return tf.math.divide_no_nan(hit, n_top)


def chance_accuracy(n_classes: int) -> float:
    """Accuracy of guessing (or of a uniform head) on a ``n_classes``-way head: ``1 / n_classes``."""
    if int(n_classes) < 1:
        raise ValueError(f"chance_accuracy: n_classes={n_classes}, expected >= 1")
    return 1.0 / float(n_classes)


def pretext_accuracies(labels: Mapping[str, object], logits: Mapping[str, object],
                       heads: Sequence[str]) -> dict:
    """``{head: (B,) accuracy}`` for ``heads`` (keys of both mappings, e.g. ``puzzle_0``..) plus ``"mean"``: the
    per-sample mean over the heads (the logged ``ssl_acc``)."""
    if not heads:
        raise ValueError("pretext_accuracies: no SSL head given")
    out = {h: pretext_accuracy(labels[h], logits[h]) for h in heads}
    out["mean"] = tf.add_n([out[h] for h in heads]) / float(len(heads))
    return out


def pretext_chance(n_classes: Sequence[int]) -> float:
    """Chance level of ``ssl_acc`` (the mean over heads): mean of ``1 / K_h`` over the heads' class counts
    (puzzleNxN: 1/N²; rotation: 1/4; puzzle_rotation2x2: 1/4)."""
    if not n_classes:
        raise ValueError("pretext_chance: no SSL head given")
    return sum(chance_accuracy(k) for k in n_classes) / len(n_classes)


ACC_PREFIX = "ssl_acc_"   # per-head log key: ssl_acc_<head> (e.g. ssl_acc_puzzle_0); mean: ssl_acc; chance: ssl_chance


def pretext_summary(history: Sequence[Mapping[str, object]], best_epoch: Optional[int] = None) -> dict:
    """metrics.json's ``_pretext`` entry from the per-epoch history rows: the last epoch's ``ssl_acc`` (mean over
    heads), ``ssl_chance``, per-head accuracies (``heads``), its ``epoch``, and ``ssl_acc`` at ``best_epoch``
    (``best_epoch_ssl_acc``, when given and logged). ``{}`` when no row has ``ssl_acc`` (no SSL heads)."""
    rows = [r for r in history if r.get("ssl_acc") not in (None, "")]
    if not rows:
        return {}
    last = rows[-1]
    out = {"epoch": int(last["epoch"]) if last.get("epoch") not in (None, "") else None,
           "ssl_acc": float(last["ssl_acc"]),
           "ssl_chance": float(last["ssl_chance"]) if last.get("ssl_chance") not in (None, "") else None,
           "heads": {k[len(ACC_PREFIX):]: float(v) for k, v in sorted(last.items())
                     if k.startswith(ACC_PREFIX) and v not in (None, "")},
           "definition": "top-1 accuracy on the training batches, ties split (1/|argmax set| if the label is in it)"}
    if best_epoch is not None:
        best = [r for r in rows if r.get("epoch") not in (None, "") and int(r["epoch"]) == int(best_epoch)]
        if best:
            out["best_epoch_ssl_acc"] = float(best[-1]["ssl_acc"])
    return out

