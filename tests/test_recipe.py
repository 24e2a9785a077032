"""The GPU recipe on CPU (issue 17): the XLA-compiled and the mixed-precision train steps build, train a few steps
and give the float32 loss; ``auto`` resolves to the float32 / no-XLA / host path on CPU; a tiny run with the
device transforms, XLA and steps_per_execution records its recipe.

Tolerances (3 Adam steps, LR 1e-4, of a ResNet18 HMTL model at 32 px, batch 4, fixed data and seed): XLA vs the
plain step, rtol 1e-3 on every step's loss (the same float32 maths, fused differently: first step measured 2.5e-7;
with AdaBelief's epsilon 1e-14 the third step differed by 6e-3, so Adam here); mixed bfloat16 (CPU's mixed type),
rtol 5e-2 (bfloat16 keeps 8 bits of mantissa: per-op relative error ~4e-3, accumulated over ~20 layers).
"""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import config as C
from hmtl_tf import runsetup


def _losses(xla=False, policy="float32", spe=1):
    from hmtl_tf.models.hmtl import MultiTaskModel, build_network
    from hmtl_tf.optim import make_optimizer

    keras.mixed_precision.set_global_policy(policy)
    try:
        cfg = C.make_config("smoke", {"data.image_size": 32, "model.backbone": "resnet18", "ssl.task": "puzzle2x2",
                                      "ssl.flag": 3, "batch_size": 4, "model.dropout": 0.0, "ssl.dropout": 0.0,
                                      "optim.optimizer": "adam", "optim.lr": 1e-4, "optim.schedule": "constant"})
        keras.utils.set_random_seed(0)
        model = MultiTaskModel(build_network(cfg), cfg)
        model.compile(optimizer=make_optimizer(cfg.optim, 10, cfg.epochs), jit_compile=xla, steps_per_execution=spe)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
        y = {a: rng.uniform(-60, 60, 4).astype(np.float32) for a in cfg.model.angles}
        y.update({f"puzzle_{i}": rng.permutation(4).astype(np.int32) for i in range(4)})
        return [float(model.train_on_batch(x, y, return_dict=True)["loss"]) for _ in range(3)], model
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow  # ~130 s on 2 loaded cores (XLA compiles the ResNet18 step on CPU); run by gpu_check.sh too
def test_xla_and_mixed_precision_steps_give_the_float32_loss():
    ref, _ = _losses()
    xla, _ = _losses(xla=True)
    bf16, model = _losses(policy="mixed_bfloat16")
    assert all(np.isfinite(ref)) and ref[0] > 0
    np.testing.assert_allclose(xla, ref, rtol=1e-3)
    np.testing.assert_allclose(bf16, ref, rtol=5e-2)
    assert model.network.layers[-1].compute_dtype in ("bfloat16", "float32")


def test_auto_recipe_is_the_plain_path_on_cpu():
    cfg = C.make_config("smoke")
    strategy, policy = runsetup.setup_devices(cfg)
    r = runsetup.resolve_recipe(cfg, strategy, policy, steps_per_epoch=5)
    assert (r.accelerator, r.precision, r.xla, r.steps_per_execution, r.prefetch_to_device, r.transforms_on) == (
        "cpu", "float32", False, 1, False, "host")
    assert runsetup.precision_policy("auto", "gpu") == "mixed_float16"
    assert runsetup.precision_policy("auto", "tpu") == "mixed_bfloat16"
    assert runsetup.precision_policy("bfloat16", "cpu") == "mixed_bfloat16"
    cfg.xla, cfg.steps_per_execution = "on", 8
    r = runsetup.resolve_recipe(cfg, strategy, policy, steps_per_epoch=5)
    assert r.xla and r.steps_per_execution == 5  # never more than an epoch
    assert C.xla_mode(True) == "on" and C.xla_mode(False) == "off"  # run configs written before the switch


def test_recipe_flags_are_checked():
    for over, flag in (({"xla": "yes"}, "--xla"), ({"transforms_on": "gpu"}, "--transforms_on"),
                       ({"mixed_precision": "fp8"}, "--mixed_precision"), ({"steps_per_execution": -1},
                                                                             "--steps_per_execution")):
        with pytest.raises(C.ConfigError, match=flag):
            C.make_config("smoke", over).validate()


@pytest.mark.slow  # ~150 s on 2 loaded cores (the run's export and evaluation included)
def test_tiny_run_with_device_transforms_and_steps_per_execution(tmp_path):
    """train.run end to end with device transforms and 2 steps per execution (CPU; XLA is the slow test above):
    recipe.json states the switches, the run finishes with pretext accuracy logged."""
    from tests.helpers import random_items, write_records

    from hmtl_tf import train

    data = tmp_path / "shards"
    write_records(str(data), "train", random_items(8, "train", 0))
    write_records(str(data), "test", random_items(4, "test", 1))
    cfg = C.make_config("smoke", {
        "data.train": str(data), "data.val": str(data), "data.image_size": 32, "model.backbone": "resnet18",
        "ssl.task": "puzzle2x2", "ssl.flag": 3, "batch_size": 4, "epochs": 1, "steps_per_epoch": 2,
        "transforms_on": "device", "xla": "off", "steps_per_execution": 2, "run": str(tmp_path / "run")})
    run = train.run(cfg, verbose=0)
    with open(os.path.join(run, "recipe.json")) as f:
        recipe = json.load(f)
    assert recipe["transforms_on"] == "device" and recipe["steps_per_execution"] == 2
    with open(os.path.join(run, "history.csv")) as f:
        header, row = f.read().splitlines()[:2]
    cols = dict(zip(header.split(","), row.split(",")))
    assert np.isfinite(float(cols["loss"])) and "ssl_acc" in cols
    assert os.path.isfile(os.path.join(run, "DONE"))
