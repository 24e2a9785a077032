"""KD-OE networks: output naming, Eq. 3 range, fit in both modes, inference model decodes the bin-1 head."""
import numpy as np
import pytest
import keras
import tensorflow as tf

from hmtl_tf.config import make_config
from hmtl_tf.kdoe import model as M
from tests.helpers import save_and_reload

S = 32


def _tiny_backbone():
    x = keras.Input((S, S, 3))
    return keras.Model(x, {"stage4": keras.layers.Conv2D(4, 3, strides=4, name="c")(x / 255.0)}, name="backbone")


@pytest.fixture
def cfg():
    c = make_config("smoke")
    c.data.image_size = S
    return c


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, S, S, 3)).astype(np.float32)
    return x, {a: rng.uniform(-90, 90, 8).astype(np.float32) for a in ("yaw", "pitch", "roll")}


def test_stage1_outputs_and_regression_range(cfg, data):
    net = M.build_kdoe_network(cfg, _tiny_backbone())
    out = net(data[0] * 50.0)
    for a in ("yaw", "pitch", "roll"):
        assert [out[f"rvc{b}_{a}"].shape[-1] for b in (1, 2, 3, 4)] == [198, 99, 66, 50]
        assert np.all(np.abs(out[f"reg_{a}"].numpy()) <= 99.0)


@pytest.mark.parametrize("mode", ["stage1", "distill"])
def test_fit_one_epoch_and_metrics(cfg, data, mode):
    x, y = data
    if mode == "stage1":
        net = M.build_kdoe_network(cfg, _tiny_backbone())
    else:
        net = M.build_student_network(cfg, _tiny_backbone())
        y = dict(y, **{f"teacher_{a}": tf.nn.softmax(tf.random.normal((8, 198))).numpy() for a in y})
    model = M.KDOEModel(net, cfg.model.angles, mode=mode)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    hist = model.fit(x, y, epochs=1, batch_size=4, verbose=0).history
    assert {"loss", "mae_yaw", "mae_mean"} <= set(hist) and np.isfinite(hist["loss"][0])
    assert ("loss_rvc4" in hist) == (mode == "stage1") and ("loss_kl" in hist) == (mode == "distill")


def test_inference_model_is_bin1_expectation_and_reloads(cfg, data, tmp_path):
    import hmtl_tf.models  # noqa: F401

    net = M.build_kdoe_network(cfg, _tiny_backbone())
    inf = M.build_kdoe_inference_model(cfg, net)
    out, ref = inf(data[0]), M.predict_degrees(net(data[0]), cfg.model.angles)
    for a in cfg.model.angles:
        np.testing.assert_allclose(out[a].numpy(), ref[a].numpy(), atol=1e-4)
    assert inf.count_params() < net.count_params()  # bins 2-4 and the regression head are not exported
    again = save_and_reload(inf, tmp_path / "inference.keras", compile=False)
    np.testing.assert_allclose(again(data[0])["yaw"].numpy(), out["yaw"].numpy(), atol=1e-5)


def test_distill_on_the_fly_uses_the_teacher_ensemble(cfg, data):
    from hmtl_tf.kdoe.ensemble import ensemble_probs, network_model_fn

    teacher_net = M.build_student_network(cfg, _tiny_backbone())
    fn = network_model_fn(teacher_net)
    x = {"stored": np.pad(data[0], ((0, 0), (4, 4), (4, 4), (0, 0))),
         "box": np.tile(np.array([[4, 4, 4 + S, 4 + S]], np.float32), (8, 1))}
    net = M.build_student_network(cfg, _tiny_backbone())
    model = M.KDOEModel(net, cfg.model.angles, "distill",
                        teacher_fn=lambda s, b: ensemble_probs(fn, s, b, 2, 2, S), input_size=S)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    np.testing.assert_allclose(model(x)["rvc1_yaw"].numpy(), net(data[0])["rvc1_yaw"].numpy(), atol=1e-3)
    hist = model.fit(x, data[1], epochs=1, batch_size=4, verbose=0).history
    assert np.isfinite(hist["loss_kl"][0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_student_backbones_build(cfg, name):
    cfg.data.image_size = 64
    net = M.build_student_network(cfg, backbone_name=name)
    assert net(np.zeros((1, 64, 64, 3), np.float32))["rvc1_roll"].shape == (1, 198)
