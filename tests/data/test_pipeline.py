"""Input pipeline: crop geometry vs the policy box, the (images, targets) contract, determinism and resume."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.config import ANGLES2, make_config, ssl_grid
from hmtl_tf.data import crops, pipeline, records
from tests.helpers import pipeline_config as _cfg
from tests.helpers import random_items as _random_items
from tests.helpers import write_records

S = 64


def ramp_image(w=300, h=300):
    """R = 0.8 x + 5, G = 0.8 y + 5, B = 128: bilinear sampling of it is exact (up to rounding / JPEG)."""
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    return np.stack([0.8 * x + 5, 0.8 * y + 5, np.full_like(x, 128.0)], -1).round().astype(np.uint8)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("shards"))
    write_records(d, "train", _random_items(7, "train", 0), 0, 2)
    write_records(d, "train", _random_items(6, "train", 1), 1, 2)
    write_records(d, "test", _random_items(5, "test", 2))
    return d


def _sample_points(box, size=S):
    """Output pixel j samples x0 + (j + 0.5) w / S - 0.5 (PIL crop + bilinear resize, pixel-index coords)."""
    x0, y0, x1, y1 = box
    return (x0 + (np.arange(size) + 0.5) * (x1 - x0) / size - 0.5,
            y0 + (np.arange(size) + 0.5) * (y1 - y0) / size - 0.5)


def _np_bilinear(img, px, py):
    """NumPy re-statement of the crop: bilinear at (py, px), 0 where a sample is outside the image."""
    h, w = img.shape[:2]
    out = np.zeros((len(py), len(px), img.shape[2]))
    for i, y in enumerate(py):
        for j, x in enumerate(px):
            if 0 <= x <= w - 1 and 0 <= y <= h - 1:
                xa, ya = min(int(x), w - 2), min(int(y), h - 2)
                fx, fy = x - xa, y - ya
                top = img[ya, xa] * (1 - fx) + img[ya, xa + 1] * fx
                bot = img[ya + 1, xa] * (1 - fx) + img[ya + 1, xa + 1] * fx
                out[i, j] = top * (1 - fy) + bot * fy
    return out


@pytest.mark.parametrize("kind", ["hopenet_aflw_square", "boxes_stretch"])
def test_test_crop_equals_policy_box_at_k_min(tmp_path, kind):
    img = ramp_image()
    if kind == "hopenet_aflw_square":  # left margin leaves the image: black columns, central square
        pts = np.array([[10.0, 60.0], [110.0, 160.0]])
        spec = crops.make_crop_spec("hopenet", "aflw2000", "test", pt2d=pts)
        box = crops.central_square(spec.box(spec.k_range[0]))
    else:
        spec = crops.make_crop_spec("boxes", "aflw2000", "test", box=(50.7, 40.2, 178.9, 104.6))
        box = spec.box()
    landmarks = np.stack([np.linspace(20, 100, 68), np.linspace(70, 150, 68)], 1)
    write_records(str(tmp_path), "test", [dict(image=img, spec=spec, landmarks=landmarks)])
    cfg = _cfg(**{"data.image_size": S})
    images, t = next(iter(pipeline.make_dataset(str(tmp_path), cfg, training=False, with_landmarks=True)))
    out = images[0].numpy()
    ex = records.parse_example(next(iter(tf.data.TFRecordDataset(records.shard_files(str(tmp_path), "test")))))
    stored = tf.io.decode_jpeg(ex["image/encoded"]).numpy().astype(np.float64)
    ox, oy = ex["image/origin"].numpy()
    px, py = _sample_points(box)
    np.testing.assert_allclose(out, _np_bilinear(stored, px - ox, py - oy), atol=1e-3)
    inside = (px[None, :] >= 0) & (py[:, None] >= 0) & (px[None, :] <= 299) & (py[:, None] <= 299)
    ramp = np.stack(np.broadcast_arrays(0.8 * px[None, :] + 5, 0.8 * py[:, None] + 5), -1)
    assert np.abs(out[..., :2] - ramp)[inside].mean() < 1.5  # the pattern: right place, JPEG noise only
    if kind == "hopenet_aflw_square":
        assert box[0] < 0 and (out[:, px < 0] == 0).all()  # outside the image is black, like PIL
    scale = np.array([S / (box[2] - box[0]), S / (box[3] - box[1])])
    np.testing.assert_allclose(t["landmarks"][0].numpy(), (landmarks - np.array(box[:2])) * scale, atol=1e-3)
    np.testing.assert_array_equal(t["visibility"][0].numpy(), np.ones(68))


def test_crop_example_eager_equals_dataset_map(shards):
    ds = tf.data.TFRecordDataset(records.shard_files(shards, "train")).map(records.parse_example)
    mapped = ds.map(lambda ex: pipeline.crop_example(ex, S, k=0.3, zoom=1.1, shift=(2.0, -1.0))[0])
    for ex, m in zip(ds.take(2), mapped.take(2)):
        eager = pipeline.crop_example(ex, S, k=0.3, zoom=1.1, shift=(2.0, -1.0))[0]
        np.testing.assert_allclose(eager.numpy(), m.numpy(), atol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_example_fn_eager_equals_dataset_map(shards, training):
    cfg = _cfg(**{"ssl.task": "puzzle_rotation2x2", "data.heavy_aug": True})
    fn = pipeline.example_fn(cfg, training, with_landmarks=True)
    serialized = next(iter(tf.data.TFRecordDataset(records.shard_files(shards, "train"))))
    seed = pipeline.element_seed(cfg.seed, 2, 7)
    eager = fn(serialized, seed)
    mapped = next(iter(tf.data.Dataset.from_tensors((serialized, seed)).map(fn)))
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-3), eager, mapped)


def _keys(cfg, training):
    keys = set(cfg.model.angles)
    grid = ssl_grid(cfg.ssl.task)
    if training and grid and cfg.ssl.heads:
        if cfg.ssl.task.startswith("puzzle"):
            keys |= {f"puzzle_{i}" for i in range(grid * grid)}
        if "rotation" in cfg.ssl.task:
            keys |= {f"rotation_{i}" for i in range(grid * grid)}
    return keys


@pytest.mark.parametrize("over", [
    {},                                                             # SL
    {"ssl.task": "puzzle2x2"}, {"ssl.task": "puzzle3x3"},            # HMTL, every SSL task
    {"ssl.task": "rotation2x2"}, {"ssl.task": "puzzle_rotation2x2"},
    {"ssl.task": "puzzle3x3", "ssl.heads": False},                  # w/o SSHs (heavy aug: ETH test below)
])
def test_make_dataset_contract(shards, over):
    cfg = _cfg(**over)
    for training in ((True, False) if not over else (True,)):  # evaluation ignores aug/SSL settings
        images, t = next(iter(pipeline.make_dataset(shards, cfg, training=training)))
        assert images.shape == (4, S, S, 3) and images.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
        assert set(t) == _keys(cfg, training)
        for k, v in t.items():
            assert v.shape == (4,) and v.dtype == (tf.float32 if k in ("yaw", "pitch", "roll") else tf.int32)


def test_eth_style_two_angle_records(tmp_path):
    rng = np.random.RandomState(3)
    items = [dict(image=rng.randint(0, 256, (80, 80, 3)).astype(np.uint8), has_roll=False, dataset="eth_xgaze",
                  ypr=(rng.uniform(-40, 40), rng.uniform(-30, 30), 0.0), subject=f"subject{i % 2:04d}",
                  spec=crops.make_crop_spec("none", "eth_xgaze", "train", image_size=(80, 80))) for i in range(6)]
    write_records(str(tmp_path), "train", items)
    write_records(str(tmp_path), "val", items[:3])
    cfg = _cfg(**{"model.angles": ANGLES2, "model.head": "regression", "data.heavy_aug": True,
                  "ssl.task": "rotation2x2"})
    images, t = next(iter(pipeline.make_dataset(str(tmp_path), cfg, training=True)))
    assert images.shape == (4, S, S, 3) and set(t) == {"yaw", "pitch"} | {f"rotation_{i}" for i in range(4)}
    images, t = next(iter(pipeline.make_dataset(str(tmp_path), cfg, training=False, with_ids=True)))
    assert set(t) == {"yaw", "pitch", "source_id"} and images.shape[0] == 3  # the val split, remainder kept
    np.testing.assert_allclose(t["yaw"].numpy(), [it["ypr"][0] for it in items[:3]], atol=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="without roll"):
        next(iter(pipeline.make_dataset(str(tmp_path), _cfg(), training=False)))
    sub = make_config("smoke", {"batch_size": 2, "data.subjects": ("subject0001",)})
    assert pipeline.steps_per_epoch(str(tmp_path), sub) == 1  # 3 records of that subject


def _batches(ds):
    return [tf.nest.map_structure(lambda v: v.numpy(), b) for b in ds]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b)))


def test_determinism_and_resume(shards):
    cfg = _cfg(**{"ssl.task": "puzzle_rotation2x2", "data.shuffle_buffer": 5, "epochs": 2})
    steps = pipeline.steps_per_epoch(shards, cfg)
    assert steps == 13 // 4
    full = _batches(pipeline.make_dataset(shards, cfg, training=True, with_ids=True, with_landmarks=True))
    again = _batches(pipeline.make_dataset(shards, cfg, training=True, with_ids=True, with_landmarks=True))
    resumed = _batches(pipeline.make_dataset(shards, cfg, training=True, start_epoch=1, with_ids=True,
                                             with_landmarks=True))
    assert len(full) == cfg.epochs * steps and len(resumed) == (cfg.epochs - 1) * steps
    assert all(_same(a, b) for a, b in zip(full, again))
    assert all(_same(a, b) for a, b in zip(full[steps:], resumed))
    for e in range(cfg.epochs):  # each epoch: distinct records, a different order from the next epoch
        ids = np.concatenate([b[1]["source_id"] for b in full[e * steps:(e + 1) * steps]])
        assert len(set(ids)) == len(ids) == steps * 4
    assert not _same(full[0], full[steps])
    other = pipeline.make_dataset(shards, _cfg(**{"ssl.task": "puzzle_rotation2x2", "seed": 6,
                                                    "data.shuffle_buffer": 5}), training=True)
    assert not _same(full[0][0], next(iter(other))[0].numpy())


def test_eval_is_deterministic_file_order_and_never_augmented(shards):
    cfg = _cfg(**{"ssl.task": "puzzle3x3", "data.heavy_aug": True})
    a = _batches(pipeline.make_dataset(shards, cfg, training=False, with_ids=True))
    b = _batches(pipeline.make_dataset(shards, _cfg(), training=False, with_ids=True))  # no aug/SSL config
    assert [s.decode() for s in np.concatenate([x[1]["source_id"] for x in a])] == [f"test_2_{i}" for i in range(5)]
    assert all(_same(x, y) for x, y in zip(a, b))


def test_steps_per_epoch_passes_and_cache(shards):
    cfg = _cfg(**{"steps_per_epoch": 5, "epochs": 1, "data.cache": True})
    batches = _batches(pipeline.make_dataset(shards, cfg, training=True))
    assert len(batches) == 5  # more than one pass over the 13 records
    cfg = _cfg(**{"data.max_train_samples": 8, "epochs": 1})
    ids = np.concatenate([b[1]["source_id"] for b in _batches(pipeline.make_dataset(shards, cfg, training=True,
                                                                                   with_ids=True))])
    assert sorted(s.decode() for s in ids) == sorted([f"train_0_{i}" for i in range(7)] + ["train_1_0"])


def test_counts_and_split_resolution(shards, tmp_path):
    assert pipeline.count_records(shards, "train") == 13 and pipeline.count_records(shards) == 5  # test split
    assert pipeline.default_split(shards, training=False) == "test"
    d = str(tmp_path)
    write_records(d, "train", _random_items(3, "train", 4))
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump({"splits": {"train": {"kept": 3, "skipped": {}}}}, f)
    assert pipeline.count_records(d, "train") == 3
    with pytest.raises(FileNotFoundError, match="no 'val' or 'test'"):
        pipeline.make_dataset(d, _cfg(), training=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        pipeline.steps_per_epoch(d, _cfg())


@pytest.mark.parametrize("batch", [2, 3, 5])
def test_eval_dataset_states_its_length_from_the_summary(shards, tmp_path, batch):
    """With ``summary.json`` the evaluation dataset has a known number of batches (Keras then ends validation
    without its "input ran out of data" warning); without it, unknown."""
    cfg = _cfg(batch_size=batch)
    ds = pipeline.make_dataset(shards, cfg, training=False)
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    d = str(tmp_path)
    write_records(d, "test", _random_items(5, "test", 2))
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump({"splits": {"test": {"kept": 5}}}, f)
    ds = pipeline.make_dataset(d, cfg, training=False)
    assert int(ds.cardinality()) == -(-5 // batch) == len(_batches(ds))


@pytest.mark.parametrize("dataset,split,k", [("300w_lp", "train", 0.2), ("300w_lp", "train", 0.3999),
                                             ("aflw2000", "test", None), ("biwi", "test", None)])
def test_crop_box_equals_crop_spec_box(dataset, split, k):
    rng = np.random.RandomState(7)
    for _ in range(20):
        pts = rng.uniform(-5, 300, (68, 2)).round(rng.randint(0, 3))
        spec = crops.make_crop_spec("hopenet", dataset, split, pt2d=pts, box=crops.points_box(pts))
        kk = spec.k_range[0] if k is None else k
        ex = {"crop/base": tf.constant(spec.base, tf.float32), "crop/coef": tf.constant(spec.coef, tf.float32),
              "crop/clamp_min": tf.constant(0, tf.int64), "crop/square": tf.constant(0, tf.int64),
              "image/origin": tf.constant([3, 4], tf.int64)}
        got = pipeline.crop_box(ex, tf.constant(kk, tf.float32)).numpy()
        np.testing.assert_array_equal(got, np.array(spec.box(kk)) - [3, 4, 3, 4])


# ----------------------------------------------------------------------------- augmentation order (issue 12.4)
FLAT = (180, 120, 60)


@pytest.fixture(scope="module")
def flat_shards(tmp_path_factory):
    """Records of a flat-coloured 400-px image stored whole (origin 0, 0): every crop of the policy, zoomed out
    to 1/0.7 included, stays inside it, so the only black pixels of a training image are the occluders."""
    d = str(tmp_path_factory.mktemp("flat"))
    img = np.broadcast_to(np.array(FLAT, np.uint8), (400, 400, 3)).copy()
    jpeg = tf.io.encode_jpeg(img, quality=95).numpy()
    rng = np.random.RandomState(3)
    os.makedirs(d, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(d, records.shard_name("train", 0, 1))) as w:
        for i in range(8):
            pts = rng.uniform(170, 230, (68, 2))
            spec = crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=pts)
            w.write(records.encode_example(
                image_jpeg=jpeg, origin=(0, 0), source_size=(400, 400), ypr=rng.uniform(-60, 60, 3), has_roll=True,
                crop=spec, source_id=f"flat_{i}", dataset="300w_lp", split="train", landmarks=pts))
    return d


@pytest.mark.parametrize("over", [{"data.aug_level": 2, "ssl.task": "puzzle3x3"},                    # Table 2 HMTL
                                  {"data.heavy_aug": True, "ssl.task": "puzzle2x2", "data.aug_level": 0}])  # T6
def test_cutout_is_one_rectangle_in_the_puzzled_training_image(flat_shards, over):
    """HMTL Sec. 4.3: the puzzle is applied before the cutout, so the occluded pixels of the final image form one
    axis-aligned rectangle (never a rectangle cut into tiles and shuffled). Through ``make_dataset``: 8 epochs of
    the 8 records."""
    cfg = _cfg(epochs=8, **over).validate()
    with_cutout = 0
    for images, targets in pipeline.make_dataset(flat_shards, cfg, training=True):
        assert "puzzle_0" in targets  # the puzzled HMTL input
        for i, image in enumerate(images.numpy()):
            dark = np.all(image < 1.0, axis=-1)
            if not dark.any():
                continue  # cutout p=0.5: not drawn for this element
            with_cutout += 1
            ys, xs = np.nonzero(dark)
            rect = dark[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            assert rect.all(), f"the occluded pixels are not one rectangle ({rect.mean():.0%} of their box)"
            if over.get("data.aug_level") == 2:  # level 2 keeps the flat colour everywhere else
                np.testing.assert_allclose(image[~dark], np.broadcast_to(FLAT, image[~dark].shape), atol=3.0)
    assert with_cutout >= 10


# ----------------------------------------------------------------------------- held-out split (issue 12 item 2)
def _w300lp_ids(n_faces):
    """300W-LP-style ids: per source face 1-4 profiled views, each in its subset folder and the ``_Flip`` copy."""
    names = {0: "AFW_{}_1", 1: "HELEN_{}_2", 2: "IBUG_image_{:03d}_1", 3: "LFPW_image_train_{:04d}"}
    ids, groups = [], []
    for f in range(n_faces):
        subset = ("AFW", "HELEN", "IBUG", "LFPW")[f % 4]
        stem = names[f % 4].format(1000 + f)
        for k in range(1 + f % 4):
            for folder in (subset, subset + "_Flip"):
                ids.append(f"{folder}/{stem}_{k}")
                groups.append(stem)
    return ids, groups


def test_heldout_split_is_by_source_deterministic_and_five_percent():
    """No source face in both parts (its views and _Flip copies stay together), the same split on every call (a
    fixed hash, pinned below), ~5% of the sources held out; ETH-XGaze by subject."""
    ids, groups = _w300lp_ids(4000)
    held = pipeline.in_heldout(tf.constant(ids), "300w_lp", 0.05).numpy()
    side = {}
    for g, h in zip(groups, held):
        assert side.setdefault(g, h) == h, f"source {g} is on both sides"
    frac = np.mean(list(side.values()))
    assert 0.04 <= frac <= 0.06, frac
    again = pipeline.in_heldout(tf.constant(ids[::-1]), "300w_lp", 0.05).numpy()[::-1]
    np.testing.assert_array_equal(held, again)
    assert int(sum(side.values())) == 214  # pinned: FarmHash fingerprint of the group, stable across machines
    assert pipeline.source_group(tf.constant("AFW_Flip/AFW_134212_1_3"), "300w_lp").numpy() == b"AFW_134212_1"
    eth = [f"subject{s:04d}/{i:06d}" for s in range(200) for i in range(3)]
    held = pipeline.in_heldout(tf.constant(eth), "eth_xgaze", 0.2).numpy().reshape(200, 3)
    assert (held.all(1) | ~held.any(1)).all() and 0.1 < held[:, 0].mean() < 0.3  # whole subjects


@pytest.fixture(scope="module")
def w300lp_shards(tmp_path_factory):
    """120 records with 300W-LP ids (30 faces x 1-4 views x original / _Flip) in two shards."""
    d = str(tmp_path_factory.mktemp("w300lp"))
    ids, _ = _w300lp_ids(30)
    items = _random_items(len(ids), "train", 7)
    for it, sid in zip(items, ids):
        it.update(id=sid, subject=sid.split("/")[0], dataset="300w_lp")
    half = len(items) // 2
    write_records(d, "train", items[:half], 0, 2)
    write_records(d, "train", items[half:], 1, 2)
    return d, ids


def test_heldout_part_through_the_pipeline(w300lp_shards, tmp_path):
    """Training reads only the training part, ``part="heldout"`` exactly the held-out part; counts (from a scan
    and from data_prep's id sidecars) agree; with the default 300W-LP subsets the held-out part has no _Flip."""
    import shutil

    src, ids = w300lp_shards
    cfg = _cfg(epochs=1, **{"data.val_split": 0.25, "data.w300lp_subsets": ("all",), "data.aug_level": 0})
    want = {i for i, h in zip(ids, pipeline.in_heldout(tf.constant(ids), "300w_lp", 0.25).numpy()) if h}
    assert 0 < len(want) < len(ids)
    held = [s.decode() for _, t in pipeline.make_dataset(src, cfg, training=False, split="train", part="heldout",
                                                         with_ids=True) for s in t["source_id"].numpy()]
    assert sorted(held) == sorted(want)
    seen = {s.decode() for _, t in pipeline.make_dataset(src, cfg, training=True, with_ids=True)
            for s in t["source_id"].numpy()}
    groups = lambda xs: {pipeline.source_group(tf.constant(x), "300w_lp").numpy() for x in xs}  # noqa: E731
    assert seen and not groups(seen) & groups(want)
    n_train = pipeline.part_count(src, cfg, "train", "train")
    assert n_train + len(want) == len(ids) and pipeline.steps_per_epoch(src, cfg) == n_train // 4
    with pytest.raises(ValueError, match="heldout"):
        pipeline.make_dataset(src, _cfg(), training=False, split="train", part="heldout")
    # data_prep's sidecars + summary: the same counts without reading the records
    side = str(tmp_path / "side")
    shutil.copytree(src, side)
    files = records.shard_files(side, "train")
    half = len(ids) // 2
    for f, part in zip(files, (ids[:half], ids[half:])):
        with open(f"{f}.ids.json", "w") as fh:
            json.dump({"ids": part}, fh)
    with open(os.path.join(side, "summary.json"), "w") as fh:
        json.dump({"dataset": "300w_lp", "splits": {"train": {"kept": len(ids)}}}, fh)
    for over in ({"data.w300lp_subsets": ("all",)}, {}):  # {}: the default subsets (no _Flip)
        c = _cfg(**{"data.val_split": 0.25, **over})
        scan = pipeline._count(pipeline.filter_training_records(tf.data.TFRecordDataset(files), files, c, "heldout"))
        assert pipeline.part_count(side, c, "train", "heldout") == scan
        assert pipeline.part_count(side, c, "train", "train") == pipeline._count(
            pipeline.filter_training_records(tf.data.TFRecordDataset(files), files, c))
    c = _cfg(**{"data.val_split": 0.25})
    flips = [s for _, t in pipeline.make_dataset(side, c, training=False, split="train", part="heldout",
                                                  with_ids=True) for s in t["source_id"].numpy() if b"_Flip" in s]
    assert not flips
