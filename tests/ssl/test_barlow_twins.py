"""Barlow Twins loss, projector and two-view augmentation (Sec. 4.3)."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.models.projector import build_projector
from hmtl_tf.ssl import bt_augment
from hmtl_tf.ssl.barlow_twins import barlow_twins_loss, cross_correlation


def reference_loss(z1, z2, lambd, eps=1e-5):
    """NumPy re-statement of the original (facebookresearch/barlowtwins main.py): BatchNorm1d(affine=False)
    in training mode on each embedding, c = bn(z1).T @ bn(z2) / B, on-diag (c_ii - 1)^2, off-diag lambd c_ij^2."""
    def bn(z):
        return (z - z.mean(0)) / np.sqrt(z.var(0) + eps)
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    on = ((np.diagonal(c) - 1) ** 2).sum()
    off = (c ** 2).sum() - (np.diagonal(c) ** 2).sum()
    return on + lambd * off


def _pair(b, d, seed):
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(b, d)).astype(np.float32)
    z2 = (0.7 * z1 + 0.5 * rng.normal(size=(b, d))).astype(np.float32)
    return z1, z2


@pytest.mark.parametrize("b,d,lambd", [(8, 4, 5e-3), (16, 32, 5e-3), (32, 8, 0.1)])
def test_loss_matches_reference(b, d, lambd):
    z1, z2 = _pair(b, d, b + d)
    got = float(barlow_twins_loss(tf.constant(z1), tf.constant(z2), lambd))
    np.testing.assert_allclose(got, reference_loss(z1.astype(np.float64), z2.astype(np.float64), lambd), rtol=1e-4)


def test_loss_fixed_values():
    """Identical embeddings: c is the correlation matrix, on-diagonal ~0 (up to eps)."""
    z = tf.constant([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    c = cross_correlation(z, z).numpy()
    np.testing.assert_allclose(c, np.diag([1 / (1 + 2e-5), 1 / (1 + 0.5e-5)]), rtol=1e-5, atol=1e-6)
    assert float(barlow_twins_loss(z, z)) < 1e-8


@pytest.mark.parametrize("which", [0, 1])
def test_loss_invariant_to_affine_rescaling(which):
    z1, z2 = _pair(32, 16, 3)
    rng = np.random.default_rng(7)
    scale = rng.uniform(0.5, 20.0, size=(1, 16)).astype(np.float32)
    shift = rng.normal(scale=50.0, size=(1, 16)).astype(np.float32)
    base = float(barlow_twins_loss(tf.constant(z1), tf.constant(z2)))
    zs = [z1, z2]
    zs[which] = zs[which] * scale + shift
    moved = float(barlow_twins_loss(tf.constant(zs[0]), tf.constant(zs[1])))
    np.testing.assert_allclose(moved, base, rtol=1e-3)


def test_loss_rejects_bad_rank():
    with pytest.raises(ValueError, match="batch, dim"):
        barlow_twins_loss(tf.zeros([4]), tf.zeros([4]))


def test_projector_shapes_and_layers():
    p = build_projector(32, units=(16, 16, 8))
    assert p(np.zeros((4, 32), np.float32)).shape == (4, 8)
    names = [l.name for l in p.layers]
    assert names.count("projector_bn1") == 1 and "projector_bn3" not in names and "projector_relu2" in names
    assert [l.units for l in p.layers if isinstance(l, tf.keras.layers.Dense)] == [16, 16, 8]


def _image(size=32, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype(np.float32))


@pytest.mark.parametrize("method", bt_augment.METHODS)
def test_two_views_eager_equals_dataset_map(method):
    img = _image()
    seed = tf.constant([3, 4], tf.int64)
    v1, v2 = bt_augment.two_views(img, seed, method)
    ds = tf.data.Dataset.from_tensors((img, seed)).map(lambda x, s: bt_augment.two_views(x, s, method))
    d1, d2 = next(iter(ds))
    np.testing.assert_allclose(v1.numpy(), d1.numpy(), atol=1e-3)
    np.testing.assert_allclose(v2.numpy(), d2.numpy(), atol=1e-3)
    for v in (v1, v2):
        assert v.shape == img.shape and v.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(v)) and float(tf.reduce_max(v)) <= 255.0
    assert not np.allclose(v1.numpy(), v2.numpy())
    w1, _ = bt_augment.two_views(img, tf.constant([3, 5], tf.int64), method)
    assert not np.allclose(v1.numpy(), w1.numpy())


def test_blur_or_resize_probability_and_shape():
    """p=0.2 overall: over many seeds about a fifth of the images change, shape kept."""
    img = _image(32, 1)
    changed = 0
    for i in range(200):
        out = bt_augment.blur_or_resize(img, tf.constant([i, 9], tf.int64))
        assert out.shape == img.shape
        changed += int(not np.allclose(out.numpy(), img.numpy()))
    assert 20 <= changed <= 60


def test_random_cutout_makes_one_square_hole():
    img = tf.fill([40, 40, 3], 100.0)
    out = bt_augment.random_cutout(img, tf.constant([1, 2], tf.int64)).numpy()
    hole = out[..., 0] == 0
    ys, xs = np.nonzero(hole)
    assert hole.sum() > 0 and hole.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)


def test_rotation_is_shared_and_square_required():
    with pytest.raises(ValueError, match="square"):
        bt_augment.two_views(tf.zeros([32, 48, 3]), tf.constant([0, 0]))
    with pytest.raises(ValueError, match="--method"):
        bt_augment.two_views(tf.zeros([32, 32, 3]), tf.constant([0, 0]), "simclr")
