"""KD-OE networks (kd-offset-ensemble-head-pose.md §3.2, Fig. 2; SPEC section 6).

Stage 1: backbone (raw RGB input, ``models.backbone``) -> global average pooling -> per angle four RvC
heads ``rvc{b}_{angle}`` (logits over ``kdoe_bins(b)``, b = 1..4) and a regression head ``reg_{angle}``
= 99 * tanh(Dense(1)) in degrees (Eq. 3). No dropout (the paper's AvgPool + Linear). Student (stage 2):
backbone -> GAP -> one bin-1 head ``rvc1_{angle}``. Inference model: backbone + bin-1 heads, outputs
``{"yaw", "pitch", "roll"}`` degrees (B,) decoded with the bin centres (Eq. 2).

``KDOEModel`` wraps a network for ``fit``: ``mode="stage1"`` trains Eq. 4; ``mode="distill"`` trains Eq. 7
with the teacher distributions either in the targets (``teacher_{angle}``) or computed on the fly from
stored images (``x = {"image", "stored", "box"}``) by a frozen offset ensemble.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import keras
import tensorflow as tf

from hmtl_tf.bins import kdoe_bins
from hmtl_tf.kdoe import losses as L
from hmtl_tf.kdoe.crops import crop_batch
from hmtl_tf.losses import hopenet_expectation
from hmtl_tf.metrics import absolute_errors
from hmtl_tf.models.backbone import build_backbone
from hmtl_tf.models.fit_model import FitModel
from hmtl_tf.models.heads import dense_logits
from hmtl_tf.models.hmtl import backbone_init
from hmtl_tf.models.layers import HopeNetDecode

THETA = 99.0  # Eq. 3: theta * tanh(x)


def _backbone(cfg, backbone: Optional[keras.Model], name: Optional[str] = None) -> keras.Model:
    if backbone is not None:
        return backbone

    s = int(cfg.data.image_size)
    weights, imagenet_file = backbone_init(cfg)
    return build_backbone(name or cfg.model.backbone, (s, s, 3), weights=weights, imagenet_file=imagenet_file,
                          fused_bn=cfg.model.fused_bn)


def _features(cfg, backbone):
    s = int(cfg.data.image_size)
    image = keras.Input(shape=(s, s, 3), name="image")
    feats = backbone(image)["stage4"]
    return image, keras.layers.GlobalAveragePooling2D(name="gap")(feats)


def _rvc(x, b: int, angle: str):
    return dense_logits(x, kdoe_bins(b).count, f"rvc{b}_{angle}")


def build_kdoe_network(cfg, backbone: Optional[keras.Model] = None) -> keras.Model:
    """Stage-1 network: outputs ``rvc{1..4}_{angle}`` logits and ``reg_{angle}`` degrees (B, 1)."""
    image, x = _features(cfg, _backbone(cfg, backbone))
    out = {}
    for a in cfg.model.angles:
        for b in L.BIN_SIZES:
            out[f"rvc{b}_{a}"] = _rvc(x, b, a)
        z = keras.layers.Dense(1, activation="tanh", dtype="float32", name=f"reg_{a}_tanh")(x)
        out[f"reg_{a}"] = keras.layers.Rescaling(THETA, dtype="float32", name=f"reg_{a}")(z)
    return keras.Model(image, out, name="kdoe_stage1")


def build_student_network(cfg, backbone: Optional[keras.Model] = None, backbone_name: Optional[str] = None
                          ) -> keras.Model:
    """Stage-2 student: ``backbone_name`` (default cfg.model.backbone; ResNet18-152) + one bin-1 head."""
    image, x = _features(cfg, _backbone(cfg, backbone, backbone_name))
    return keras.Model(image, {f"rvc1_{a}": _rvc(x, 1, a) for a in cfg.model.angles}, name="kdoe_student")


def build_kdoe_inference_model(cfg, network: keras.Model) -> keras.Model:
    """Backbone + bin-1 heads of ``network`` (stage 1 or student) -> {angle: degrees (B,)}, bin centres."""
    out = {a: HopeNetDecode(1.0, -99.0, 99.0, "centre", name=a)(network.get_layer(f"rvc1_{a}").output)
           for a in cfg.model.angles}
    return keras.Model(network.input, out, name="kdoe_inference")


def predict_degrees(outputs, angles: Sequence[str]) -> Dict[str, tf.Tensor]:
    """Eq. 2 on the bin-1 logits of a network's outputs."""
    values = kdoe_bins(1).centres()
    return {a: hopenet_expectation(outputs[f"rvc1_{a}"], values) for a in angles}


