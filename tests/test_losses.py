"""Losses (Eq. 1-3) and metrics against NumPy re-statements; each op eagerly and inside Dataset.map."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import losses, metrics
from hmtl_tf.bins import hopenet_bins
from tests.helpers import run_in_map

RNG = np.random.default_rng(7)


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_ce(labels, logits):
    return -np.log(np_softmax(logits)[np.arange(len(labels)), labels])


def np_hopenet(logits, y, bin_size, alpha, reg, decode):
    """Eq. 2 for one angle, restated: CE(bin(y)) + alpha * RMSE (or MSE) of the softmax expectation."""
    b = hopenet_bins(bin_size)
    labels = np.digitize(y, np.arange(-99, 99 + bin_size, bin_size)) - 1
    values = -99 + bin_size * np.arange(b.count) + (bin_size / 2 if decode == "centre" else 0.0)
    e = np_softmax(logits) @ values
    ms = np.mean((y - e) ** 2)
    return np_ce(labels, logits).mean() + alpha * (np.sqrt(ms) if reg == "rmse" else ms)


@pytest.mark.parametrize("decode", ["left_edge", "centre"])
@pytest.mark.parametrize("bin_size", [3, 1])
def test_hopenet_expectation_matches_numpy(decode, bin_size):
    b = hopenet_bins(bin_size)
    logits = RNG.normal(0, 2, (5, b.count)).astype(np.float32)
    values = b.decode_values(decode)
    want = np_softmax(logits.astype(np.float64)) @ values
    np.testing.assert_allclose(losses.hopenet_expectation(logits, values).numpy(), want, rtol=1e-5, atol=1e-4)
    got = run_in_map(lambda z: losses.hopenet_expectation(z, values), logits)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_hopenet_expectation_reference_values():
    """One-hot at bin i -> -99 + 3i (left edge, HopeNet) or -97.5 + 3i (centre); uniform -> -1.5 / 0 (DATA_FACTS 2.4)."""
    b = hopenet_bins(3)
    onehot = np.full((3, 66), -1e4, np.float32)
    onehot[[0, 1, 2], [0, 33, 65]] = 0.0
    np.testing.assert_allclose(losses.hopenet_expectation(onehot, b.decode_values("left_edge")), [-99, 0, 96])
    np.testing.assert_allclose(losses.hopenet_expectation(onehot, b.decode_values("centre")), [-97.5, 1.5, 97.5])
    uniform = np.zeros((1, 66), np.float32)
    np.testing.assert_allclose(losses.hopenet_expectation(uniform, b.decode_values("left_edge")), [-1.5], atol=1e-4)
    np.testing.assert_allclose(losses.hopenet_expectation(uniform, b.decode_values("centre")), [0.0], atol=1e-4)


@pytest.mark.parametrize("reg", ["rmse", "mse"])
@pytest.mark.parametrize("decode", ["left_edge", "centre"])
@pytest.mark.parametrize("bin_size", [3, 1])
def test_hopenet_loss_matches_eq2(reg, decode, bin_size):
    b = hopenet_bins(bin_size)
    logits = RNG.normal(0, 2, (6, b.count)).astype(np.float32)
    y = RNG.uniform(-98.9, 98.9, 6).astype(np.float32)
    want = np_hopenet(logits.astype(np.float64), y.astype(np.float64), bin_size, 2.0, reg, decode)
    got = losses.hopenet_loss(logits, y, b, alpha=2.0, reg_loss=reg, decode=decode).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    mapped = run_in_map(lambda z, t: losses.hopenet_loss(z, t, b, 2.0, reg, decode), logits, y)
    np.testing.assert_allclose(mapped, want, rtol=1e-5)


def test_rmse_mse_match_numpy_eagerly_and_in_map():
    # Fixed values (not the shared RNG, whose draws depend on test order): the halves' errors differ
    # (1 vs 10 degrees), so the mean of the per-half RMSEs (5.5) is far from the global RMSE (sqrt 50.5).
    y = np.array([3.0, -7.0, 12.0, 0.0, 20.0, -15.0, 5.0, 1.0], np.float32)
    p = y + np.array([1.0, -1.0, 1.0, -1.0, 10.0, -10.0, 10.0, -10.0], np.float32)
    ms = np.mean((y.astype(np.float64) - p) ** 2)
    np.testing.assert_allclose(losses.mse(y, p).numpy(), ms, rtol=1e-5)
    np.testing.assert_allclose(losses.rmse(y, p).numpy(), np.sqrt(ms), rtol=1e-5)
    np.testing.assert_allclose(run_in_map(losses.rmse, y, p), np.sqrt(ms), rtol=1e-5)
    x = tf.Variable(y)  # zero error: the square root still has a finite gradient (RMSE_EPS)
    with tf.GradientTape() as tape:
        r = losses.rmse(y, x)
    assert np.all(np.isfinite(tape.gradient(r, x).numpy()))


def test_rmse_uses_global_batch_statistics():
    """With a global_sum that adds the other replica's (sum, count), a half batch gives the full batch's RMSE."""
    # Fixed values (not the shared RNG, whose draws depend on test order): the halves' errors differ
    # (1 vs 10 degrees), so the mean of the per-half RMSEs (5.5) is far from the global RMSE (sqrt 50.5).
    y = np.array([3.0, -7.0, 12.0, 0.0, 20.0, -15.0, 5.0, 1.0], np.float32)
    p = y + np.array([1.0, -1.0, 1.0, -1.0, 10.0, -10.0, 10.0, -10.0], np.float32)
    other = tf.constant([np.sum((p[4:] - y[4:]) ** 2), 4.0], tf.float32)
    got = losses.rmse(y[:4], p[:4], global_sum=lambda s: s + other).numpy()
    np.testing.assert_allclose(got, np.sqrt(np.mean((p - y) ** 2)), rtol=1e-5)
    local_mean = 0.5 * (losses.rmse(y[:4], p[:4]) + losses.rmse(y[4:], p[4:])).numpy()
    np.testing.assert_allclose(local_mean, 5.5, rtol=1e-6)  # the per-replica average is NOT the global RMSE
    np.testing.assert_allclose(got, np.sqrt(50.5), rtol=1e-6)


def test_ssl_cross_entropy_is_sum_of_mean_ces():
    logits = [RNG.normal(0, 1, (5, 9)).astype(np.float32) for _ in range(9)]
    labels = [RNG.integers(0, 9, 5).astype(np.int32) for _ in range(9)]
    want = sum(np_ce(t, z.astype(np.float64)).mean() for t, z in zip(labels, logits))
    np.testing.assert_allclose(losses.ssl_cross_entropy(labels, logits).numpy(), want, rtol=1e-5)
    mapped = run_in_map(lambda ts, zs: losses.ssl_cross_entropy(tf.unstack(ts), tf.unstack(zs)),
                        np.stack(labels), np.stack(logits))
    np.testing.assert_allclose(mapped, want, rtol=1e-5)
    with pytest.raises(ValueError, match="as many labels"):
        losses.ssl_cross_entropy(labels[:2], logits[:3])


def test_eq1_total_fixed_weighting():
    """Eq. 1/3: RMSE_yaw + RMSE_pitch + C * sum of SSL CEs."""
    y = {a: RNG.normal(0, 20, 6).astype(np.float32) for a in ("yaw", "pitch")}
    p = {a: RNG.normal(0, 20, 6).astype(np.float32) for a in ("yaw", "pitch")}
    z = [RNG.normal(0, 1, (6, 4)).astype(np.float32) for _ in range(4)]
    t = [RNG.integers(0, 4, 6) for _ in range(4)]
    task = {a: losses.rmse(y[a], p[a]) for a in y}
    task["ssl"] = losses.ssl_cross_entropy(t, z)
    want = sum(np.sqrt(np.mean((p[a] - y[a]) ** 2.0)) for a in y) + 50 * sum(np_ce(l, s).mean() for l, s in zip(t, z))
    got = losses.combine_losses(task, "fixed", {"ssl": 50.0}).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_uncertainty_and_geometric_weightings():
    task = {"yaw": tf.constant(3.0), "pitch": tf.constant(5.0), "ssl": tf.constant(0.7)}
    s = {"yaw": tf.constant(0.2), "pitch": tf.constant(-0.4), "ssl": tf.constant(1.1)}
    want = np.exp(-0.2) * 3 + 0.2 + np.exp(0.4) * 5 - 0.4 + np.exp(-1.1) * 50 * 0.7 + 1.1
    got = losses.combine_losses(task, "uncertainty", {"ssl": 50.0}, s).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(losses.combine_losses(task, "geometric").numpy(), (3 * 5 * 0.7) ** (1 / 3), rtol=1e-6)
    with pytest.raises(ValueError, match="log-variance"):
        losses.combine_losses(task, "uncertainty")
    with pytest.raises(ValueError, match="loss_weighting"):
        losses.combine_losses(task, "sum")


def test_mae_per_angle_and_mean():
    y = {a: RNG.normal(0, 30, 7) for a in ("yaw", "pitch", "roll")}
    p = {a: RNG.normal(0, 30, 7) for a in ("yaw", "pitch", "roll")}
    maes = metrics.mae_per_angle(y, p)
    for a in y:
        np.testing.assert_allclose(maes[a].numpy(), np.mean(np.abs(p[a] - y[a])), rtol=1e-5)
    want = np.mean([np.mean(np.abs(p[a] - y[a])) for a in y])
    np.testing.assert_allclose(metrics.mean_mae(maes).numpy(), want, rtol=1e-5)
    mapped = run_in_map(lambda t, q: metrics.absolute_errors(t, q), y["yaw"], p["yaw"])
    np.testing.assert_allclose(mapped, np.abs(p["yaw"] - y["yaw"]), rtol=1e-5)
    with pytest.raises(ValueError, match="roll"):
        metrics.mae_per_angle({"yaw": y["yaw"]}, p, angles=("yaw", "roll"))
