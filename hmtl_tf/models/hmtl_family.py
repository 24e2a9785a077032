"""Registers the HMTL / SL family (SPEC section 3): ``hmtl_tf.models.hmtl`` with the trainer."""
from __future__ import annotations

from hmtl_tf.config import TrainConfig
from hmtl_tf.models import hmtl
from hmtl_tf.models.registry import Family, register_family


def hmtl_family(cfg: TrainConfig) -> Family:
    return Family(hmtl.build_network, hmtl.MultiTaskModel, hmtl.build_inference_model)


register_family("hmtl", hmtl_family)
