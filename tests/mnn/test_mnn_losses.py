"""MNN losses (Eq. 1-4) against NumPy re-statements; the alignment loss on synthetic heads with known 3-D
landmarks is zero at the true pose and grows with the pose error. TF functions eagerly and in Dataset.map."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import angles
from hmtl_tf.data import synthetic
from hmtl_tf.mnn import losses as L
from hmtl_tf.mnn import mean_face as MF
from tests.helpers import eager_and_mapped

S = 64  # model-input size of the synthetic landmarks


def synthetic_batch(n=3, seed=0):
    """n synthetic heads at random poses: (landmarks in S-px input pixels (n, 68, 2), ypr (n, 3), head (68, 3)
    landmarks of each head (n, 68, 3))."""
    rng = np.random.default_rng(seed)
    lms, yprs, heads = [], [], []
    for _ in range(n):
        head = synthetic.head_landmarks_3d(synthetic.sample_head(rng))
        ypr = rng.uniform([-70, -35, -30], [70, 35, 30])
        s = rng.uniform(0.15, 0.25) * S / synthetic.UNIT
        pose_para = [*np.radians([ypr[1], ypr[0], ypr[2]]), rng.uniform(25, 40), rng.uniform(25, 40), 0.0, s]
        lms.append(synthetic.project_pose_para(head, pose_para, S)[:, :2])
        yprs.append(ypr)
        heads.append(head)
    return np.array(lms, np.float32), np.array(yprs), np.array(heads)


@pytest.mark.parametrize("ypr", [(0, 0, 0), (30, -20, 10), (-75, 40, -35), (5, 85, 60)])
def test_rotation_matches_angles_py(ypr):
    eager, mapped = eager_and_mapped(L.rotation_from_ypr_tf, np.array([ypr], np.float32))
    np.testing.assert_allclose(eager[0], angles.rotation_from_ypr(ypr), atol=1e-6)
    np.testing.assert_allclose(mapped, eager, atol=1e-7)


def test_projection_matches_synthetic_3ddfa_projection():
    """pi(p, X) = s F R X + t reproduces project_pose_para (x, h + 1 - V_y) with t = (tx, h + 1 - ty)."""
    rng = np.random.default_rng(5)
    head = synthetic.head_landmarks_3d(synthetic.sample_head(rng))
    ypr, s, tx, ty = np.array([25.0, -15.0, 8.0]), 3e-4, 31.0, 29.0
    pose_para = [*np.radians([ypr[1], ypr[0], ypr[2]]), tx, ty, 0.0, s]
    want = synthetic.project_pose_para(head, pose_para, S)[:, :2]
    fn = lambda x, a, sc, t: L.project(x, a, sc, t)  # noqa: E731
    args = (head.astype(np.float32), ypr[None].astype(np.float32), np.array([s], np.float32),
            np.array([[tx, S + 1.0 - ty]], np.float32))
    eager, mapped = eager_and_mapped(fn, *args)
    np.testing.assert_allclose(eager[0], want, atol=1e-3)
    np.testing.assert_allclose(mapped, eager, atol=1e-5)


def test_ae_parameters_round_trip():
    ypr, s, t = np.array([[10.0, -5.0, 3.0]]), np.array([0.31]), np.array([[0.45, 0.6]])
    got = [np.asarray(v) for v in L.decode_ae(tf.constant(L.encode_ae(ypr, s, t)))]
    for g, w in zip(got, (ypr, s, t)):
        np.testing.assert_allclose(g, w, rtol=1e-5)


def true_ae(lm, ypr, points):
    """The exact (scale, translation) of the head's normalised 3-D landmarks -> raw p^AE."""
    s, t = MF.fit_scale_translation(lm / S, points, MF.projection_rows(ypr))
    return L.encode_ae(ypr, s, t)


def test_alignment_loss_is_zero_at_the_true_pose_and_grows_with_the_error():
    lm, ypr, heads = synthetic_batch(1, seed=3)
    points = MF.normalise(heads[0]).astype(np.float32)
    mask = np.ones((1, 68), np.float32)
    fn = lambda a, r, x, m: L.alignment_loss(a, r, x, m)  # noqa: E731
    losses = []
    for err in (0.0, 2.0, 5.0, 10.0, 20.0):
        for axis in range(3):
            wrong = ypr.copy()
            wrong[0, axis] += err
            raw = L.encode_ae(wrong, *MF.fit_scale_translation(lm / S, points, MF.projection_rows(ypr)))
            eager, mapped = eager_and_mapped(fn, lm / S, raw, points, mask)
            np.testing.assert_allclose(mapped, eager, atol=1e-6)
            losses.append((err, axis, float(eager[0]) * L.AE_UNIT))
    zero = [v for e, _, v in losses if e == 0]
    assert max(zero) < 2e-3, zero                                    # 256-px pixels (float32 rounding + the eps)
    for axis in range(3):
        seq = [v for e, a, v in losses if a == axis]
        assert all(b > a for a, b in zip(seq, seq[1:])), seq         # monotone in the pose error


