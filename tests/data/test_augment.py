"""Augmentations: flip labels (DATA_FACTS 1.5), iBUG-68 permutation, NumPy re-statements, eager == map."""
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from hmtl_tf import angles
from hmtl_tf.data import augment as aug
from tests.helpers import run_in_map

SEED = tf.constant([3, 1], tf.int64)


def _image(size=64, seed=0):
    return tf.constant(np.random.RandomState(seed).uniform(0, 255, (size, size, 3)).astype(np.float32))


def test_ibug68_flip_is_an_involution_with_the_axis_points_fixed():
    p = aug.IBUG68_FLIP
    assert sorted(p.tolist()) == list(range(68))
    np.testing.assert_array_equal(p[p], np.arange(68))
    assert set(np.flatnonzero(p == np.arange(68))) == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert p[0] == 16 and p[17] == 26 and p[36] == 45 and p[39] == 42 and p[48] == 54 and p[60] == 64


def test_flip_labels_landmarks_and_rotation_matrix():
    img = _image(8)
    lm = np.random.RandomState(1).uniform(0, 8, (68, 2)).astype(np.float32)
    vis = (np.arange(68) % 3 == 0).astype(np.float32)
    ypr = np.array([30.0, -20.0, 10.0], np.float32)
    f_img, f_ypr, f_lm, f_vis = aug.flip(img, ypr, lm, vis)
    np.testing.assert_array_equal(f_img.numpy(), img.numpy()[:, ::-1])
    np.testing.assert_allclose(f_ypr.numpy(), [-30.0, -20.0, -10.0])
    np.testing.assert_allclose(f_lm.numpy()[:, 0], 8.0 - lm[aug.IBUG68_FLIP, 0])
    np.testing.assert_allclose(f_lm.numpy()[:, 1], lm[aug.IBUG68_FLIP, 1])
    np.testing.assert_array_equal(f_vis.numpy(), vis[aug.IBUG68_FLIP])
    # mirroring the rotation: diag(-1, 1, 1) R diag(-1, 1, 1) == R(-yaw, pitch, -roll) (DATA_FACTS 1.5)
    m = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(m @ angles.rotation_from_ypr(ypr) @ m, angles.rotation_from_ypr(f_ypr.numpy()),
                               atol=1e-6)
    twice = aug.flip(f_img, f_ypr, f_lm, f_vis)
    np.testing.assert_allclose(twice[2].numpy(), lm, atol=1e-5)
    np.testing.assert_allclose(twice[1].numpy(), ypr)


def test_random_flip_flips_about_half_and_consistently():
    img, ypr = _image(8), tf.constant([10.0, 5.0, 3.0])
    flipped = 0
    for s in range(40):
        out, y, _, _ = aug.random_flip(img, ypr, tf.constant([s, 0], tf.int64))
        is_flip = bool(y[0] < 0)
        flipped += is_flip
        np.testing.assert_array_equal(out.numpy(), img.numpy()[:, ::-1] if is_flip else img.numpy())
    assert 8 <= flipped <= 32


def test_gaussian_blur_matches_scipy():
    img = _image(32)
    out = aug.gaussian_blur(img, 1.2, 4).numpy()
    ref = np.stack([ndimage.gaussian_filter(img.numpy()[..., c], 1.2, mode="mirror", truncate=4 / 1.2)
                    for c in range(3)], axis=-1)
    np.testing.assert_allclose(out, ref, atol=1e-2)


def test_central_zoom_and_zoom_box_agree_on_a_ramp():
    x = np.arange(64, dtype=np.float32)
    ramp = tf.constant(np.broadcast_to(x[None, :, None], (64, 64, 3)).copy())
    out = aug.central_zoom(ramp, 2.0).numpy()
    # the central half [16, 48) (pixel-index coords 15.5 .. 47.5 in align-corners sampling) across 64 px
    np.testing.assert_allclose(out[0, [0, -1], 0], [15.75, 47.25], atol=1e-4)
    np.testing.assert_allclose(aug.zoom_box([10.0, 20.0, 50.0, 100.0], 2.0).numpy(), [20.0, 40.0, 40.0, 80.0])


def test_cutout_downscale_and_contrast_restatements():
    img = tf.fill([32, 32, 3], 100.0)
    out = aug.cutout(img, tf.constant([16.0, 16.0]), 10.0).numpy()
    assert (out[..., 0] == 0).sum() == 100 and out[16, 16, 0] == 0 and out[0, 0, 0] == 100
    np.testing.assert_allclose(aug.downscale(img, 0.5).numpy(), img.numpy())  # flat image unchanged
    x = _image(16)
    c = aug.random_contrast(x, SEED).numpy()
    f = (c - x.numpy().mean((0, 1))) / (x.numpy() - x.numpy().mean((0, 1)))
    assert np.allclose(f, f.flat[0], atol=1e-3) and 0.7 <= f.flat[0] <= 1.3  # one factor (x - mean) * f + mean


OPS = {
    "zoom": lambda x, s: aug.random_zoom(x, s),
    "contrast": lambda x, s: aug.random_contrast(x, s),
    "blur": lambda x, s: aug.random_blur(x, s, aug.AugParams(blur_prob=1.0)),
    "downscale": lambda x, s: aug.random_downscale(x, s, aug.AugParams(downscale_prob=1.0)),
    "cutout": lambda x, s: aug.random_cutout(x, s, aug.AugParams(cutout_prob=1.0)),
    "noise": lambda x, s: aug.random_noise(x, s, aug.AugParams(noise_prob=1.0)),
    "hue": lambda x, s: aug.random_hue(x, s),
    "brightness": lambda x, s: aug.random_brightness(x, s),
    "level1": lambda x, s: aug.augment(x, s, 1),
    "level2": lambda x, s: aug.augment(x, s, 2),
    "heavy": lambda x, s: aug.augment(x, s, 0, heavy=True),
    "hue_flag": lambda x, s: aug.augment(x, s, 1, hue=True),
    "flip": lambda x, s: aug.random_flip(x, tf.constant([1.0, 2.0, 3.0]), s)[:2],
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_eager_equals_dataset_map_and_depends_on_seed(name):
    x = _image(32, 7)
    eager = OPS[name](x, SEED)
    mapped = run_in_map(lambda im: OPS[name](im, SEED), x)
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-3),
                          eager, mapped)
    first = tf.nest.flatten(eager)[0]
    assert first.shape == x.shape and first.dtype == tf.float32
    outs = [tf.nest.flatten(OPS[name](x, tf.constant([s, 9], tf.int64)))[0].numpy() for s in range(4)]
    assert any(not np.allclose(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("level,heavy,hue", [(0, False, False), (1, False, False), (2, False, True), (0, True, False)])
def test_augment_keeps_range_and_level0_is_identity(level, heavy, hue):
    x = _image(32, 3)
    out = aug.augment(x, SEED, level, heavy, hue).numpy()
    assert out.shape == (32, 32, 3) and out.min() >= 0.0 and out.max() <= 255.0
    if (level, heavy, hue) == (0, False, False):
        np.testing.assert_array_equal(out, x.numpy())
