"""Learning-rate schedules (hmtl_tf/optim/schedules.py) and make_schedule / make_optimizer (optim/__init__.py)."""
import json
import math

import numpy as np
import pytest

import keras
import tensorflow as tf

from hmtl_tf.config import ConfigError, OptimConfig
from hmtl_tf.optim import AdaBelief, Constant, Cosine, StepDrops, Warmup, make_optimizer, make_schedule


def values(schedule, steps):
    """The schedule at ``steps``, eagerly and inside ``Dataset.map``; both must agree."""
    eager = np.array([float(schedule(s)) for s in steps])
    mapped = np.array(list(tf.data.Dataset.from_tensor_slices(np.array(steps, np.int64)).map(schedule)
                           .as_numpy_iterator()), np.float64)
    np.testing.assert_allclose(mapped, eager, rtol=1e-7)
    return eager


# ----------------------------------------------------------------------------- StepDrops
@pytest.mark.parametrize(
    "drops_epochs,spe,steps,want",
    [
        # Tables 2-5: x0.1 at epochs 20 and 100 (10 steps per epoch)
        ((20, 100), 10, [0, 199, 200, 999, 1000, 10**6], [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5]),
        # Tables 1, 6: x0.1 at epochs 30 and 40 (7 steps per epoch), given unsorted
        ((40, 30), 7, [0, 209, 210, 279, 280], [1e-3, 1e-3, 1e-4, 1e-4, 1e-5]),
        ((), 5, [0, 10**5], [1e-3, 1e-3]),
    ],
)
def test_step_drops_values(drops_epochs, spe, steps, want):
    sched = StepDrops(1e-3, [e * spe for e in drops_epochs], 0.1)
    np.testing.assert_allclose(values(sched, steps), want, rtol=1e-6)


# ----------------------------------------------------------------------------- Cosine
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_cosine_values(alpha):
    T = 100
    sched = Cosine(2e-3, T, alpha)
    steps = [0, 25, 50, 75, 100, 150]
    want = [2e-3 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * min(s, T) / T)) + alpha) for s in steps]
    got = values(sched, steps)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
    assert got[0] == pytest.approx(2e-3, rel=1e-6) and got[-1] == pytest.approx(2e-3 * alpha, rel=1e-6, abs=1e-12)
    assert np.all(np.diff(got) <= 0)


# ----------------------------------------------------------------------------- Warmup
@pytest.mark.parametrize("wrapped", [Constant(1e-3), StepDrops(1e-3, [30], 0.1), 1e-3])
def test_warmup_linear_then_wrapped(wrapped):
    W = 20
    sched = Warmup(wrapped, W)
    got = values(sched, list(range(40)))
    ramp = got[:W]
    np.testing.assert_allclose(np.diff(ramp), 1e-3 / W, rtol=1e-4)       # linear, constant slope
    assert ramp[0] == pytest.approx(1e-3 / W) and ramp[-1] == pytest.approx(1e-3)  # 0 at step -1
    inner = wrapped if not isinstance(wrapped, float) else Constant(wrapped)
    np.testing.assert_allclose(got[W:], values(inner, list(range(W, 40))), rtol=1e-7)


def test_warmup_scales_the_wrapped_schedule_inside_the_ramp():
    sched = Warmup(StepDrops(1e-3, [5], 0.1), 10)
    np.testing.assert_allclose(values(sched, [4, 5, 9]), [1e-3 * 5 / 10, 1e-4 * 6 / 10, 1e-4], rtol=1e-6)
    np.testing.assert_allclose(values(Warmup(Constant(1e-3), 0), [0, 3]), [1e-3, 1e-3], rtol=1e-7)


# ----------------------------------------------------------------------------- serialisation
@pytest.mark.parametrize(
    "sched",
    [Constant(3e-4), StepDrops(1e-3, [200, 1000], 0.1), Cosine(1e-3, 640, 0.05),
     Warmup(Cosine(1e-3, 640), 50), Warmup(StepDrops(1e-3, [20, 100], 0.5), 5)],
)
def test_serialisation_round_trip(sched):
    blob = json.loads(json.dumps(keras.optimizers.schedules.serialize(sched)))
    again = keras.optimizers.schedules.deserialize(blob)
    assert type(again) is type(sched) and again.get_config() == sched.get_config()
    steps = [0, 10, 49, 50, 199, 200, 700, 5000]
    np.testing.assert_array_equal(values(again, steps), values(sched, steps))


# ----------------------------------------------------------------------------- make_schedule / make_optimizer
def test_make_schedule_converts_epochs_to_steps():
    spe = 7
    step = make_schedule(OptimConfig(lr=1e-3, lr_drops=(20, 100)), spe, 110)
    assert isinstance(step, StepDrops) and step.boundaries_steps == [140, 700]
    np.testing.assert_allclose(values(step, [139, 140, 699, 700]), [1e-3, 1e-4, 1e-4, 1e-5], rtol=1e-6)

    cos = make_schedule(OptimConfig(schedule="cosine", warmup_epochs=5), spe, 64)
    assert isinstance(cos, Warmup) and cos.warmup_steps == 35
    assert isinstance(cos.schedule, Cosine) and cos.schedule.total_steps == 64 * spe
    assert isinstance(make_schedule(OptimConfig(schedule="constant"), spe), Constant)


@pytest.mark.parametrize(
    "overrides,spe,epochs,match",
    [
        ({}, 0, 10, "steps_per_epoch"),
        ({"lr": 0.0}, 5, 10, "--lr"),
        ({"lr_drops": (20, -1)}, 5, 10, "--lr_drops"),
        ({"drop_factor": 0.0}, 5, 10, "--drop_factor"),
        ({"warmup_epochs": -1}, 5, 10, "--warmup_epochs"),
        ({"schedule": "poly"}, 5, 10, "--schedule"),
        ({"schedule": "cosine"}, 5, None, "--schedule=cosine"),
        ({"optimizer": "sgd"}, 5, 10, "--optimizer"),
    ],
)
def test_bad_config_raises_one_line_error(overrides, spe, epochs, match):
    with pytest.raises(ConfigError, match=match) as err:
        make_optimizer(OptimConfig(**overrides), spe, epochs)
    assert "\n" not in str(err.value)


def test_make_optimizer_kinds():
    ocfg = OptimConfig(epsilon=1e-12, weight_decay=1e-4, rectify=True, amsgrad=True, warmup_epochs=1)
    opt = make_optimizer(ocfg, 10, 110)
    assert isinstance(opt, AdaBelief) and isinstance(opt._learning_rate, Warmup)
    assert (opt.epsilon, opt.weight_decay, opt.rectify, opt.amsgrad) == (1e-12, 1e-4, True, True)
    assert float(opt.learning_rate) == pytest.approx(1e-4)  # step 0 of a 10-step warm-up to 1e-3
    adam = make_optimizer(OptimConfig(optimizer="adam"), 10, 110)
    assert type(adam) is keras.optimizers.Adam and adam.epsilon == 1e-7
    assert float(adam.learning_rate) == pytest.approx(1e-3)
