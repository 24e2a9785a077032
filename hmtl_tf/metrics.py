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
