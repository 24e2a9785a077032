"""SL / HMTL networks, the inference model and the multi-task training model (Sec. 3.2, 4.1, 4.2; Eq. 1-3).

``build_network``: backbone + SHs (+ SSL branch at the flag) with outputs keyed like the pipeline targets.
``build_inference_model``: backbone + SHs only (shared weights), degrees out: no extra FLOPs at test time.
``MultiTaskModel``: wraps a network for ``model.fit``; its ``compute_loss`` is Eq. 1-3 on the GLOBAL batch.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import keras
import tensorflow as tf

from hmtl_tf import losses, metrics
from hmtl_tf.bins import hopenet_bins
from hmtl_tf.config import TrainConfig
from hmtl_tf.models.backbone import build_backbone, iter_layers, set_sync_batchnorm
from hmtl_tf.models.batchnorm import set_fused_batchnorm
from hmtl_tf.models.fit_model import FitModel
from hmtl_tf.models.heads import pooled_features, ssl_branch, ssl_head_specs, supervised_heads
from hmtl_tf.models.layers import HopeNetDecode, SqueezeLast


def backbone_init(cfg: TrainConfig) -> Tuple[Optional[str], str]:
    """``(weights, imagenet_file)`` for :func:`build_backbone` from ``cfg.model.init`` / ``imagenet_weights``."""
    init = cfg.model.init
    if init in ("", "random"):
        return None, ""
    return init, cfg.model.imagenet_weights


def build_network(cfg: TrainConfig, sync_bn: Optional[bool] = None) -> keras.Model:
    """The training network: input ``"image"`` (S, S, 3) raw RGB; outputs keyed like the pipeline targets.

    Angles: hopenet -> (B, n_bins) logits, regression -> (B, 1) degrees. SSL (``cfg.ssl.heads`` and a task):
    ``puzzle_i`` (B, N²) / ``rotation_i`` (B, 4) logits from the branch at ``cfg.ssl.flag``.
    ``sync_bn`` (default ``cfg.model.sync_bn`` when that field exists, else False): cross-replica batch norm.
    """
    m, s = cfg.model, cfg.ssl
    size = cfg.data.image_size
    sync = bool(getattr(m, "sync_bn", False)) if sync_bn is None else sync_bn
    weights, imagenet_file = backbone_init(cfg)
    backbone = build_backbone(m.backbone, (size, size, 3), weights=weights, imagenet_file=imagenet_file)
    if m.freeze_backbone:
        backbone.trainable = False  # linear evaluation (Table 4 "LE"): BN also runs in inference mode
    image = keras.Input((size, size, 3), name="image")
    taps = backbone(image)
    n_bins = hopenet_bins(m.bin_size).count if m.head == "hopenet" else 0
    outputs = supervised_heads(pooled_features(taps["stage4"], m.dropout), m.angles, m.head, n_bins)
    specs = ssl_head_specs(s.task) if s.heads else []
    for branch, n_tiles, n_classes in specs:
        heads = ssl_branch(taps[f"stage{s.flag}"], s.flag, branch, n_tiles, n_classes, s.dropout)
        outputs.update({f"{branch}_{i}": z for i, z in enumerate(heads)})
    network = keras.Model(image, outputs, name="hmtl" if specs else "sl")
    if sync:
        set_sync_batchnorm(network)
    set_fused_batchnorm(iter_layers(network), m.fused_bn)
    return network


def build_inference_model(cfg: TrainConfig, network: keras.Model) -> keras.Model:
    """Backbone + SHs of ``network`` (shared layers): raw RGB in, ``{angle: (B,) degrees}`` out."""
    m = cfg.model
    size = cfg.data.image_size
    image = keras.Input((size, size, 3), name="image")
    taps = network.get_layer("backbone")(image)
    features = network.get_layer("sh_pool")(taps["stage4"])
    outputs = {}
    for a in m.angles:
        z = network.get_layer(f"head_{a}")(features)
        if m.head == "hopenet":
            b = hopenet_bins(m.bin_size)
            outputs[a] = HopeNetDecode(b.size, b.lo, b.hi, m.decode, name=a)(z)
        else:
            outputs[a] = SqueezeLast(name=a)(z)
    return keras.Model(image, outputs, name="inference")


class MultiTaskModel(FitModel):
    """``model.fit`` wrapper of a network built by :func:`build_network` (same outputs).

    Loss (Eq. 1-3): per angle RMSE (regression) or CE + alpha * RMSE/MSE (hopenet); SSL: the summed
    cross-entropies of the present SSL targets (absent in validation). Task losses are combined by
    ``cfg.optim.loss_weighting`` (fixed: ``sum + ssl.weight * ssl``; uncertainty; geometric). Every batch
    statistic is taken over the global batch (all replicas), so MirroredStrategy = one device.
    Logs: ``loss``, ``loss_{task}`` (unweighted task losses), ``mae_{angle}``, ``mae_mean`` (degrees); with SSL
    heads, on training batches, ``ssl_acc_{head}``, ``ssl_acc`` (mean over heads) and ``ssl_chance``.
    """

    def __init__(self, network: keras.Model, cfg: TrainConfig, **kwargs):
        super().__init__(name=kwargs.pop("name", "multitask"), **kwargs)
        self.network = network
        self.cfg = cfg
        m = cfg.model
        self.angles = tuple(m.angles)
        self.ssl_keys = tuple(k for k in network.output if k not in self.angles)
        self.bins = hopenet_bins(m.bin_size) if m.head == "hopenet" else None
        self.tasks = self.angles + (("ssl",) if self.ssl_keys else ())
        self.weighting = cfg.optim.loss_weighting
        self.log_vars = None
        if self.weighting == "uncertainty":
            self.log_vars = self.add_weight(shape=(len(self.tasks),), initializer="zeros", name="log_vars")
        self.task_trackers = [keras.metrics.Mean(name=f"loss_{t}") for t in self.tasks]
        self.mae_trackers = [keras.metrics.Mean(name=f"mae_{a}") for a in self.angles + ("mean",)]
        # SSL pretext accuracy (metrics.pretext_accuracy): per head, the mean over heads, and its chance level
        self.ssl_classes = tuple(int(network.output[k].shape[-1]) for k in self.ssl_keys)
        self.ssl_trackers = [keras.metrics.Mean(name=f"{metrics.ACC_PREFIX}{k}") for k in self.ssl_keys]
        if self.ssl_keys:
            self.ssl_trackers += [keras.metrics.Mean(name="ssl_acc"), keras.metrics.Mean(name="ssl_chance")]

    def call(self, inputs, training=None):
        return self.network(inputs, training=training)

    def decode(self, y_pred: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Angle outputs -> (B,) degrees (HopeNet expectation with cfg.model.decode, or the regression unit)."""
        if self.bins is None:
            return {a: tf.reshape(tf.cast(y_pred[a], tf.float32), [-1]) for a in self.angles}
        values = self.bins.decode_values(self.cfg.model.decode)
        return {a: losses.hopenet_expectation(y_pred[a], values) for a in self.angles}

    def task_losses(self, y, y_pred, global_sum=losses.cross_replica_sum) -> Dict[str, tf.Tensor]:
        """Unweighted per-task losses (Eq. 1-3 terms); ``ssl`` only when SSL targets are present."""
        m = self.cfg.model
        out = {}
        for a in self.angles:
            if self.bins is None:
                out[a] = losses.rmse(y[a], y_pred[a], global_sum)
            else:
                out[a] = losses.hopenet_loss(y_pred[a], y[a], self.bins, m.alpha, m.reg_loss, m.decode, global_sum)
        present = [k for k in self.ssl_keys if k in y]
        if present:
            out["ssl"] = losses.ssl_cross_entropy([y[k] for k in present], [y_pred[k] for k in present], global_sum)
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Eq. 1-3 combined by ``loss_weighting``; returned divided by the replica count (Keras' TF trainer
        sums the replicas' gradients and multiplies the logged loss back), so the total is the global loss."""
        if sample_weight is not None:
            raise ValueError("MultiTaskModel: sample weights are not supported (the pipeline emits none)")
        task = self.task_losses(y, y_pred)
        log_vars = None if self.log_vars is None else {t: self.log_vars[i] for i, t in enumerate(self.tasks)}
        total = losses.combine_losses(task, self.weighting, {"ssl": self.cfg.ssl.weight}, log_vars)
        batch = tf.shape(x)[0]
        for t, tracker in zip(self.tasks, self.task_trackers):
            if t in task:
                tracker.update_state(task[t], sample_weight=batch)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        total = total / float(replicas)
        for extra in self.losses:  # regularisers, if any: Keras scales them per replica itself
            total = total + self._aggregate_additional_loss(extra)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """MAE in degrees per angle and their mean on the decoded SH outputs; with SSL targets (training batches
        only: validation images are never puzzled) the pretext accuracy ``ssl_acc_<head>``, their mean ``ssl_acc``
        and its chance level ``ssl_chance`` (ties split, see ``metrics.pretext_accuracy``), from the same
        forward pass. Without SSL targets those keys are left out of the logs (no ``val_ssl_acc``)."""
        deg = self.decode(y_pred)
        errors = [metrics.absolute_errors(y[a], deg[a]) for a in self.angles]
        for err, tracker in zip(errors, self.mae_trackers):
            tracker.update_state(err)
        self.mae_trackers[-1].update_state(tf.add_n(errors) / float(len(errors)))
        present = [k for k in self.ssl_keys if k in y]
        if present:
            acc = metrics.pretext_accuracies(y, y_pred, present)
            classes = dict(zip(self.ssl_keys, self.ssl_classes))
            chance = metrics.pretext_chance([classes[k] for k in present])
            trackers = {t.name: t for t in self.ssl_trackers}
            for k in present:
                trackers[f"{metrics.ACC_PREFIX}{k}"].update_state(acc[k])
            trackers["ssl_acc"].update_state(acc["mean"])
            trackers["ssl_chance"].update_state(tf.fill(tf.shape(acc["mean"]), chance))
        result = self.get_metrics_result()
        if not present:
            for t in self.ssl_trackers:
                result.pop(t.name, None)
        return result
