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
    monitor: str = "mae_mean"     # the best epoch has the lowest val_<monitor> (else <monitor>)


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

        def build(c: TrainConfig):
            network = mnn.build_network(c)
            if c.model.init not in ("", "random"):  # "Pre+Sym" / "Pre+Pose": a tasks=landmarks run's weights
                mnn.load_pretrained(network, c.model.init, c)
            return network

        landmarks_only = cfg.model.tasks == "landmarks"  # pose heads untrained in that stage: pick by NME
        return Family(build, mnn.TrainingModel, mnn.build_inference_model,
                      needs_landmarks=bool(getattr(mnn, "needs_landmarks", True)),
                      monitor="nme" if landmarks_only else "mae_mean")
    raise ConfigError(f"--family={name!r}: expected hmtl, kdoe or mnn")
