"""MNN network (64 px trains, 256 px builds), task sets, the pose-only inference export, Eq. 5 in the training
model, and loading the landmark pre-training."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import mnn
from hmtl_tf.config import ConfigError, make_config
from hmtl_tf.mnn import losses as L
from hmtl_tf.mnn.mean_face import synthetic_mean_face
from hmtl_tf.models import mnn as M
from tests.helpers import save_and_reload

ANGLES = ("yaw", "pitch", "roll")
DECODER_MARKS = ("mnn_dec", "heatmaps", "visibility")


def cfg_for(size=64, tasks="all"):
    cfg = make_config("smoke", {"data.image_size": size, "model.family": "mnn", "model.tasks": tasks})
    return cfg


@pytest.fixture(scope="module")
def net64():
    keras.utils.set_random_seed(0)
    return M.build_network(cfg_for())


@pytest.fixture(scope="module")
def face():
    return synthetic_mean_face(8).astype(np.float32)


def batch(b=2, s=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (b, s, s, 3)).astype(np.float32)
    y = {a: rng.uniform(-60, 60, b).astype(np.float32) for a in ANGLES}
    y["landmarks"] = rng.uniform(2, s - 2, (b, 68, 2)).astype(np.float32)
    y["visibility"] = (rng.uniform(size=(b, 68)) > 0.2).astype(np.float32)
    return x, y


def test_network_at_64_px(net64):
    out = net64.output
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {
        "yaw": (), "pitch": (), "roll": (), "pose_ae": (6,), "heatmaps": (64, 64, 68), "visibility": (68,)}
    names = [layer.name for layer in net64.layers]
    assert sum(n.endswith("_out") and n.startswith("mnn_enc") for n in names) == 7      # 64 -> 1: 7 stages
    assert sum(n.endswith("_out") and n.startswith("mnn_dec") for n in names) == 6
    assert net64.get_layer("mnn_enc6_b0_out").output.shape[1:3] == (1, 1)              # the 1x1 bottleneck
    assert net64.get_layer("mnn_enc0_b0_out").output.shape[-1] == 16
    assert net64.get_layer("mnn_enc6_b0_out").output.shape[-1] == 64


def test_network_builds_at_256_px_like_the_paper():
    arch = M.arch_for(256)
    assert arch.sizes == (256, 128, 64, 32, 16, 8, 4, 2, 1)                              # 9 stages
    assert arch.widths == (64, 128, 256, 256, 256, 256, 256, 256, 256)                    # 64 -> 256
    net = M.build_network(cfg_for(256))
    assert tuple(net.output["heatmaps"].shape[1:]) == (256, 256, 68)
    assert net.get_layer("mnn_enc8_b0_out").output.shape[1:] == (1, 1, 256)


def test_sizes_that_are_not_powers_of_two_are_cropped_back():
    assert M.arch_for(224).sizes == (224, 112, 56, 28, 14, 7, 4, 2, 1)
    net = M.build_network(cfg_for(24))
    assert tuple(net.output["heatmaps"].shape[1:]) == (24, 24, 68)
    assert "mnn_dec3_crop" in [layer.name for layer in net.layers]                        # 3 -> 2 -> 4 -> 3


def test_task_sets():
    pose = M.build_network(cfg_for(32, "pose"))                                           # single-task encoder
    assert set(pose.output) == {"yaw", "pitch", "roll", "pose_ae"}
    assert not [layer.name for layer in pose.layers if layer.name.startswith(DECODER_MARKS)]
    assert M.task_set("").losses == M.task_set("all").losses == {"ed", "ae", "heatmap", "visibility"}
    assert M.task_set("landmarks").losses == {"heatmap"}
    assert M.task_set("all_decoder").pose_at == "decoder"
    with pytest.raises(ConfigError, match="--tasks='puzzle'"):
        M.task_set("puzzle")


def test_inference_export_has_no_decoder_and_returns_degrees(net64, tmp_path):
    cfg = cfg_for()
    inf = mnn.build_inference_model(cfg, net64)
    names = [layer.name for layer in inf.layers]
    assert not [n for n in names if n.startswith(DECODER_MARKS)], names
    assert "mnn_enc6_b0_out" in names and inf.count_params() < net64.count_params() / 2
    net64.get_layer("mnn_pose_yaw").bias.assign([0.5])                                  # 0.5 units = 22.5 deg
    x, _ = batch()
    got = inf(x, training=False)
    assert set(got) == set(ANGLES) and got["yaw"].shape == (2,)
    np.testing.assert_allclose(got["yaw"].numpy(), 0.5 * M.POSE_UNIT_DEG, atol=1e-4)     # zero kernel at init
    full = net64(x, training=False)
    for a in ANGLES:
        np.testing.assert_allclose(got[a].numpy(), full[a].numpy(), atol=1e-5)
    back = save_and_reload(inf, os.path.join(tmp_path, "inference.keras"))
    np.testing.assert_allclose(back(x)["yaw"].numpy(), got["yaw"].numpy(), atol=1e-5)
    net64.get_layer("mnn_pose_yaw").bias.assign([0.0])


def np_eq5(y, out, face, s=64):
    """NumPy re-statement of Eq. 5 (all weights 1) on one batch."""
    true = np.stack([y[a] for a in ANGLES], -1)
    pred = np.stack([out[a] for a in ANGLES], -1)
    ed = np.mean(np.linalg.norm(true - pred, axis=-1))
    mask = np.all((y["landmarks"] >= 0) & (y["landmarks"] < s), -1).astype(np.float64)
    raw = out["pose_ae"]
    ypr, sc, t = raw[:, :3] * M.POSE_UNIT_DEG, L.AE_SCALE0 * np.exp(raw[:, 3]), 0.5 + raw[:, 4:6]
    from hmtl_tf import angles
    ae, hm, vis = [], [], []
    z = out["heatmaps"].astype(np.float64)
    for i in range(len(raw)):
        proj = sc[i] * face @ angles.rotation_from_ypr(ypr[i])[:2].T * [1, -1] + t[i]
        ae.append(256 * np.sum(mask[i] * np.linalg.norm(proj - y["landmarks"][i] / s, axis=-1)) / mask[i].sum())
        c = (np.arange(s) + 0.5)
        gx = np.exp(-0.5 * (c[None] - y["landmarks"][i][:, :1]) ** 2)
        gy = np.exp(-0.5 * (c[None] - y["landmarks"][i][:, 1:]) ** 2)
        gx, gy = gx / gx.sum(1, keepdims=True), gy / gy.sum(1, keepdims=True)
        zi = z[i].reshape(-1, 68)
        logp = (zi - zi.max(0) - np.log(np.exp(zi - zi.max(0)).sum(0))).reshape(s, s, 68)
        ce = -np.einsum("lh,hwl,lw->l", gy, logp, gx)
        hm.append(np.sum(mask[i] * ce) / mask[i].sum())
        p = 1 / (1 + np.exp(-out["visibility"][i]))
        v = y["visibility"][i]
        vis.append(np.sum(mask[i] * -(v * np.log(p) + (1 - v) * np.log(1 - p))) / mask[i].sum())
    return {"ed": ed, "ae": np.mean(ae), "heatmap": np.mean(hm), "visibility": np.mean(vis)}


def test_training_loss_is_eq5(net64, face):
    cfg = cfg_for()
    model = mnn.TrainingModel(net64, cfg, mean_face=face)
    x, y = batch(seed=3)
    y["landmarks"][0, :5] = [-3.0, 10.0]                                                 # outside: masked
    rng = np.random.default_rng(4)
    out = {a: rng.uniform(-50, 50, 2).astype(np.float32) for a in ANGLES}
    out["pose_ae"] = rng.normal(scale=0.1, size=(2, 6)).astype(np.float32)
    out["heatmaps"] = rng.normal(size=(2, 64, 64, 68)).astype(np.float32)
    out["visibility"] = rng.normal(size=(2, 68)).astype(np.float32)
    want = np_eq5(y, out, face)
    got = {k: float(v) for k, v in model.task_losses(y, out).items()}
    assert got == pytest.approx(want, rel=1e-4)
    total = float(model.compute_loss(x=tf.constant(x), y=y, y_pred=out))
    assert total == pytest.approx(sum(want.values()), rel=1e-4)
    y_nolm = {a: y[a] for a in ANGLES}                                                    # e.g. BIWI validation
    assert set(model.task_losses(y_nolm, out)) == {"ed"}
    lm_model = mnn.TrainingModel(net64, cfg_for(tasks="landmarks"))                      # no mean face needed
    assert set(lm_model.task_losses(y, out)) == {"heatmap"}


def test_one_training_step_at_64_px(net64, face):
    """Eager (the first graph-mode step traces for ~1 min on 2 busy cores; the smoke run covers graph mode)."""
    cfg = cfg_for()
    model = mnn.TrainingModel(net64, cfg, mean_face=face)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False, run_eagerly=True)
    x, y = batch()
    before = net64.get_layer("mnn_heatmaps").kernel.numpy().copy()
    hist = model.fit(x, y, batch_size=2, epochs=1, verbose=0).history
    for key in ("loss", "loss_ed", "loss_ae", "loss_heatmap", "loss_visibility", "mae_yaw", "mae_pitch",
                "mae_roll", "mae_mean", "nme"):
        assert key in hist and np.isfinite(hist[key][0]), key
    assert not np.allclose(before, net64.get_layer("mnn_heatmaps").kernel.numpy())


def test_load_pretrained_copies_the_landmark_stage(tmp_path):
    keras.utils.set_random_seed(1)
    src = M.build_network(cfg_for(32, "landmarks"))
    path = os.path.join(tmp_path, "best.weights.h5")
    src.save_weights(path)
    pose = M.build_network(cfg_for(32, "pose"))                                           # "Pre+Pose"
    copied = mnn.load_pretrained(pose, str(tmp_path), cfg_for(32, "pose"))
    assert copied and all(n.startswith(M.PRETRAINED_PREFIXES) for n in copied)
    for name in ("mnn_enc0_stem_conv", "mnn_enc5_b0_c_bn"):
        for a, b in zip(pose.get_layer(name).get_weights(), src.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    full = M.build_network(cfg_for(32, "all"))                                            # "Pre+Sym"
    assert "mnn_heatmaps" in mnn.load_pretrained(full, path)
    with pytest.raises(ConfigError, match="--init"):
        mnn.load_pretrained(full, os.path.join(tmp_path, "missing.weights.h5"))
