"""Learning-rate schedules in optimizer steps (SPEC section 5; epochs are converted by ``make_schedule``).

``step`` is the optimizer's ``iterations`` (0-based: the value used by the (step+1)-th update), so an epoch
boundary ``e * steps_per_epoch`` is the first step of 0-based epoch ``e``.
"""
from __future__ import annotations

import math
from typing import Sequence

import keras
from keras import ops

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="hmtl_tf")
class Constant(LearningRateSchedule):
    """``base_lr`` at every step."""

    def __init__(self, base_lr: float):
        self.base_lr = float(base_lr)

    def __call__(self, step):
        return ops.convert_to_tensor(self.base_lr, "float32")

    def get_config(self):
        return {"base_lr": self.base_lr}


@keras.saving.register_keras_serializable(package="hmtl_tf")
class StepDrops(LearningRateSchedule):
    """``base_lr * factor ** (number of boundaries <= step)`` (the paper: x0.1 at epochs 20 and 100 / 30 and 40)."""

    def __init__(self, base_lr: float, boundaries_steps: Sequence[int], factor: float = 0.1):
        self.base_lr = float(base_lr)
        self.boundaries_steps = sorted(int(b) for b in boundaries_steps)
        self.factor = float(factor)

    def __call__(self, step):
        step = ops.cast(step, "int64")
        drops = 0.0
        for b in self.boundaries_steps:
            drops = drops + ops.cast(ops.greater_equal(step, b), "float32")
        return self.base_lr * ops.power(ops.convert_to_tensor(self.factor, "float32"), drops)

    def get_config(self):
        return {"base_lr": self.base_lr, "boundaries_steps": list(self.boundaries_steps), "factor": self.factor}


@keras.saving.register_keras_serializable(package="hmtl_tf")
class Cosine(LearningRateSchedule):
    """``base_lr * ((1 - alpha) * (1 + cos(pi * min(step, T) / T)) / 2 + alpha)`` with T = ``total_steps``."""

    def __init__(self, base_lr: float, total_steps: int, alpha: float = 0.0):
        if int(total_steps) <= 0:
            raise ValueError(f"Cosine total_steps={total_steps}: expected a positive integer")
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.alpha = float(alpha)

    def __call__(self, step):
        frac = ops.minimum(ops.cast(step, "float32"), float(self.total_steps)) / float(self.total_steps)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * frac))
        return self.base_lr * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="hmtl_tf")
class Warmup(LearningRateSchedule):
    """Linear warm-up: ``schedule(step) * min(1, (step + 1) / warmup_steps)`` (Table 4 fine-tuning: 5 epochs).

    The first update uses 1/warmup_steps of the wrapped value (the line starts at 0 at step -1, so no
    update is wasted at LR 0); the wrapped schedule is read at the same global step.
    """

    def __init__(self, schedule, warmup_steps: int):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if int(warmup_steps) < 0:
            raise ValueError(f"Warmup warmup_steps={warmup_steps}: expected a non-negative integer")
        self.schedule = schedule if isinstance(schedule, LearningRateSchedule) else Constant(schedule)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        value = ops.cast(self.schedule(step), "float32")
        if self.warmup_steps == 0:
            return value
        ramp = ops.minimum(1.0, (ops.cast(step, "float32") + 1.0) / float(self.warmup_steps))
        return value * ramp

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "warmup_steps": self.warmup_steps}
