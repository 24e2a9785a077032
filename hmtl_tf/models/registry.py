"""Registry of the model families the trainer can run (SPEC sections 3 and 6): HMTL / SL, KD-OE stage 1, MNN.

A family gives the trainer three things: a functional network builder, a ``keras.Model`` wrapper whose
``compute_loss`` implements the family's loss and tracks ``mae_*`` metrics, and the inference-model builder
(backbone + supervised heads only, degrees out). Families register themselves (``register_family``) from their own
package (``hmtl_tf.models.hmtl_family``, ``hmtl_tf.kdoe.family``, ``hmtl_tf.mnn.family``); ``hmtl_tf.families``
imports all of them, so this module (and ``hmtl_tf.models``) never imports a peer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict

from hmtl_tf.config import FAMILIES, ConfigError, TrainConfig


@dataclass(frozen=True)
class Family:
    build_network: Callable
    training_model: Callable      # (network, cfg) -> keras.Model ready for compile/fit
    build_inference_model: Callable  # (cfg, network) -> keras.Model
    needs_landmarks: bool = False
    monitor: str = "mae_mean"     # the best epoch has the lowest val_<monitor> (else <monitor>)


FamilyFactory = Callable[[TrainConfig], Family]  # (cfg) -> the family's parts for that run
_FAMILIES: Dict[str, FamilyFactory] = {}


def register_family(name: str, factory: FamilyFactory) -> FamilyFactory:
    """Registers ``factory`` under ``--family=name`` (the name must be in ``config.FAMILIES``, which validates it)."""
    if name not in FAMILIES:
        raise ConfigError(f"register_family({name!r}): add the name to hmtl_tf.config.FAMILIES first")
    _FAMILIES[name] = factory
    return factory


def registered_families() -> tuple:
    return tuple(sorted(_FAMILIES))


def get_family(cfg: TrainConfig) -> Family:
    """The registered family of ``cfg.model.family`` (import ``hmtl_tf.families`` to register them all)."""
    name = cfg.model.family
    if name not in _FAMILIES:
        raise ConfigError(f"--family={name!r}: expected one of {', '.join(registered_families()) or '(none registered)'}")
    return _FAMILIES[name](cfg)
