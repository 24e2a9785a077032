"""Checks that need a GPU (marker ``gpu``: skipped, saying so, without one; run by benchmarks/gpu_check.sh).

On a GPU: ``auto`` resolves to the fast recipe (mixed float16 with loss scaling, XLA, steps_per_execution 16,
prefetch to the device); the float16 + XLA step gives the float32 loss (rtol 5e-2, see tests/test_recipe.py for the
tolerance's reasoning); the device transforms on the GPU give the host pipeline's batches (same tolerance as
tests/data/test_device_transforms.py).
"""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import config as C
from hmtl_tf import runsetup

pytestmark = pytest.mark.gpu


def test_auto_recipe_is_the_fast_path_on_a_gpu():
    cfg = C.make_config("paper")
    strategy, policy = runsetup.setup_devices(cfg)
    try:
        r = runsetup.resolve_recipe(cfg, strategy, policy, steps_per_epoch=100)
        assert (r.accelerator, r.precision, r.loss_scaling, r.xla, r.steps_per_execution) == (
            "gpu", "mixed_float16", True, True, 16)
        assert r.prefetch_to_device == (strategy.num_replicas_in_sync == 1)
    finally:
        import keras
        keras.mixed_precision.set_global_policy("float32")


def test_float16_xla_step_gives_the_float32_loss_on_the_gpu():
    from tests.test_recipe import _losses

    ref, _ = _losses()
    fast, model = _losses(xla=True, policy="mixed_float16")
    np.testing.assert_allclose(fast, ref, rtol=5e-2)
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"


def test_device_transforms_on_the_gpu_equal_the_host(tmp_path):
    from hmtl_tf.data.device_transforms import DeviceTransform
    from tests.data.test_device_transforms import SETS, _config, _first_batches
    from tests.helpers import random_items, write_records

    write_records(str(tmp_path), "train", random_items(8, "train", 5))
    host_cfg, dev_cfg = _config(SETS[0]), _config(SETS[0])
    dev_cfg.transforms_on = "device"
    (hx, hy), (dx, dy) = _first_batches(str(tmp_path), host_cfg, 1)[0], _first_batches(str(tmp_path), dev_cfg, 1)[0]
    with tf.device("/gpu:0"):
        ox, oy = tf.function(DeviceTransform(dev_cfg).__call__, jit_compile=True)(dx, dy)
    diff = np.abs(ox.numpy() - hx.numpy())
    assert diff.max() <= 1.0 and diff.mean() <= 0.3
    for k in hy:
        if hy[k].dtype.is_integer:
            np.testing.assert_array_equal(oy[k], hy[k], err_msg=k)
