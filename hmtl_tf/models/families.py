"""Model families the trainer can run (SPEC sections 3 and 6): HMTL / SL, KD-OE stage 1, MNN.

Each family gives the trainer three things: a functional network builder, a ``keras.Model`` wrapper whose
``compute_loss`` implements the family's loss and tracks ``mae_*`` metrics, and the inference-model builder
(backbone + supervised heads only, degrees out). Imports are lazy so one family never loads another's code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hmtl_tf.config import ConfigError, TrainConfig


@dataclass(frozen=True)
class Family:
    build_network: Callable
    training_model: Callable      # (network, cfg) -> keras.Model ready for compile/fit
    build_inference_model: Callable  # (cfg, network) -> keras.Model
    needs_landmarks: bool = False


def get_family(cfg: TrainConfig) -> Family:
    name = cfg.model.family
    if name == "hmtl":
        from hmtl_tf.models import hmtl

        return Family(hmtl.build_network, hmtl.MultiTaskModel, hmtl.build_inference_model)
    if name == "kdoe":
        from hmtl_tf.kdoe import model as kd

        return Family(kd.build_kdoe_network, lambda net, c: kd.KDOEModel(net, c.model.angles, mode="stage1"),
                      kd.build_kdoe_inference_model)
    if name == "mnn":
        from hmtl_tf import mnn

        return Family(mnn.build_network, mnn.TrainingModel, mnn.build_inference_model,
                      needs_landmarks=bool(getattr(mnn, "needs_landmarks", True)))
    raise ConfigError(f"--family={name!r}: expected hmtl, kdoe or mnn")
