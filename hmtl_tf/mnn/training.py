"""MNN training model: Eq. 5 (weighted sum of Eq. 1-4) for ``model.fit`` (Valle et al. Sec. 3.1, 4.3.2).

Targets (pipeline with ``with_landmarks=True``): ``yaw``/``pitch``/``roll`` degrees (B,), ``landmarks``
(B, 68, 2) model-input pixels, ``visibility`` (B, 68), optionally ``landmarks_present`` (B,). Terms whose
targets are absent (e.g. a validation set without landmarks), whose task is off (``cfg.model.tasks``) or whose
Eq. 5 weight ``cfg.mnn.alpha_*`` is 0 are skipped. Logs: ``loss``, ``loss_{ed,ae,heatmap,visibility}``
(unweighted), ``mae_{angle}``, ``mae_mean`` (p^ED, degrees) and ``nme`` (percent, Eq. 7, bounding-box height)
with a decoder.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import keras
import numpy as np
import tensorflow as tf

from hmtl_tf import losses as base_losses
from hmtl_tf import metrics
from hmtl_tf.config import TrainConfig
from hmtl_tf.data.locate import resolve
from hmtl_tf.mnn import heatmaps as H
from hmtl_tf.mnn import losses as L
from hmtl_tf.mnn import mean_face as MF
from hmtl_tf.models.fit_model import FitModel
from hmtl_tf.models.mnn import task_set

TERMS = ("ed", "ae", "heatmap", "visibility")
# alpha_{p1}, alpha_{p2}, alpha_h, alpha_v of Eq. 5: the named options ``cfg.mnn.alpha_{ed,ae,heatmap,visibility}``
# (flags ``--mnn_alpha_*``). The paper tunes them from the converged single-task loss magnitudes without
# publishing values; with ED in degrees, AE in 256-px pixels and the heatmap CE in nats the converged magnitudes
# are of the same order, so all are 1 by default. A weight of 0 switches its term off (not computed, not logged).
DEFAULT_WEIGHTS: Mapping[str, float] = {"ed": 1.0, "ae": 1.0, "heatmap": 1.0, "visibility": 1.0}


def config_weights(cfg: TrainConfig) -> Dict[str, float]:
    """The Eq. 5 weights of ``cfg.mnn``: ``{"ed": alpha_ed, "ae": alpha_ae, "heatmap": ..., "visibility": ...}``."""
    return {t: float(getattr(cfg.mnn, f"alpha_{t}")) for t in TERMS}
SIGMA_FRACTION = 1.0 / 64.0   # target Gaussian sigma = S / 64 input pixels (1 px at 64 px, 4 px at 256 px)


def mean_face_for(cfg: TrainConfig) -> MF.MeanFace:
    """The mean face estimated from the run's training shards (``cfg.data.train`` under ``data_root``)."""
    train_dir, split = resolve(cfg.data.train, cfg.data.data_root, training=True)
    return MF.from_shards(train_dir, split)


