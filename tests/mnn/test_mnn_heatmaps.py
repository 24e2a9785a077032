"""MNN heatmaps: Gaussian targets, spatial softmax, Eq. 3 cross-entropy, decoding and Eq. 7 NME.

Every TF function runs eagerly and inside ``tf.data.Dataset.map`` (same numbers)."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.mnn import heatmaps as H
from tests.helpers import eager_and_mapped

DECODE_TOL_PX = 1e-3  # decoding a perfect Gaussian heatmap: exact up to float32 rounding


def np_gaussians(coord, n, stride, sigma):
    c = (np.arange(n) + 0.5) * stride
    g = np.exp(-0.5 * ((c[None, None] - coord[..., None]) / sigma) ** 2)
    return g / g.sum(-1, keepdims=True)


def np_log_softmax(z):
    flat = z.reshape(z.shape[0], -1, z.shape[-1]).astype(np.float64)
    m = flat.max(1, keepdims=True)
    lse = m + np.log(np.exp(flat - m).sum(1, keepdims=True))
    return (flat - lse).reshape(z.shape)


@pytest.fixture
def landmarks():
    rng = np.random.default_rng(1)
    return rng.uniform(4.0, 28.0, (2, 5, 2)).astype(np.float32)


@pytest.mark.parametrize("stride,sigma", [(1.0, 1.0), (2.0, 1.5), (1.0, 2.5)])
def test_gaussian_targets_match_numpy_and_sum_to_one(landmarks, stride, sigma):
    n = int(32 / stride)
    eager, mapped = eager_and_mapped(lambda lm: H.gaussian_heatmaps(lm, n, n, stride, sigma), landmarks)
    want = np.einsum("blh,blw->bhwl", np_gaussians(landmarks[..., 1], n, stride, sigma),
                     np_gaussians(landmarks[..., 0], n, stride, sigma))
    np.testing.assert_allclose(eager, want, atol=1e-6)
    np.testing.assert_allclose(mapped, eager, atol=1e-7)
    np.testing.assert_allclose(eager.sum((1, 2)), 1.0, atol=1e-5)


def test_spatial_softmax_sums_to_one_and_matches_numpy():
    z = np.random.default_rng(2).normal(scale=5.0, size=(2, 8, 6, 3)).astype(np.float32)
    eager, mapped = eager_and_mapped(H.spatial_softmax, z)
    np.testing.assert_allclose(eager.sum((1, 2)), 1.0, atol=1e-5)
    np.testing.assert_allclose(eager, np.exp(np_log_softmax(z)), atol=1e-6)
    np.testing.assert_allclose(mapped, eager, atol=1e-7)


@pytest.mark.parametrize("stride,sigma", [(1.0, 1.0), (1.0, 2.0), (2.0, 1.5), (4.0, 3.0)])
def test_decoding_a_perfect_heatmap_returns_the_landmark(stride, sigma):
    """Sub-pixel positions (cell centres, cell edges, arbitrary), also next to the border."""
    size = 32.0
    n = int(size / stride)
    pts = np.array([[[10.5, 20.5], [10.0, 7.0], [3.37, 25.81], [0.9, 31.2], [17.25, 16.0]]], np.float32)
    log_h = np.log(H.gaussian_heatmaps(pts, n, n, stride, sigma).numpy() + 1e-37)
    eager, mapped = eager_and_mapped(lambda z: H.decode_heatmaps(z, stride), log_h)
    inner = np.all((pts > stride) & (pts < size - stride), -1)[0]        # border cells are not refined
    np.testing.assert_allclose(eager[0][inner], pts[0][inner], atol=DECODE_TOL_PX)
    assert np.all(np.abs(eager[0] - pts[0]) <= stride / 2 + DECODE_TOL_PX)   # border: within half a cell
    np.testing.assert_allclose(mapped, eager, atol=1e-6)


def test_decoding_logits_is_the_arg_max_plus_parabola():
    z = np.full((1, 5, 5, 1), -10.0, np.float32)
    z[0, 2, 3, 0], z[0, 2, 2, 0], z[0, 2, 4, 0] = 0.0, -1.0, -3.0         # x parabola through (-1, 0, -3)
    got = H.decode_heatmaps(z, 1.0).numpy()[0, 0]
    dx = 0.5 * (-1.0 - -3.0) / (-1.0 - 0.0 - 3.0)                         # vertex offset -0.25
    np.testing.assert_allclose(got, [3.5 + dx, 2.5], atol=1e-6)


def test_cross_entropy_matches_numpy(landmarks):
    z = np.random.default_rng(3).normal(size=(2, 16, 16, 5)).astype(np.float32)
    stride, sigma = 2.0, 1.5
    eager, mapped = eager_and_mapped(lambda a, b: H.heatmap_cross_entropy(a, b, stride, sigma), z, landmarks)
    target = np.einsum("blh,blw->bhwl", np_gaussians(landmarks[..., 1], 16, stride, sigma),
                       np_gaussians(landmarks[..., 0], 16, stride, sigma))
    want = -(target * np_log_softmax(z)).sum((1, 2))
    np.testing.assert_allclose(eager, want, rtol=1e-5)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6)


def test_cross_entropy_is_minimal_at_the_target():
    """CE(h~, h) >= CE(h~, h~) = H(h~): the loss is minimised by predicting the target heatmap."""
    lm = np.array([[[12.3, 9.8]]], np.float32)
    target = H.gaussian_heatmaps(lm, 24, 24, 1.0, 1.0)
    at_target = H.heatmap_cross_entropy(tf.math.log(target + 1e-30), lm, 1.0, 1.0).numpy()
    shifted = H.heatmap_cross_entropy(tf.math.log(H.gaussian_heatmaps(lm + 1.0, 24, 24, 1.0, 1.0) + 1e-30),
                                      lm, 1.0, 1.0).numpy()
    entropy = -np.sum(target.numpy() * np.log(target.numpy() + 1e-30))
    np.testing.assert_allclose(at_target[0, 0], entropy, rtol=1e-4)
    assert shifted[0, 0] > at_target[0, 0] + 0.5


@pytest.mark.parametrize("norm", ["height", "size"])
def test_nme_matches_numpy(norm):
    rng = np.random.default_rng(4)
    true = rng.uniform(0, 64, (3, 68, 2)).astype(np.float32)
    pred = (true + rng.normal(scale=2.0, size=true.shape)).astype(np.float32)
    mask = (rng.uniform(size=(3, 68)) > 0.2).astype(np.float32)
    mask[2] = 0.0                                                          # no annotation -> 0
    eager, mapped = eager_and_mapped(lambda a, b, c: H.nme(a, b, c, norm), pred, true, mask)
    want = np.zeros(3)
    for i in range(2):
        m = mask[i] > 0
        ext = true[i][m].max(0) - true[i][m].min(0)
        d = ext[1] if norm == "height" else np.sqrt(ext[0] * ext[1])
        want[i] = 100 * np.mean(np.linalg.norm(pred[i][m] - true[i][m], axis=-1)) / d
    np.testing.assert_allclose(eager, want, rtol=1e-5)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6)
    with pytest.raises(ValueError, match="norm"):
        H.nme(pred, true, mask, "pupils")
