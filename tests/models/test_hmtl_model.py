"""SL / HMTL networks, the inference model (no extra params/FLOPs, .keras and SavedModel) and MultiTaskModel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.bins import hopenet_bins
from hmtl_tf.config import make_config
from hmtl_tf.models import MultiTaskModel, build_inference_model, build_network
from hmtl_tf.models.flops import count_flops
from hmtl_tf.models.heads import ssl_head_specs
from tests.helpers import save_and_reload
from tests.test_losses import np_ce, np_hopenet

B = 2


def cfg_for(**over):
    return make_config("smoke", {k.replace("__", "."): v for k, v in over.items()})


def batch(cfg, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (B, cfg.data.image_size, cfg.data.image_size, 3)).astype(np.float32)
    y = {a: rng.uniform(-90, 90, B).astype(np.float32) for a in cfg.model.angles}
    for branch, n_tiles, n_classes in (ssl_head_specs(cfg.ssl.task) if cfg.ssl.heads else []):
        y.update({f"{branch}_{i}": rng.integers(0, n_classes, B).astype(np.int32) for i in range(n_tiles)})
    return x, y


@pytest.fixture(scope="module")
def nets():
    """SL and HMTL (puzzle 3x3, flag 3) ResNet50 networks at 64 px and their inference models."""
    sl_cfg, hm_cfg = cfg_for(), cfg_for(ssl__task="puzzle3x3", ssl__flag=3)
    sl, hm = build_network(sl_cfg), build_network(hm_cfg)
    return {"sl": (sl_cfg, sl, build_inference_model(sl_cfg, sl)), "hmtl": (hm_cfg, hm, build_inference_model(hm_cfg, hm))}


def test_outputs_keyed_like_targets(nets):
    cfg, net, _ = nets["hmtl"]
    shapes = {k: tuple(v.shape) for k, v in net.output.items()}
    assert shapes == {**{a: (None, 66) for a in ("yaw", "pitch", "roll")},
                      **{f"puzzle_{i}": (None, 9) for i in range(9)}}
    assert set(nets["sl"][1].output) == {"yaw", "pitch", "roll"}
    assert net.layers[0].name == "image"


@pytest.mark.parametrize("over,keys", [
    ({"ssl__task": "none"}, {"yaw", "pitch"}),
    ({"ssl__task": "puzzle2x2", "ssl__heads": False}, {"yaw", "pitch"}),
    ({"ssl__task": "puzzle_rotation2x2"}, {"yaw", "pitch"} | {f"{t}_{i}" for t in ("puzzle", "rotation")
                                                              for i in range(4)}),
])
def test_ssl_outputs_only_with_heads(over, keys):
    cfg = cfg_for(model__backbone="resnet18", model__head="regression", model__angles=("yaw", "pitch"), **over)
    net = build_network(cfg)
    assert set(net.output) == keys
    assert all(tuple(net.output[a].shape) == (None, 1) for a in ("yaw", "pitch"))
    if "rotation_0" in keys:  # puzzle and rotation branches: separate weights at the same flag
        assert net.get_layer("ssl_f3_puzzle_block_1_conv") is not net.get_layer("ssl_f3_rotation_block_1_conv")


def test_layer_names_in_summary(nets):
    lines = []
    nets["hmtl"][1].summary(print_fn=lambda s, **_: lines.append(s), line_length=150)
    text = "\n".join(lines)
    for name in ("backbone", "head_yaw", "head_roll", "ssl_f3_puzzle_block_1_conv", "ssl_f3_puzzle_block_add",
                 "ssl_f3_puzzle_tile0", "ssl_f3_puzzle_tile8"):
        assert name in text, name


def test_inference_model_same_params_and_flops_as_sl(nets):
    sl_inf, hm_inf = nets["sl"][2], nets["hmtl"][2]
    assert nets["hmtl"][1].count_params() > nets["sl"][1].count_params()
    assert hm_inf.count_params() == sl_inf.count_params() == nets["sl"][1].count_params()
    flops = count_flops(hm_inf)
    assert flops == count_flops(sl_inf) and flops > 5e8  # ResNet50 at 64 px ~ 0.63 GFLOPs


def test_inference_model_decodes_network_outputs(nets):
    cfg, net, inf = nets["hmtl"]
    x, _ = batch(cfg)
    logits, deg = net(x, training=False), inf(x)
    values = hopenet_bins(3).decode_values("left_edge")
    for a in cfg.model.angles:
        z = logits[a].numpy().astype(np.float64)
        p = np.exp(z - z.max(-1, keepdims=True))
        np.testing.assert_allclose(deg[a].numpy(), (p / p.sum(-1, keepdims=True)) @ values, rtol=1e-4, atol=1e-3)
        assert deg[a].shape == (B,)


def test_inference_model_keras_and_savedmodel_roundtrip(tmp_path):
    cfg = cfg_for(model__backbone="resnet18", ssl__task="puzzle3x3")  # ResNet18: same code path, faster export
    inf = build_inference_model(cfg, build_network(cfg))
    x, _ = batch(cfg, seed=3)
    want = {k: v.numpy() for k, v in inf(x).items()}
    loaded = save_and_reload(inf, tmp_path / "inference.keras")
    for k, v in loaded(x).items():
        np.testing.assert_array_equal(v.numpy(), want[k])
    inf.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    served = restored.serve(tf.constant(x))
    for k in want:
        np.testing.assert_allclose(served[k].numpy(), want[k], rtol=1e-5, atol=1e-4)


def test_compute_loss_matches_eq2_with_ssl(nets):
    cfg, net, _ = nets["hmtl"]
    model = MultiTaskModel(net, cfg)
    x, y = batch(cfg, seed=5)
    pred = net(x, training=False)
    z = {k: v.numpy().astype(np.float64) for k, v in pred.items()}
    want = sum(np_hopenet(z[a], y[a].astype(np.float64), 3, 2.0, "rmse", "left_edge") for a in cfg.model.angles)
    want += 50.0 * sum(np_ce(y[f"puzzle_{i}"], z[f"puzzle_{i}"]).mean() for i in range(9))
    np.testing.assert_allclose(model.compute_loss(x, y, pred).numpy(), want, rtol=1e-4)
    val = {a: y[a] for a in cfg.model.angles}  # validation: no SSL targets -> supervised part only
    want_val = sum(np_hopenet(z[a], y[a].astype(np.float64), 3, 2.0, "rmse", "left_edge") for a in val)
    np.testing.assert_allclose(model.compute_loss(x, val, pred).numpy(), want_val, rtol=1e-4)


@pytest.mark.parametrize("flag,backbone", [(1, "resnet18"), (2, "resnet18"), (3, "resnet50"), (4, "resnet18")])
def test_ssl_branch_each_flag_trains_one_step(flag, backbone):
    cfg = cfg_for(ssl__task="puzzle2x2", ssl__flag=flag, model__backbone=backbone)
    model = MultiTaskModel(build_network(cfg), cfg)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    x, y = batch(cfg, seed=flag)
    tile = model.network.get_layer(f"ssl_f{flag}_puzzle_tile0")
    before = tile.get_weights()[0].copy()
    hist = model.fit(x, y, batch_size=B, epochs=1, verbose=0).history
    assert np.all(np.isfinite(hist["loss"])) and not np.allclose(before, tile.get_weights()[0])
    want_cols = {"loss", "loss_yaw", "loss_pitch", "loss_roll", "loss_ssl", "mae_yaw", "mae_pitch", "mae_roll",
                 "mae_mean"}
    assert want_cols <= set(hist)
    np.testing.assert_allclose(hist["mae_mean"][0], np.mean([hist[f"mae_{a}"][0] for a in cfg.model.angles]),
                               rtol=1e-5)


def test_regression_uncertainty_loss_and_log_vars():
    """Eq. 3 (RMSE per angle + C * SSL CEs) under Kendall weighting with trainable log-variances."""
    cfg = cfg_for(model__backbone="resnet18", model__head="regression", model__angles=("yaw", "pitch"),
                  ssl__task="rotation2x2", ssl__weight=1.0, optim__loss_weighting="uncertainty")
    model = MultiTaskModel(build_network(cfg), cfg)
    assert model.log_vars.trainable and tuple(model.log_vars.shape) == (3,)
    model.log_vars.assign([0.3, -0.2, 0.5])
    x, y = batch(cfg, seed=9)
    pred = model(x, training=False)
    z = {k: v.numpy().astype(np.float64) for k, v in pred.items()}
    rm = [np.sqrt(np.mean((z[a][:, 0] - y[a]) ** 2)) for a in ("yaw", "pitch")]
    ssl = sum(np_ce(y[f"rotation_{i}"], z[f"rotation_{i}"]).mean() for i in range(4))
    want = np.exp(-0.3) * rm[0] + 0.3 + np.exp(0.2) * rm[1] - 0.2 + np.exp(-0.5) * ssl + 0.5
    np.testing.assert_allclose(model.compute_loss(x, y, pred).numpy(), want, rtol=1e-4)
    model.compile(optimizer=keras.optimizers.Adam(0.1), run_eagerly=True)
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    assert not np.allclose(model.log_vars.numpy(), [0.3, -0.2, 0.5])


def test_geometric_weighting_loss():
    cfg = cfg_for(model__backbone="resnet18", model__head="regression", model__angles=("yaw", "pitch"),
                  optim__loss_weighting="geometric")
    model = MultiTaskModel(build_network(cfg), cfg)
    x, y = batch(cfg, seed=11)
    pred = model(x, training=False)
    rm = [np.sqrt(np.mean((pred[a].numpy()[:, 0] - y[a]) ** 2)) for a in ("yaw", "pitch")]
    np.testing.assert_allclose(model.compute_loss(x, y, pred).numpy(), np.sqrt(rm[0] * rm[1]), rtol=1e-4)


def test_mixed_precision_outputs_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        cfg = cfg_for(model__backbone="resnet18", ssl__task="puzzle2x2")
        net = build_network(cfg)
        inf = build_inference_model(cfg, net)
        assert net.get_layer("backbone").get_layer("conv1_conv").compute_dtype == "float16"
        assert all(t.dtype == "float32" for t in net.output.values())
        assert all(t.dtype == "float32" for t in inf.output.values())
        out = inf(batch(cfg)[0])
        assert all(v.dtype == tf.float32 and np.all(np.isfinite(v.numpy())) for v in out.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_freeze_backbone_for_linear_evaluation():
    cfg = cfg_for(model__backbone="resnet18", model__freeze_backbone=True)
    net = build_network(cfg)
    assert not net.get_layer("backbone").trainable_weights
    assert {w.path.split("/")[0] for w in net.trainable_weights} == {"head_yaw", "head_pitch", "head_roll"}
