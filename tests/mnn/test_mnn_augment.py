"""MNN's augmentation set (their Sec. 4.2, ``hmtl_tf.data.mnn_augment``): each function against a NumPy re-statement,
eagerly and inside ``Dataset.map``; through the pipeline, translation moves the landmark targets by the same pixels
as the image content, occlusions zero the covered landmarks' visibility, and the set is off unless configured."""
import colorsys

import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.config import ConfigError, MNNConfig, make_config
from hmtl_tf.data import pipeline
from hmtl_tf.data import mnn_augment as A
from tests.helpers import eager_and_mapped

S = 64


def seed_of(i):
    return np.array([7, i], np.int64)


# ----------------------------------------------------------------------------- HSV
def np_scale_hsv(image, f):
    out = np.zeros_like(image, np.float64)
    for idx in np.ndindex(image.shape[:2]):
        h, s, v = colorsys.rgb_to_hsv(*(np.clip(image[idx], 0, 255) / 255.0))
        out[idx] = colorsys.hsv_to_rgb((h * f[0]) % 1.0, min(max(s * f[1], 0.0), 1.0), min(max(v * f[2], 0.0), 1.0))
    return out * 255.0


@pytest.mark.parametrize("factors", [(0.5, 1.5, 0.7), (1.4, 0.6, 1.5), (1.0, 1.0, 1.0)])
def test_scale_hsv_matches_colorsys(factors):
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 7, 3)).astype(np.float32)
    f = np.array(factors, np.float32)
    eager, mapped = eager_and_mapped(A.scale_hsv, image, f)
    want = np_scale_hsv(image, f)
    np.testing.assert_allclose(eager, want, atol=0.05)
    np.testing.assert_allclose(mapped, eager, atol=1e-4)


def test_hsv_factors_in_range_and_stateless():
    fs = np.array([A.hsv_factors(tf.constant(seed_of(i)), 0.5, 1.5).numpy() for i in range(200)])
    assert fs.min() >= 0.5 and fs.max() <= 1.5 and fs.min() < 0.55 and fs.max() > 1.45
    np.testing.assert_array_equal(A.hsv_factors(tf.constant(seed_of(3)), 0.5, 1.5).numpy(), fs[3])
    assert not np.allclose(fs[:, 0], fs[:, 1])                     # an independent multiplier per channel
    _, mapped = eager_and_mapped(lambda s: A.hsv_factors(s, 0.5, 1.5), seed_of(3))
    np.testing.assert_array_equal(mapped, fs[3])


# ----------------------------------------------------------------------------- occlusion
def np_occlude(image, rect, colour, lm, vis):
    out, v = image.copy(), vis.copy()
    x0, y0, x1, y1 = rect
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            if x0 <= c < x1 and y0 <= r < y1:
                out[r, c] = colour
    for i, (x, y) in enumerate(lm):
        if x0 <= x < x1 and y0 <= y < y1:
            v[i] = 0.0
    return out, v


def test_occlude_matches_numpy():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (S, S, 3)).astype(np.float32)
    lm = rng.uniform(-5, S + 5, (68, 2)).astype(np.float32)
    vis = (rng.uniform(size=68) < 0.8).astype(np.float32)
    rect = np.array([10, 20, 41, 37], np.float32)
    colour = np.array([12.0, 200.0, 90.0], np.float32)
    eager, mapped = eager_and_mapped(lambda i, r, c, l, v: A.occlude(i, r, c, l, v), image, rect, colour, lm, vis)
    want_img, want_vis = np_occlude(image, rect, colour, lm, vis)
    np.testing.assert_array_equal(eager[0], want_img)
    np.testing.assert_array_equal(eager[1], want_vis)
    assert want_vis.sum() < vis.sum()                               # some visible landmark was covered
    for e, m in zip(eager, mapped):
        np.testing.assert_array_equal(m, e)
    off = A.occlude(image, rect, colour, lm, vis, active=False)
    np.testing.assert_array_equal(off[0].numpy(), image)
    np.testing.assert_array_equal(off[1].numpy(), vis)


def test_occlusion_rectangle_draws():
    rects = np.array([A.occlusion_rectangle(tf.constant(seed_of(i)), S, (0.1, 0.5)).numpy() for i in range(300)])
    side = rects[:, 2:] - rects[:, :2]
    assert np.all(rects == np.round(rects))                         # whole pixels
    assert side.min() >= round(0.1 * S) - 1 and side.max() <= round(0.5 * S) + 1
    centre = (rects[:, :2] + rects[:, 2:]) / 2
    assert centre.min() > -1 and centre.max() < S + 1 and centre.std() > S / 5


