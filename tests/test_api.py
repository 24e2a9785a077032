"""HeadPoseEstimator: loading, crops like the test pipeline, batching, angles per face.

``tests.helpers.make_run_dir`` writes a run directory with the DESIGN contract: config.json + inference.keras
(raw RGB (S, S, 3) -> {"yaw", "pitch", "roll"} degrees). ``real=True`` uses
``hmtl_tf.models.hmtl.build_inference_model`` (random ResNet50 at 64 px); the default is a small stand-in
with the same contract (ImagePreprocess -> convs -> per-angle HopeNet bins -> HopeNetDecode) so the fast
tests stay fast on 2 cores; ``test_real_inference_model`` runs the real one.
"""
import os

import numpy as np
import pytest

from hmtl_tf import config as C
from tests.helpers import make_run_dir

S = 64


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run_dir(tmp_path_factory.mktemp("run") / "sl")


def test_import_is_light_and_lazy():
    import subprocess
    import sys
    code = ("import sys, hmtl_tf; assert 'tensorflow' not in sys.modules; "
            "from hmtl_tf import HeadPoseEstimator; assert 'tensorflow' not in sys.modules; print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


def test_predict_matches_model_on_crops(run):
    from hmtl_tf import HeadPoseEstimator

    path, model = run
    est = HeadPoseEstimator.load(path, batch_size=3)
    assert est.image_size == S and est.crop_policy == "hopenet" and est.angles == C.ANGLES3
    x = np.random.default_rng(1).uniform(0, 255, (7, S, S, 3)).astype(np.float32)
    ref = model(x, training=False)
    got = est.predict_crops(x)                     # 7 faces in batches of 3
    np.testing.assert_allclose(got, np.stack([np.asarray(ref[a]) for a in C.ANGLES3], 1), atol=1e-3)
    # Whole-image faces at the model size under a stretch policy are the crops themselves.
    np.testing.assert_allclose(est.predict(list(x), crop_policy="none"), got, atol=1e-3)


def test_predict_one_image_and_keras_file(run):
    from hmtl_tf.api import HeadPoseEstimator

    path, _ = run
    est = HeadPoseEstimator.load(os.path.join(path, "inference.keras"))
    img = np.random.default_rng(2).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    one = est.predict(img, boxes=(30, 20, 80, 75))
    assert one.shape == (1, 3) and np.all(np.abs(one) <= 99)
    many = est.predict([img, img], boxes=[(30, 20, 80, 75), (30, 20, 80, 75)])
    np.testing.assert_allclose(many, np.repeat(one, 2, 0), atol=1e-3)


def _pipeline_crop(image, box, size):
    """The training/test pipeline's crop (hmtl_tf.data.pipeline.decode_crop) of a JPEG, and its decoded pixels."""
    import tensorflow as tf

    from hmtl_tf.data import pipeline
    enc = tf.io.encode_jpeg(tf.constant(image), quality=95)
    return (pipeline.decode_crop(enc, tf.constant(box, tf.float32), size).numpy(),
            tf.io.decode_jpeg(enc, channels=3).numpy())


@pytest.mark.parametrize("box", [(10.0, 12.0, 50.0, 60.0), (-20.0, -5.0, 70.0, 95.0), (3.5, 7.25, 33.0, 29.75),
                                 (40.0, 50.0, 140.0, 130.0)])
def test_sample_box_equals_pipeline_crop(box):
    """NumPy crop == the test pipeline's tf.image.crop_and_resize crop (outside the image black)."""
    from hmtl_tf.api import sample_box

    # Grey (R = G = B): JPEG chroma is constant, so the pipeline's windowed decode equals the full decode.
    img = np.repeat(np.random.default_rng(3).integers(0, 255, (80, 100, 1), dtype=np.uint8), 3, axis=-1)
    ref, decoded = _pipeline_crop(img, box, 32)
    np.testing.assert_allclose(sample_box(decoded, box, 32), ref, atol=2e-3)


def test_crop_box_policies():
    """hopenet/visible + a detector box = HopeNet's BIWI rule then the central square; boxes = the box
    (int, min clamped at 0) stretched; none = the whole image; no box = the image is the face crop."""
    from hmtl_tf.api import crop_box
    from hmtl_tf.data import crops

    box = (100.3, 80.7, 200.9, 230.2)
    spec = crops.make_crop_spec("hopenet", "biwi", "test", box=box)
    assert crop_box(box, "hopenet", (640, 480)) == tuple(crops.central_square(spec.box()))
    x0, y0, x1, y1 = crop_box(box, "hopenet", (640, 480))
    assert np.isclose(x1 - x0, y1 - y0)
    assert crop_box((-4.2, 3.9, 50.5, 60.1), "boxes", (640, 480)) == (0.0, 3.0, 50.0, 60.0)
    assert crop_box((-4.2, 3.9, 50.5, 60.1), "none", (640, 480)) == (0.0, 3.0, 50.0, 60.0)
    assert crop_box(None, "none", (640, 480)) == (0.0, 0.0, 640.0, 480.0)
    assert crop_box(None, "hopenet", (640, 480)) == (80.0, 0.0, 560.0, 480.0)
    with pytest.raises(ValueError, match="expected \\(x_min, y_min, x_max, y_max\\)"):
        crop_box((10, 10, 5, 20), "boxes", (640, 480))


def test_bad_inputs_one_line_errors(run, tmp_path):
    from hmtl_tf.api import HeadPoseEstimator

    est = HeadPoseEstimator.load(run[0])
    with pytest.raises(ValueError, match="2 images but 1 boxes"):
        est.predict([np.zeros((10, 10, 3))] * 2, boxes=[(0, 0, 5, 5)])
    with pytest.raises(ValueError, match="crop_policy='square'"):
        est.predict(np.zeros((10, 10, 3)), crop_policy="square")
    with pytest.raises(FileNotFoundError, match="expected a run directory"):
        HeadPoseEstimator.load(str(tmp_path / "nothing.h5"))


def test_two_angle_model(tmp_path):
    from hmtl_tf import HeadPoseEstimator

    path, _ = make_run_dir(tmp_path / "xgaze", angles=C.ANGLES2, crop_policy="none")
    est = HeadPoseEstimator.load(path)
    assert est.angles == ("yaw", "pitch")
    assert est.predict(np.zeros((2, 40, 40, 3), np.uint8)).shape == (2, 2)


def test_real_inference_model(tmp_path):
    """The real SL and HMTL (puzzle3x3, flag 3) inference models at 64 px: the same parameter count (no SSL
    branch at test time, SPEC 3) and the API predicts the Keras model's angles from a run directory."""
    from hmtl_tf import HeadPoseEstimator

    sl_dir, sl = make_run_dir(tmp_path / "sl", real=True)
    _, hmtl = make_run_dir(tmp_path / "hmtl", ssl="puzzle3x3", real=True)
    assert sl.count_params() == hmtl.count_params()
    assert sorted(tuple(w.shape) for w in sl.weights) == sorted(tuple(w.shape) for w in hmtl.weights)
    assert not any("ssl" in layer.name for layer in hmtl.layers)
    est = HeadPoseEstimator.load(sl_dir)
    x = np.random.default_rng(5).uniform(0, 255, (2, S, S, 3)).astype(np.float32)
    ref = sl(x, training=False)
    np.testing.assert_allclose(est.predict_crops(x), np.stack([np.asarray(ref[a]) for a in C.ANGLES3], 1),
                               atol=1e-3)
