"""Mean 3-D face estimation (Eq. 2's X) from 2-D landmarks + poses: recovers the synthetic heads' 3-D landmarks."""
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.data import crops, records, synthetic
from hmtl_tf.mnn import mean_face as MF


def views(heads, n, seed, noise_px=0.0, size=450):
    """n images of the given heads (cycled) at random poses/scales/translations: (landmarks (n, 68, 2), ypr)."""
    rng = np.random.default_rng(seed)
    lms, yprs = [], []
    for i in range(n):
        ypr = rng.uniform([-80, -40, -30], [80, 40, 30])
        s = rng.uniform(0.8, 1.6) * size / 3 / synthetic.UNIT
        pp = [*np.radians([ypr[1], ypr[0], ypr[2]]), rng.uniform(150, 300), rng.uniform(150, 300), 0.0, s]
        lm = synthetic.project_pose_para(heads[i % len(heads)], pp, size)[:, :2]
        lms.append(lm + rng.normal(scale=noise_px, size=lm.shape) if noise_px else lm)
        yprs.append(ypr)
    return np.array(lms), np.array(yprs)


def rms(a, b):
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, -1))))


def test_one_identity_is_recovered_exactly():
    head = synthetic.head_landmarks_3d(synthetic.sample_head(np.random.default_rng(0)))
    lm, ypr = views([head], 40, seed=1)
    est = MF.estimate_mean_face(lm, ypr)
    assert rms(est.points, MF.normalise(head)) < 1e-5          # units of the face's RMS radius
    assert est.rms_residual < 1e-5
    assert est.points.mean(0) == pytest.approx(np.zeros(3), abs=1e-9)
    assert np.sqrt(np.mean(np.sum(est.points ** 2, -1))) == pytest.approx(1.0)


def test_many_identities_give_the_mean_face():
    """Expected error: the identities' own spread around their mean, shrunk by averaging (well below it)."""
    rng = np.random.default_rng(2)
    heads = [synthetic.head_landmarks_3d(synthetic.sample_head(rng)) for _ in range(12)]
    lm, ypr = views(heads, 240, seed=3, noise_px=0.5)
    est = MF.estimate_mean_face(lm, ypr)
    truth = MF.normalise(np.mean([MF.normalise(h) for h in heads], 0))
    spread = np.mean([rms(MF.normalise(h), truth) for h in heads])
    err = rms(est.points, truth)
    assert err < 0.25 * spread, (err, spread)
    assert err < 0.02


def test_depth_is_recovered_only_with_pose_variety():
    head = synthetic.head_landmarks_3d(synthetic.sample_head(np.random.default_rng(4)))
    lm, ypr = views([head], 30, seed=5)
    flat = MF.estimate_mean_face(lm, np.zeros_like(ypr) + [0, 0, 1e-3])   # frontal labels: z unobservable
    assert np.abs(flat.points[:, 2]).max() < 1e-3
    assert rms(MF.estimate_mean_face(lm, ypr).points, MF.normalise(head)) < 1e-5


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="landmarks"):
        MF.estimate_mean_face(np.zeros((5, 68, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 3"):
        MF.estimate_mean_face(np.zeros((2, 68, 2)), np.zeros((2, 3)))


def test_from_shards_reads_landmark_records(tmp_path):
    head = synthetic.head_landmarks_3d(synthetic.sample_head(np.random.default_rng(6)))
    lm, ypr = views([head], 12, seed=7)
    jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    path = os.path.join(tmp_path, records.shard_name("train", 0, 1))
    with tf.io.TFRecordWriter(path) as w:
        for i in range(12):
            crop = crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=lm[i])
            w.write(records.encode_example(image_jpeg=jpeg, origin=(0, 0), source_size=(450, 450), ypr=ypr[i],
                                           has_roll=True, crop=crop, source_id=str(i), dataset="300w_lp",
                                           split="train", landmarks=lm[i] if i % 4 else None))
    got_lm, got_ypr = MF.read_shard_landmarks(str(tmp_path), "train")
    keep = [i for i in range(12) if i % 4]
    np.testing.assert_allclose(got_lm, lm[keep], atol=1e-3)
    np.testing.assert_allclose(got_ypr, ypr[keep], atol=1e-4)
    assert rms(MF.from_shards(str(tmp_path), "train").points, MF.normalise(head)) < 1e-4
    with pytest.raises(ValueError, match="no record with landmarks"):
        MF.read_shard_landmarks(str(tmp_path), "train", max_abs_yaw=-1.0)