@pytest.mark.parametrize("prob,expect", [(0.0, 0), (1.0, 1)])
def test_random_occlusion_probability(prob, expect):
    image = np.full((S, S, 3), 128.0, np.float32)
    for i in range(5):
        out, _ = A.random_occlusion(tf.constant(image), tf.constant(seed_of(i)), prob, (0.3, 0.5))
        assert int(np.any(out.numpy() != 128.0)) == expect


def test_occlusion_frequency_near_prob():
    image = np.full((16, 16, 3), 128.0, np.float32)
    hits = [np.any(A.random_occlusion(tf.constant(image), tf.constant(seed_of(i)), 0.5, (0.3, 0.5))[0].numpy()
                   != 128.0) for i in range(200)]
    assert 0.38 < np.mean(hits) < 0.62


# ----------------------------------------------------------------------------- geometry draws
def test_scale_and_translation_draws():
    z = np.array([A.scale_factor(tf.constant(seed_of(i)), 0.15).numpy() for i in range(300)])
    t = np.array([A.translation(tf.constant(seed_of(i)), S, 0.05).numpy() for i in range(300)])
    assert z.min() >= 0.85 and z.max() <= 1.15 and z.min() < 0.87 and z.max() > 1.13
    assert np.abs(t).max() <= 0.05 * S and np.abs(t).max() > 0.045 * S
    assert abs(np.corrcoef(t[:, 0], t[:, 1])[0, 1]) < 0.2            # independent axes
    cfg = MNNConfig()
    zoom, shift = A.crop_jitter(tf.constant(seed_of(4)), S, cfg, zoom=1.1)
    assert float(zoom) == pytest.approx(1.1 * z[4], rel=1e-6)
    np.testing.assert_allclose(np.array([float(v) for v in shift]), -t[4], rtol=1e-6)
    _, mapped = eager_and_mapped(lambda s: A.translation(s, S, 0.05), seed_of(4))
    np.testing.assert_array_equal(mapped, t[4])


