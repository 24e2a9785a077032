"""Optimizer and learning-rate schedule from ``OptimConfig`` (SPEC section 5; epochs -> optimizer steps)."""
from __future__ import annotations

from typing import Optional

import keras

from hmtl_tf.config import OPTIMIZERS, ConfigError, OptimConfig
from hmtl_tf.optim.adabelief import AdaBelief
from hmtl_tf.optim.schedules import Constant, Cosine, LearningRateSchedule, StepDrops, Warmup

__all__ = ["AdaBelief", "Constant", "Cosine", "StepDrops", "Warmup", "make_schedule", "make_optimizer"]


def _check(ocfg: OptimConfig, steps_per_epoch: int, epochs: Optional[int]) -> None:
    if int(steps_per_epoch) <= 0:
        raise ConfigError(f"steps_per_epoch={steps_per_epoch}: expected a positive integer")
    if epochs is not None and int(epochs) <= 0:
        raise ConfigError(f"--epochs={epochs}: expected a positive integer")
    if not ocfg.lr > 0:
        raise ConfigError(f"--lr={ocfg.lr}: expected a positive learning rate")
    if any(int(e) <= 0 for e in ocfg.lr_drops):
        raise ConfigError(f"--lr_drops={','.join(map(str, ocfg.lr_drops))}: expected positive epoch numbers")
    if not ocfg.drop_factor > 0:
        raise ConfigError(f"--drop_factor={ocfg.drop_factor}: expected a positive factor (0.1 in the paper)")
    if ocfg.warmup_epochs < 0:
        raise ConfigError(f"--warmup_epochs={ocfg.warmup_epochs}: expected a non-negative integer")
    if ocfg.weight_decay < 0:
        raise ConfigError(f"--weight_decay={ocfg.weight_decay}: expected a non-negative number")


def make_schedule(ocfg: OptimConfig, steps_per_epoch: int, epochs: Optional[int] = None) -> LearningRateSchedule:
    """``ocfg.schedule`` in steps: ``step`` drops LR x drop_factor at the start of each (0-based) epoch in
    ``lr_drops``; ``cosine`` decays to 0 over ``epochs``; then an optional linear warm-up of ``warmup_epochs``."""
    _check(ocfg, steps_per_epoch, epochs)
    spe = int(steps_per_epoch)
    if ocfg.schedule == "step":
        schedule = StepDrops(ocfg.lr, [int(e) * spe for e in ocfg.lr_drops], ocfg.drop_factor)
    elif ocfg.schedule == "cosine":
        if epochs is None:
            raise ConfigError("--schedule=cosine: the number of epochs is needed for the cosine length")
        schedule = Cosine(ocfg.lr, int(epochs) * spe)
    elif ocfg.schedule == "constant":
        schedule = Constant(ocfg.lr)
    else:
        raise ConfigError(f"--schedule={ocfg.schedule!r}: expected step, cosine or constant")
    if ocfg.warmup_epochs:
        schedule = Warmup(schedule, int(ocfg.warmup_epochs) * spe)
    return schedule


def make_optimizer(ocfg: OptimConfig, steps_per_epoch: int, epochs: Optional[int] = None) -> keras.optimizers.Optimizer:
    """AdaBelief (``epsilon``, ``rectify``, ``amsgrad``, decoupled ``weight_decay``, ``adabelief_variant``; the
    defaults are adabelief-tf 0.2.0's, the authors') or Keras Adam (its own epsilon 1e-7, since ``ocfg.epsilon``
    is AdaBelief's in-moment epsilon) on ``make_schedule``."""
    schedule = make_schedule(ocfg, steps_per_epoch, epochs)
    if ocfg.optimizer == "adabelief":
        return AdaBelief(schedule, epsilon=ocfg.epsilon, weight_decay=ocfg.weight_decay,
                         rectify=ocfg.rectify, amsgrad=ocfg.amsgrad, variant=ocfg.adabelief_variant)
    if ocfg.optimizer == "adam":
        return keras.optimizers.Adam(schedule, amsgrad=ocfg.amsgrad, weight_decay=ocfg.weight_decay or None)
    raise ConfigError(f"--optimizer={ocfg.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