def test_alignment_loss_matches_numpy_and_masks():
    lm, ypr, heads = synthetic_batch(3, seed=7)
    points = MF.synthetic_mean_face(8).astype(np.float32)
    rng = np.random.default_rng(0)
    raw = (true_ae(lm, ypr, points) + rng.normal(scale=0.05, size=(3, 6))).astype(np.float32)
    mask = (rng.uniform(size=(3, 68)) > 0.3).astype(np.float32)
    lm_bad = lm.copy()
    lm_bad[mask == 0] = np.nan                                       # unannotated points never reach the loss
    got = L.alignment_loss(tf.constant(lm_bad / S), tf.constant(raw), tf.constant(points), tf.constant(mask)).numpy()
    ypr_p = raw[:, :3] * 45.0
    s = L.AE_SCALE0 * np.exp(raw[:, 3])
    t = 0.5 + raw[:, 4:6]
    want = []
    for i in range(3):
        proj = s[i] * points @ angles.rotation_from_ypr(ypr_p[i])[:2].T * [1, -1] + t[i]
        err = np.linalg.norm(proj - lm[i] / S, axis=-1)
        want.append(np.sum(mask[i] * err) / mask[i].sum())
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_euclidean_pose_loss_matches_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-90, 90, (2, 4, 3)).astype(np.float32)
    eager, mapped = eager_and_mapped(L.euclidean_pose_loss, a, b)
    np.testing.assert_allclose(eager, np.linalg.norm(a - b, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6)
    g = tf.Variable(a)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(L.euclidean_pose_loss(a, g))
    assert np.all(np.isfinite(tape.gradient(loss, g).numpy()))      # finite at a zero error


def test_visibility_loss_matches_numpy():
    rng = np.random.default_rng(2)
    vis = (rng.uniform(size=(2, 68)) > 0.3).astype(np.float32)
    z = rng.normal(size=(2, 68)).astype(np.float32)
    mask = np.ones((2, 68), np.float32)
    mask[1, :30] = 0
    eager, mapped = eager_and_mapped(L.visibility_loss, vis, z, mask)
    p = 1 / (1 + np.exp(-z))
    ce = -(vis * np.log(p) + (1 - vis) * np.log(1 - p))
    np.testing.assert_allclose(eager, (mask * ce).sum(1) / mask.sum(1), rtol=1e-5)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6)


def test_heatmap_loss_is_the_masked_mean_of_eq3():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 16, 16, 68)).astype(np.float32)
    lm = rng.uniform(1, 15, (2, 68, 2)).astype(np.float32)
    mask = (rng.uniform(size=(2, 68)) > 0.5).astype(np.float32)
    from hmtl_tf.mnn import heatmaps as H
    per = H.heatmap_cross_entropy(z, lm, 1.0, 1.0).numpy()
    eager, mapped = eager_and_mapped(lambda a, b, c: L.heatmap_loss(a, b, c, 1.0, 1.0), z, lm, mask)
    np.testing.assert_allclose(eager, (mask * per).sum(1) / mask.sum(1), rtol=1e-5)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6)


def test_landmark_mask_and_masked_batch_mean():
    lm = np.array([[[1.0, 1.0], [-0.5, 3.0], [63.9, 0.0], [64.0, 5.0]],
                   [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [np.nan, 4.0]]], np.float32)
    eager, mapped = eager_and_mapped(lambda a, p: L.landmark_mask(a, 64, p), lm, np.array([1.0, 0.0], np.float32))
    np.testing.assert_array_equal(eager, [[1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(mapped, eager)
    got = L.masked_batch_mean(tf.constant([2.0, 4.0, 100.0]), tf.constant([1.0, 1.0, 0.0])).numpy()
    assert got == pytest.approx(3.0)
    assert L.masked_batch_mean(tf.constant([5.0]), tf.constant([0.0])).numpy() == 0.0


def test_present_from_targets():
    y = {"visibility": tf.constant([[0.0, 1.0], [0.0, 0.0]])}
    np.testing.assert_array_equal(L.present_from_targets(y).numpy(), [1, 0])
    y["landmarks_present"] = tf.constant([0, 1])
    np.testing.assert_array_equal(L.present_from_targets(y).numpy(), [0, 1])
