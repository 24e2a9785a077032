"""MirroredStrategy (2 logical CPUs) = one device on the same global batch: loss, gradients, BN statistics.

Runs in a subprocess (logical devices must be configured before TF initialises). float64 so that the
comparison tests the logic, not float32 rounding: in float32 the losses agree to ~1e-5 relative but the
one-pass variance of synchronized batch norm amplifies summation-order rounding in a random-init ResNet
to ~1-2% in deep-layer gradients (measured). Dropout is 0 (masks differ per replica), batch norm synchronized.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO


SCRIPT = r'''
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
keras.config.set_floatx("float64")
from hmtl_tf.config import make_config
from hmtl_tf.models import MultiTaskModel, build_network

backbone, weighting = sys.argv[1], sys.argv[2]
cfg = make_config("smoke", {"ssl.task": "puzzle2x2", "ssl.flag": 3, "model.backbone": backbone,
                            "model.dropout": 0.0, "ssl.dropout": 0.0, "optim.loss_weighting": weighting})
B = 4
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (B, 64, 64, 3))
y = {a: rng.uniform(-90, 90, (B,)).astype("float32") for a in cfg.model.angles}
y.update({f"puzzle_{i}": rng.integers(0, 4, (B,)).astype("int32") for i in range(4)})

def one_step(strategy, init):
    """One SGD(lr=1) step through model.fit: the update of each variable is minus its gradient."""
    with strategy.scope():
        model = MultiTaskModel(build_network(cfg, sync_bn=True), cfg)
        if init is not None:
            model.set_weights(init)
        w0 = [np.array(v) for v in model.get_weights()]
        model.compile(optimizer=keras.optimizers.SGD(1.0), run_eagerly=True)
    hist = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(B), epochs=1, verbose=0).history
    return w0, [np.array(v) for v in model.get_weights()], {k: v[0] for k, v in hist.items()}

w0, w1, h1 = one_step(tf.distribute.get_strategy(), None)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
_, m1, h2 = one_step(strategy, w0)
d1 = [a - b for a, b in zip(w0, w1)]
d2 = [a - b for a, b in zip(w0, m1)]
total = float(np.sqrt(sum(np.sum(d ** 2) for d in d1)))
per_var = [float(np.linalg.norm(a - b)) for a, b in zip(d1, d2)]
norms = [float(np.linalg.norm(a)) for a in d1]
print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync, "one": h1, "mirrored": h2,
                              "total_norm": total, "per_var_diff": per_var, "per_var_norm": norms}))
'''


def run(backbone, weighting):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, backbone, weighting], capture_output=True, text=True,
                          env=env, timeout=900, cwd=str(REPO))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def check(res):
    """Loss and logged task losses/MAEs: rel 1e-9; each variable's update (= gradient, BN moving stats too):
    ||diff|| <= 1e-8 ||update|| + 1e-10 ||all updates|| (the last term for pre-BN conv biases, whose true
    gradient is 0 and whose computed one is rounding noise)."""
    assert res["replicas"] == 2
    for key, value in res["one"].items():
        np.testing.assert_allclose(res["mirrored"][key], value, rtol=1e-9, err_msg=key)
    diff, norm = np.array(res["per_var_diff"]), np.array(res["per_var_norm"])
    assert res["total_norm"] > 0
    assert np.all(diff <= 1e-8 * norm + 1e-10 * res["total_norm"]), float(np.max(diff / (norm + 1e-30)))


@pytest.mark.parametrize("weighting", ["fixed"])
def test_mirrored_equals_one_device_resnet18(weighting):
    check(run("resnet18", weighting))


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["fixed", "uncertainty", "geometric"])
def test_mirrored_equals_one_device_resnet50(weighting):
    check(run("resnet50", weighting))