# ----------------------------------------------------------------------------- through the pipeline
def blob_record(tmp_path=None):
    """A 300W-LP-like record: black 220x220 image with one bright Gaussian blob on landmark 30."""
    from hmtl_tf.data.convert import encode_sample
    from hmtl_tf.data.sample import RawSample

    yy, xx = np.mgrid[0:220, 0:220].astype(np.float64)
    c = np.array([104.0, 112.0])                                    # blob centre, pixel-index coordinates
    img = 255.0 * np.exp(-0.5 * ((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / 3.0 ** 2)
    ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    lm = np.stack([110 + 45 * np.cos(ang), 110 + 45 * np.sin(ang)], 1)
    lm[30] = c + 0.5                                                # continuous coordinates: pixel i spans [i, i+1)
    sample = RawSample(source_id="AFW/blob_0", dataset="300w_lp", ypr=np.zeros(3),
                       load_image=lambda: np.repeat(img[..., None], 3, -1).astype(np.uint8), pt2d=lm,
                       landmarks68=lm, visibility68=np.ones(68, np.float32))
    record, _ = encode_sample(sample, "train", "hopenet", 100)
    return record


def mnn_cfg(**mnn):
    cfg = make_config("smoke", {"model.family": "mnn", "data.aug_level": 0, "data.flip": False,
                                "mnn.augment": True, "mnn.scale": 0.0, "mnn.hsv": (1.0, 1.0),
                                "mnn.occlusion_prob": 0.0})
    for k, v in mnn.items():
        setattr(cfg.mnn, k, v)
    return cfg.validate()


def centroid(image):
    g = image.mean(-1).astype(np.float64)
    g = np.where(g > 20, g, 0.0)
    ys, xs = np.mgrid[0:g.shape[0], 0:g.shape[1]] + 0.5
    return np.array([(g * xs).sum() / g.sum(), (g * ys).sum() / g.sum()])


def run_fn(cfg, record, seeds):
    """example_fn on ``record`` for each seed inside one tf.data map (one trace); eagerly for the first seed,
    which must agree. Returns [(image, targets)] as NumPy."""
    fn = pipeline.example_fn(cfg, training=True, with_landmarks=True)
    seeds = np.atleast_2d(np.asarray(seeds, np.int64))
    ds = tf.data.Dataset.from_tensor_slices(seeds).map(lambda sd: fn(tf.constant(record), sd))
    out = [(img.numpy(), {k: v.numpy() for k, v in y.items()}) for img, y in ds]
    eager = fn(tf.constant(record), tf.constant(seeds[0]))
    np.testing.assert_allclose(out[0][0], eager[0].numpy(), atol=1e-3)
    np.testing.assert_allclose(out[0][1]["landmarks"], eager[1]["landmarks"].numpy(), atol=1e-5)
    return out


def test_translation_moves_landmarks_and_image_by_the_same_pixels():
    record = blob_record()
    seeds = [seed_of(10 + i) for i in range(3)]
    still = run_fn(mnn_cfg(translate=0.0), record, seeds)
    moved = run_fn(mnn_cfg(translate=0.05), record, seeds)
    for seed, (img0, y0), (img1, y1) in zip(seeds, still, moved):
        t = A.translation(pipeline._sub(tf.constant(seed), pipeline._TAG_AUG), S, 0.05).numpy()
        assert np.abs(t).max() > 0.3                                # a visible shift for this seed
        np.testing.assert_allclose(y1["landmarks"] - y0["landmarks"], np.broadcast_to(t, (68, 2)), atol=1e-3)
        np.testing.assert_allclose(centroid(img1) - centroid(img0), t, atol=0.15)
        np.testing.assert_allclose(centroid(img1), y1["landmarks"][30], atol=0.3)   # the target is on the blob


def test_pipeline_occlusion_zeroes_the_covered_visibility():
    record = blob_record()
    cfg = mnn_cfg(occlusion_prob=1.0, occlusion_size=(0.4, 0.6))
    covered = 0
    seeds = [seed_of(20 + i) for i in range(6)]
    for seed, (img, y) in zip(seeds, run_fn(cfg, record, seeds)):
        aug_seed = pipeline._sub(tf.constant(seed), pipeline._TAG_AUG)
        x0, y0, x1, y1 = A.occlusion_rectangle(aug_seed, S, cfg.mnn.occlusion_size).numpy()
        lm = y["landmarks"]
        inside = (lm[:, 0] >= x0) & (lm[:, 0] < x1) & (lm[:, 1] >= y0) & (lm[:, 1] < y1)
        np.testing.assert_array_equal(y["visibility"], np.where(inside, 0.0, 1.0))
        r0, r1 = int(max(y0, 0)), int(min(y1, S))
        c0, c1 = int(max(x0, 0)), int(min(x1, S))
        if r1 > r0 and c1 > c0:
            patch = img[r0:r1, c0:c1]
            assert np.ptp(patch.reshape(-1, 3), axis=0).max() < 1e-3   # one flat colour
        covered += int(inside.sum())
    assert covered > 0


def test_hsv_through_the_pipeline_and_off_by_default():
    record = blob_record()
    seed = seed_of(30)
    (plain, _), = run_fn(mnn_cfg(), record, seed)
    (coloured, _), = run_fn(mnn_cfg(hsv=(0.5, 1.5)), record, seed)
    f = A.hsv_factors(pipeline._sub(tf.constant(seed), pipeline._TAG_AUG), 0.5, 1.5).numpy()
    np.testing.assert_allclose(coloured, np_scale_hsv(plain, f), atol=0.05)   # grey image: V x f_v, clipped
    cfg = make_config("smoke", {"model.family": "mnn", "data.aug_level": 0, "data.flip": False})
    assert cfg.mnn.augment is False
    (default, _), = run_fn(cfg, record, seed)
    (still, _), = run_fn(mnn_cfg(translate=0.0), record, seed)          # the set with every draw neutral
    np.testing.assert_allclose(default, still, atol=0.05)           # no MNN set: the plain crop


def test_config_validation():
    for bad in ({"mnn.translate": -0.1}, {"mnn.scale": 1.0}, {"mnn.hsv": (0.0, 1.5)}, {"mnn.hsv": (1.5, 0.5)},
                {"mnn.occlusion_prob": 1.5}, {"mnn.occlusion_size": (0.0, 0.5)}, {"mnn.alpha_ae": -1.0}):
        with pytest.raises(ConfigError, match="--mnn_"):
            make_config("smoke", bad).validate()
