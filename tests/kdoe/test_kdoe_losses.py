"""KD-OE losses against NumPy re-statements of Eq. 4 and Eq. 7."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.bins import kdoe_bins
from hmtl_tf.kdoe import losses as L

ANG = ("yaw", "pitch", "roll")


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ce_np(y, z, b):
    edges = kdoe_bins(b).edges()
    idx = np.clip(np.digitize(y, edges) - 1, 0, len(edges) - 2)
    return -np.mean(np.log(_softmax(z)[np.arange(len(y)), idx]))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    y = {a: rng.uniform(-99, 99, 5).astype(np.float32) for a in ANG}
    y["yaw"][0], y["pitch"][1] = 99.0, -99.0  # the range ends go to the end bins
    out = {}
    for a in ANG:
        for b in (1, 2, 3, 4):
            out[f"rvc{b}_{a}"] = rng.normal(size=(5, kdoe_bins(b).count)).astype(np.float32)
        out[f"reg_{a}"] = (99 * np.tanh(rng.normal(size=(5, 1)))).astype(np.float32)
    return y, out


def test_stage1_loss_equals_numpy(batch):
    y, out = batch
    mae = np.mean([np.abs(out[f"reg_{a}"][:, 0] - y[a]) for a in ANG])
    ces = [sum(_ce_np(y[a], out[f"rvc{b}_{a}"], b) for a in ANG) for b in (1, 2, 3, 4)]
    got = L.stage1_loss(y, out)
    np.testing.assert_allclose(got["loss"].numpy(), (mae + sum(ces)) / 5.0, rtol=1e-5)
    np.testing.assert_allclose(got["loss_rvc4"].numpy(), ces[3], rtol=1e-5)


def test_bin4_uses_50_bins_over_pm100():
    assert kdoe_bins(4).count == 50
    np.testing.assert_allclose(kdoe_bins(4).centres()[[0, -1]], [-98, 98])


@pytest.mark.parametrize("w", [0.05, 1.0])
def test_kd_loss_equals_numpy(batch, w):
    y, out = batch
    rng = np.random.default_rng(1)
    logits = {a: out[f"rvc1_{a}"] for a in ANG}
    teacher = {a: _softmax(rng.normal(size=(5, 198)) * 3).astype(np.float32) for a in ANG}
    teacher["roll"][0] = 0.0
    teacher["roll"][0, 7] = 1.0  # a one-hot row: 0 log 0 = 0
    kl = sum(np.mean(np.sum(np.where(teacher[a] > 0, teacher[a] * (np.log(np.maximum(teacher[a], 1e-30))
                                                                     - np.log(_softmax(logits[a]))), 0), -1))
             for a in ANG)
    ce = sum(_ce_np(y[a], logits[a], 1) for a in ANG)
    got = L.kd_loss(y, logits, teacher, ce_weight=w)
    np.testing.assert_allclose(got["loss"].numpy(), (w * ce + kl) / 2.0, rtol=1e-5)
    assert np.isfinite(got["loss"].numpy())


def test_kl_is_zero_for_the_student_itself():
    z = np.random.default_rng(2).normal(size=(3, 198)).astype(np.float32)
    assert abs(float(L.kl_divergence(tf.nn.softmax(z), z))) < 1e-5