def _batch_size(y, angles) -> tf.Tensor:
    """Samples in a batch (float32), the weight of its loss parts in the epoch means."""
    return tf.cast(tf.size(tf.reshape(y[angles[0]], [-1])), tf.float32)


def _per_replica(loss: tf.Tensor) -> tf.Tensor:
    """A replica's batch-mean loss divided by the replica count: Keras' TF trainer sums the replicas' gradients
    and multiplies the logged loss back (as HMTL's MultiTaskModel.compute_loss), so N equal replica batches give
    the one-device gradient and loss of their global batch."""
    return loss / float(tf.distribute.get_strategy().num_replicas_in_sync)


class KDOEModel(FitModel):
    """Training wrapper: Eq. 4 (``stage1``) or Eq. 7 (``distill``) with MAE metrics ``mae_{angle}``,
    ``mae_mean`` and the loss parts. ``teacher_fn``: stored images (B, H, W, 3), boxes (B, 4) ->
    {angle: ensemble probabilities}; the teacher is a plain callable, so its weights are not tracked."""

    def __init__(self, network: keras.Model, angles: Sequence[str], mode: str = "stage1",
                 teacher_fn: Optional[Callable] = None, input_size: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("stage1", "distill"):
            raise ValueError(f"mode={mode!r}: expected stage1 or distill")
        self.network, self.angles, self.mode = network, tuple(angles), mode
        self._teacher_fn, self._input_size = teacher_fn, input_size
        parts = ["loss_reg"] + [f"loss_rvc{b}" for b in L.BIN_SIZES] if mode == "stage1" else ["loss_ce", "loss_kl"]
        self._trackers = {n: keras.metrics.Mean(name=n) for n in
                          [f"mae_{a}" for a in self.angles] + ["mae_mean"] + parts}

    def _student_input(self, x):
        if not isinstance(x, dict):
            return x
        if "stored" in x:
            return crop_batch(x["stored"], x["box"], self._input_size)
        return x["image"]

    def call(self, x, training=False):
        return self.network(self._student_input(x), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.mode == "stage1":
            parts = L.stage1_loss(y, y_pred, self.angles)
        else:
            logits = {a: y_pred[f"rvc1_{a}"] for a in self.angles}
            if isinstance(x, dict) and "stored" in x:
                teacher = self._teacher_fn(x["stored"], x["box"])
            elif f"teacher_{self.angles[0]}" in y:
                teacher = {a: y[f"teacher_{a}"] for a in self.angles}
            else:  # validation on plain test batches: no teacher, the CE part of Eq. 7 only
                ce = tf.add_n([L.bin_cross_entropy(y[a], logits[a], 1) for a in self.angles])
                self._trackers["loss_ce"].update_state(ce, sample_weight=_batch_size(y, self.angles))
                return _per_replica(L.KD_CE_WEIGHT * ce / 2.0)
            parts = L.kd_loss(y, logits, {a: tf.stop_gradient(teacher[a]) for a in self.angles}, self.angles)
        n = _batch_size(y, self.angles)
        for name, value in parts.items():
            if name in self._trackers:
                self._trackers[name].update_state(value, sample_weight=n)
        return _per_replica(parts["loss"])

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Per-sample absolute errors into the ``mae_*`` means (an empty or short last batch weighs its size;
        a per-batch scalar would count the empty batch that graph-mode ``evaluate`` can see at the end)."""
        pred = predict_degrees(y_pred, self.angles)
        errors = [absolute_errors(y[a], pred[a]) for a in self.angles]
        for a, err in zip(self.angles, errors):
            self._trackers[f"mae_{a}"].update_state(err)
        self._trackers["mae_mean"].update_state(tf.add_n(errors) / float(len(errors)))
        return self.get_metrics_result()

    @property
    def metrics(self):
        return super().metrics + list(self._trackers.values())
