"""Registers the MNN family (Valle et al., SPEC section 6) with the trainer."""
from __future__ import annotations

from hmtl_tf import mnn
from hmtl_tf.config import TrainConfig
from hmtl_tf.models.registry import Family, register_family


def mnn_family(cfg: TrainConfig) -> Family:
    def build(c: TrainConfig):
        network = mnn.build_network(c)
        if c.model.init not in ("", "random"):  # "Pre+Sym" / "Pre+Pose": a tasks=landmarks run's weights
            mnn.load_pretrained(network, c.model.init, c)
        return network

    landmarks_only = cfg.model.tasks == "landmarks"  # pose heads untrained in that stage: pick by NME
    return Family(build, mnn.TrainingModel, mnn.build_inference_model, needs_landmarks=mnn.needs_landmarks,
                  monitor="nme" if landmarks_only else "mae_mean")


register_family("mnn", mnn_family)
