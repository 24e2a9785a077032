"""KD-OE in-plane rotation with the exact label change (§4.3): labels vs the rotated image."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import angles
from hmtl_tf.data import rotation_aug as R

POSES = [(0, 0, 0), (30, -20, 10), (60, 25, -5), (-45, 10, 20)]


@pytest.mark.parametrize("ypr", POSES)
@pytest.mark.parametrize("phi", [12.0, -15.0])
def test_tf_labels_equal_numpy_eager_and_in_dataset_map(ypr, phi):
    ref = R.rotated_ypr_np(ypr, phi)
    np.testing.assert_allclose(R.rotated_ypr_tf(tf.constant(ypr, tf.float32), phi).numpy(), ref, atol=1e-4)
    ds = tf.data.Dataset.from_tensors(tf.constant(ypr, tf.float32)).map(lambda y: R.rotated_ypr_tf(y, phi))
    np.testing.assert_allclose(next(iter(ds)).numpy(), ref, atol=1e-4)


def test_tf_rotation_matrix_equals_angles_module():
    for ypr in POSES:
        np.testing.assert_allclose(R.rotation_from_ypr_tf(tf.constant(ypr, tf.float64)).numpy(),
                                   angles.rotation_from_ypr(ypr), atol=1e-12)


def test_frontal_head_roll_changes_by_phi_and_yaw_pitch_change_otherwise():
    np.testing.assert_allclose(R.rotated_ypr_np((0, 0, 4), 10), (0, 0, 14), atol=1e-9)
    moved = R.rotated_ypr_np((40, 20, 0), 15) - np.array([40, 20, 0])
    assert abs(moved[0]) > 1 and abs(moved[1]) > 1 and 12 < moved[2] < 18


@pytest.mark.parametrize("ypr", POSES)
def test_labels_are_exact_for_projected_points(ypr):
    """Orthographic projection (3DDFA, y down): rotating the projected points == projecting with new labels."""
    pts = np.random.default_rng(0).normal(size=(30, 3))

    def proj(y):
        v = pts @ angles.rotation_from_ypr(y).T
        return np.stack([v[:, 0], -v[:, 1]], 1)

    for phi in (7.0, -13.0):
        np.testing.assert_allclose(R.rotate_points_np(proj(ypr), phi, (0, 0)), proj(R.rotated_ypr_np(ypr, phi)),
                                   atol=1e-9)


def test_rotate_image_tf_equals_cv2_eager_and_in_dataset_map():
    img = np.random.default_rng(1).uniform(0, 255, (40, 50, 3)).astype(np.float32)
    ref = R.rotate_image_np(img, 12.0, (20.0, 18.0))
    got = R.rotate_image_tf(img, 12.0, (20.0, 18.0)).numpy()
    assert np.abs(got - ref)[3:-3, 3:-3].max() < 0.01
    ds = tf.data.Dataset.from_tensors(img).map(lambda x: R.rotate_image_tf(x, 12.0, (20.0, 18.0)))
    np.testing.assert_allclose(next(iter(ds)).numpy(), got, atol=1e-4)


def test_rotated_synthetic_head_matches_head_rendered_at_new_labels():
    """Render at ypr, rotate the image by phi with our op, render at the new labels: landmarks agree to
    1e-6 px; image mean absolute difference (inside a 50-px disc) is far below the controls'."""
    synthetic = pytest.importorskip("hmtl_tf.data.synthetic", reason="hmtl_tf.data.synthetic not there yet")
    params = synthetic.sample_head(np.random.default_rng(3))
    size, c = (112, 112), (56.5, 56.5)  # 1-based head origin -> (55.5, 55.5) pixel-index coordinates
    rc = (c[0] - 1, c[1] - 1)
    yy, xx = np.mgrid[:112, :112]
    disc = (xx - rc[0]) ** 2 + (yy - rc[1]) ** 2 < 50 ** 2
    for ypr, phi in [((35.0, -20.0, 5.0), 12.0), ((-50.0, 15.0, -10.0), -15.0)]:
        img, lm, _, _ = synthetic.render_head(params, ypr, size=size, center=c)
        new = R.rotated_ypr_np(ypr, phi)
        img2, lm2, _, _ = synthetic.render_head(params, new, size=size, center=c)
        np.testing.assert_allclose(R.rotate_points_np(lm - 1, phi, rc) + 1, lm2, atol=1e-6)
        rotated = R.rotate_image_tf(img.astype(np.float32), phi, rc).numpy()
        mad = np.abs(rotated - img2)[disc].mean()
        naive, _, _, _ = synthetic.render_head(params, np.add(ypr, (0, 0, phi)), size=size, center=c)
        unchanged = img.astype(np.float32)
        assert mad < 3.0, mad
        assert mad < 0.5 * np.abs(rotated - naive)[disc].mean()
        assert mad < 0.5 * np.abs(rotated - unchanged)[disc].mean()


def test_flip_negates_yaw_and_roll_and_mirrors_the_box():
    img = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    out, ypr, box = R.flip_tf(img, (10.0, 5.0, -3.0), (1.0, 0.0, 3.0, 2.0))
    np.testing.assert_allclose(out.numpy(), img[:, ::-1])
    np.testing.assert_allclose(ypr.numpy(), angles.flip_ypr((10, 5, -3)))
    np.testing.assert_allclose(box.numpy(), (1.0, 0.0, 3.0, 2.0))


def test_random_pose_augment_in_dataset_map_is_seeded_and_consistent():
    img = np.random.default_rng(2).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    ypr = np.array([20.0, 10.0, 5.0], np.float32)
    box = np.array([4.0, 4.0, 28.0, 28.0], np.float32)

    def fn(seed):
        return R.random_pose_augment_tf(img, ypr, box, seed=seed)

    ds = tf.data.Dataset.from_tensor_slices(tf.constant([[1, 2], [3, 4], [5, 6], [7, 8]], tf.int64)).map(fn)
    outs = list(ds)
    again = list(ds)
    for (i1, y1, b1), (i2, y2, b2) in zip(outs, again):
        np.testing.assert_allclose(i1.numpy(), i2.numpy())
    for _, y, b in outs:  # the label change is a rotation of a (possibly flipped) pose by at most 15 degrees
        base = ypr if b.numpy()[0] == 4.0 and abs(y[0] - ypr[0]) < 15 else angles.flip_ypr(ypr)
        rel = angles.rotation_from_ypr(y.numpy()) @ angles.rotation_from_ypr(base).T
        ang = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1)))
        assert ang <= 15.0 + 1e-3
