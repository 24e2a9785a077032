"""Registers the KD-OE stage-1 family (Sheka & Samun, SPEC section 6) with the trainer."""
from __future__ import annotations

from hmtl_tf.config import TrainConfig
from hmtl_tf.kdoe import model as kd
from hmtl_tf.models.registry import Family, register_family


def kdoe_family(cfg: TrainConfig) -> Family:
    return Family(kd.build_kdoe_network, lambda net, c: kd.KDOEModel(net, c.model.angles, mode="stage1"),
                  kd.build_kdoe_inference_model)


register_family("kdoe", kdoe_family)
