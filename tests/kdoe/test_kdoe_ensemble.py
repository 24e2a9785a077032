"""KD-OE offset ensemble (Eq. 6): batched in the graph == a Python loop over offsets; K=0 == plain prediction."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from hmtl_tf.kdoe import ensemble as E
from hmtl_tf.kdoe.offsets import offset_set, shifted_boxes_np

S = 24  # model input size


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    x = keras.Input((S, S, 3))
    f = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 5, strides=3, activation="relu")(x / 255.0))
    net = keras.Model(x, {a: keras.layers.Dense(198, name=a)(f) for a in E.ANGLES})
    return lambda z: net(z, training=False)


@pytest.fixture(scope="module")
def stored():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 70, 80, 3)).astype(np.float32)
    boxes = np.array([[20, 15, 50, 45], [10, 12, 60, 52], [30.5, 20, 61.5, 55]], np.float32)
    return images, boxes


def test_crop_batch_equals_crop_then_resize():
    img = np.random.default_rng(1).uniform(0, 255, (1, 60, 70, 3)).astype(np.float32)
    got = E.crop_batch(img, np.array([[10, 12, 42, 44]], np.float32), 16).numpy()
    ref = tf.image.resize(img[:, 12:44, 10:42], (16, 16), method="bilinear").numpy()
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_offset_crops_are_image_major_and_graph_safe(stored):
    images, boxes = stored
    shifts = offset_set(4, 4) * 4
    crops = E.offset_crops(images, boxes, shifts, S)
    assert crops.shape == (3 * 9, S, S, 3)
    one = E.crop_batch(images[1:2], shifted_boxes_np(boxes[1], shifts, 1, S)[3:4], S)
    np.testing.assert_allclose(crops[9 + 3].numpy(), one[0].numpy(), atol=1e-2)
    ds = tf.data.Dataset.from_tensors((images, boxes)).map(lambda i, b: E.offset_crops(i, b, shifts, S))
    np.testing.assert_allclose(next(iter(ds)).numpy(), crops.numpy(), atol=1e-4)


def test_ensemble_of_one_offset_is_the_plain_prediction(tiny, stored):
    images, boxes = stored
    ens = E.ensemble_probs(tiny, images, boxes, 0, 1, S)
    plain = tiny(E.crop_batch(images, boxes, S))
    for a in E.ANGLES:
        np.testing.assert_allclose(ens[a].numpy(), tf.nn.softmax(plain[a]).numpy(), atol=1e-6)


@pytest.mark.parametrize("K,d,max_crops", [(6, 3, 256), (4, 4, 10)])
def test_ensemble_equals_python_loop(tiny, stored, K, d, max_crops):
    images, boxes = stored
    got = E.ensemble_probs(tiny, tf.constant(images), tf.constant(boxes), K, d, S, max_crops=max_crops)
    offs = offset_set(K, d)
    for b in range(len(images)):
        acc = {a: 0.0 for a in E.ANGLES}
        for box in shifted_boxes_np(boxes[b], offs, d, S):  # one crop at a time
            out = tiny(E.crop_batch(images[b:b + 1], box[None].astype(np.float32), S))
            for a in E.ANGLES:
                acc[a] = acc[a] + tf.nn.softmax(out[a])[0].numpy() / len(offs)
        for a in E.ANGLES:
            np.testing.assert_allclose(got[a][b].numpy(), acc[a], atol=1e-6)


def test_decode_uses_bin_centres():
    p = np.zeros((2, 198), np.float32)
    p[0, 0], p[1, 197] = 1.0, 1.0
    np.testing.assert_allclose(E.decode(p).numpy(), [-98.5, 98.5])


def test_grid_rows_match_single_ensembles(tiny, stored):
    images, boxes = stored
    ypr = np.array([[10, -5, 3], [0, 0, 0], [-20, 15, -8]], np.float32)
    batches = [{"image": images[:2], "box": boxes[:2], "ypr": ypr[:2]},
               {"image": images[2:], "box": boxes[2:], "ypr": ypr[2:]}]
    rows = E.ensemble_grid(tiny, batches, [(0, 1), (4, 4)], S)
    assert [(r["K"], r["d"], r["S"], r["n"]) for r in rows] == [(0, 1, 1, 3), (4, 4, 9, 3)]
    probs = E.ensemble_probs(tiny, images, boxes, 4, 4, S)
    mae = np.mean(np.abs(E.decode(probs["pitch"]).numpy() - ypr[:, 1]))
    np.testing.assert_allclose(rows[1]["pitch"], mae, rtol=1e-5)


def test_stored_example_box_matches_the_pipeline_crop(tmp_path):
    """K=0 on a shard record == the test pipeline's crop of that record (the plain prediction's input)."""
    import cv2
    from hmtl_tf.data import crops, pipeline, records

    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (90, 100, 3), np.uint8)
    spec = crops.make_crop_spec("boxes", "aflw2000", "test", box=(22.7, 18.2, 71.9, 80.4))
    jpeg = cv2.imencode(".jpg", img[..., ::-1])[1].tobytes()
    ser = records.encode_example(image_jpeg=jpeg, origin=(0, 0), source_size=(100, 90), ypr=(1, 2, 3),
                                 has_roll=True, crop=spec, source_id="x", dataset="aflw2000", split="test")
    ex = E.stored_example(tf.constant(ser))
    np.testing.assert_allclose(ex["box"].numpy(), [22, 18, 71, 80])
    ours = E.offset_crops(ex["image"][None], ex["box"][None], offset_set(0, 1), S)[0]
    theirs, _ = pipeline.crop_example(records.parse_example(tf.constant(ser)), S)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-2)  # float32 rounding of the window