class TrainingModel(FitModel):
    """``model.fit`` wrapper of :func:`hmtl_tf.models.mnn.build_network`'s network (same outputs)."""

    def __init__(self, network: keras.Model, cfg: TrainConfig, mean_face: Optional[np.ndarray] = None,
                 weights: Optional[Mapping[str, float]] = None, **kwargs):
        super().__init__(name=kwargs.pop("name", "mnn_training"), **kwargs)
        self.network, self.cfg = network, cfg
        ts = task_set(cfg.model.tasks)
        outs = network.output
        self.angles = tuple(cfg.model.angles)
        self.alpha = {**config_weights(cfg), **(weights or {})}
        self.terms = tuple(t for t in TERMS if t in ts.losses and self.alpha[t] > 0)
        if not self.terms:
            raise ValueError(f"--family=mnn --tasks={cfg.model.tasks or 'all'}: every loss of the task set has "
                             f"weight 0 ({', '.join(f'--mnn_alpha_{t}' for t in TERMS if t in ts.losses)})")
        if "ae" in self.terms and set(self.angles) != {"yaw", "pitch", "roll"}:
            raise ValueError("--family=mnn --tasks=all: the alignment loss needs yaw, pitch and roll labels")
        self.image_size = int(cfg.data.image_size)
        self.has_heatmaps = "heatmaps" in outs
        self.stride = self.image_size / float(outs["heatmaps"].shape[1]) if self.has_heatmaps else 1.0
        self.sigma = SIGMA_FRACTION * self.image_size
        if "ae" in self.terms:
            pts = mean_face if mean_face is not None else mean_face_for(cfg).points
            self.mean_face = tf.constant(np.asarray(pts, np.float32))
        self.weighting = cfg.optim.loss_weighting
        self.log_vars = None
        if self.weighting == "uncertainty":
            self.log_vars = self.add_weight(shape=(len(self.terms),), initializer="zeros", name="log_vars")
        self.term_trackers = {t: keras.metrics.Mean(name=f"loss_{t}") for t in self.terms}
        self.mae_trackers = [keras.metrics.Mean(name=f"mae_{a}") for a in self.angles + ("mean",)]
        self.nme_tracker = keras.metrics.Mean(name="nme") if self.has_heatmaps else None

    def call(self, inputs, training=None):
        return self.network(inputs, training=training)

    def landmark_mask(self, y) -> tf.Tensor:
        return L.landmark_mask(y["landmarks"], self.image_size, L.present_from_targets(y))

    def task_losses(self, y, y_pred, global_sum=base_losses.cross_replica_sum) -> Dict[str, tf.Tensor]:
        """Unweighted batch means of the active Eq. 1-4 terms whose targets are present."""
        out = {}
        if "ed" in self.terms:
            true = tf.stack([tf.cast(y[a], tf.float32) for a in self.angles], -1)
            pred = tf.stack([tf.cast(y_pred[a], tf.float32) for a in self.angles], -1)
            out["ed"] = base_losses.batch_mean(L.euclidean_pose_loss(true, pred), global_sum)
        if "landmarks" not in y:
            return out
        mask = self.landmark_mask(y)
        has = tf.reduce_max(mask, -1)
        if "ae" in self.terms:
            lm = tf.cast(y["landmarks"], tf.float32) / float(self.image_size)
            per = L.AE_UNIT * L.alignment_loss(lm, y_pred["pose_ae"], self.mean_face, mask)
            out["ae"] = L.masked_batch_mean(per, has, global_sum)
        if "heatmap" in self.terms:
            per = L.heatmap_loss(y_pred["heatmaps"], y["landmarks"], mask, self.stride, self.sigma)
            out["heatmap"] = L.masked_batch_mean(per, has, global_sum)
        if "visibility" in self.terms:
            per = L.visibility_loss(y["visibility"], y_pred["visibility"], mask)
            out["visibility"] = L.masked_batch_mean(per, has, global_sum)
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Eq. 5 (``loss_weighting`` fixed: ``sum_t alpha_t L_t``), divided by the replica count like HMTL's."""
        if sample_weight is not None:
            raise ValueError("mnn.TrainingModel: sample weights are not supported (the pipeline emits none)")
        task = self.task_losses(y, y_pred)
        if not task:
            raise ValueError(f"mnn.TrainingModel: no target for the terms {self.terms} "
                             f"(got {sorted(y)}); the pipeline needs with_landmarks=True")
        log_vars = None if self.log_vars is None else {t: self.log_vars[i] for i, t in enumerate(self.terms)}
        if log_vars is not None:
            log_vars = {t: v for t, v in log_vars.items() if t in task}
        total = base_losses.combine_losses(task, self.weighting, self.alpha, log_vars)
        batch = tf.shape(x)[0]
        for t, value in task.items():
            self.term_trackers[t].update_state(value, sample_weight=batch)
        total = total / float(tf.distribute.get_strategy().num_replicas_in_sync)
        for extra in self.losses:
            total = total + self._aggregate_additional_loss(extra)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """MAE per angle and mean of p^ED (degrees); NME (Eq. 7, %) of the decoded heatmaps."""
        errors = [metrics.absolute_errors(y[a], y_pred[a]) for a in self.angles]
        for err, tracker in zip(errors, self.mae_trackers):
            tracker.update_state(err)
        self.mae_trackers[-1].update_state(tf.add_n(errors) / float(len(errors)))
        if self.nme_tracker is not None and "landmarks" in y:
            mask = self.landmark_mask(y)
            pred = H.decode_heatmaps(y_pred["heatmaps"], self.stride)
            per = H.nme(pred, y["landmarks"], mask)
            self.nme_tracker.update_state(per, sample_weight=tf.reduce_max(mask, -1))
        return self.get_metrics_result()
