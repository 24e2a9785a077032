"""SSL pre-training (hmtl_tf.pretrain): models, batch transforms, train steps, the backbone file and --init."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import config as C
from hmtl_tf import pretrain as P

SIZE = 64


def _cfg(method):
    cfg = P.make_pretrain_config("smoke", method, {"batch_size": 4})
    cfg.model.angles = ("yaw", "pitch")
    return cfg


def _spec(method, tmp_path, probe=False):
    return P.PretrainSpec(method=method, out=str(tmp_path / f"{method}.weights.h5"), projector=(32, 32, 16),
                          linear_probe=probe)


def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.uniform(0, 255, (n, SIZE, SIZE, 3)).astype(np.float32))
    targets = {"yaw": tf.constant(rng.uniform(-60, 60, n).astype(np.float32)),
               "pitch": tf.constant(rng.uniform(-30, 30, n).astype(np.float32))}
    return images, targets


def test_spec_and_config_validation(tmp_path):
    with pytest.raises(C.ConfigError, match="--method"):
        P.PretrainSpec(method="simclr", out="a.weights.h5").validate()
    with pytest.raises(C.ConfigError, match="--out"):
        P.PretrainSpec(method="puzzle2x2", out="a.h5").validate()
    cfg = P.make_pretrain_config("paper", "barlow_twins")
    assert (cfg.epochs, cfg.batch_size, cfg.optim.lr, cfg.optim.schedule) == (64, 64, 1e-3, "cosine")
    assert cfg.data.aug_level == 0 and cfg.ssl.task == "none" and cfg.data.image_size == 224


@pytest.mark.parametrize("method", ["puzzle3x3", "barlow_twins_puzzle"])
def test_batch_transform_eager_equals_dataset_map(method):
    cfg = _cfg(method)
    fn = P.batch_transform(method, cfg, steps_per_epoch=5, start_epoch=1)
    batch = _batch()
    eager = fn(tf.constant(3, tf.int64), batch)
    ds = tf.data.Dataset.from_tensors(batch).repeat(4).enumerate().map(fn).skip(3)
    mapped = next(iter(ds))
    for key in eager:
        np.testing.assert_allclose(tf.nest.flatten(eager[key])[0].numpy(), tf.nest.flatten(mapped[key])[0].numpy(),
                                   atol=1e-3)
    assert eager["angles"].shape == (4, 2) and eager["x"].shape == (4, SIZE, SIZE, 3)
    if method == "puzzle3x3":
        perms = np.stack([eager["labels"][f"puzzle_{i}"].numpy() for i in range(9)], axis=1)
        assert all(sorted(p) == list(range(9)) for p in perms)   # each image: a permutation of the 9 tiles
    else:
        assert eager["x2"].shape == (4, SIZE, SIZE, 3)


@pytest.mark.parametrize("method", ["rotation2x2", pytest.param("barlow_twins", marks=pytest.mark.slow)])
def test_train_step_updates_backbone_and_probe(method, tmp_path):
    keras.utils.set_random_seed(0)
    cfg, spec = _cfg(method), _spec(method, tmp_path, probe=True)
    cfg.model.backbone = "resnet18"  # the same code path, a fraction of ResNet50's graph-tracing time
    backbone, model = P.build_models(cfg, spec)
    if method in P.PRETEXT:
        assert {"rotation_0", "rotation_3", "features"} <= set(model.output.keys())
        assert model.get_layer("ssl_f4_rotation_tile0").output.shape[-1] == 4
    else:
        assert model.output["embedding"].shape[-1] == 16
    probe = P.build_probe(int(model.output["features"].shape[-1]), 2)
    opt, popt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-2)
    step = P.make_train_step(model, backbone, probe, opt, popt, spec)
    batch = P.batch_transform(method, cfg, 1, 0)(tf.constant(0, tf.int64), _batch())
    before = [w.numpy().copy() for w in backbone.trainable_weights[:3]]
    pw = probe.get_layer("probe_dense").kernel.numpy().copy()
    loss, ploss, acc = step(batch)
    assert np.isfinite(float(loss)) and float(loss) > 0 and float(ploss) > 0
    if method in P.PRETEXT:  # the pretext accuracy of the same forward pass, per head and their mean
        assert set(acc) == {"ssl_acc"} | {f"ssl_acc_rotation_{i}" for i in range(4)}
        assert all(0.0 <= float(v) <= 1.0 for v in acc.values())
        assert np.isclose(float(acc["ssl_acc"]), np.mean([float(acc[f"ssl_acc_rotation_{i}"]) for i in range(4)]))
        assert P.pretext_chance(method) == 0.25
    else:
        assert acc == {}
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, backbone.trainable_weights[:3]))
    assert not np.allclose(pw, probe.get_layer("probe_dense").kernel.numpy())


def test_backbone_file_loads_into_init_and_only_the_backbone(tmp_path):
    """``--init=PATH`` (build_network): the backbone takes the file's weights, the heads keep their random init."""
    from hmtl_tf.models.hmtl import build_network

    cfg = _cfg("puzzle2x2")
    backbone, _ = P.build_models(cfg, _spec("puzzle2x2", tmp_path))
    for w in backbone.weights:  # make the "pre-trained" weights recognisable
        w.assign(w + 0.5)
    path = str(tmp_path / "pre.weights.h5")
    backbone.save_weights(path)

    net_cfg = C.make_config("smoke", {"ssl.task": "puzzle3x3", "data.image_size": SIZE})
    keras.utils.set_random_seed(1)
    random_net = build_network(net_cfg)
    net_cfg.model.init = path
    keras.utils.set_random_seed(1)
    init_net = build_network(net_cfg)

    loaded = init_net.get_layer("backbone")
    for a, b in zip(loaded.weights, backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    fresh = random_net.get_layer("backbone")
    assert not np.allclose(fresh.weights[0].numpy(), loaded.weights[0].numpy())
    heads = [l.name for l in init_net.layers if l.name.startswith(("head_", "ssl_"))]
    assert any(h.startswith("ssl_f3_puzzle_tile") for h in heads) and "head_yaw" in heads
    for name in heads:
        for a, b in zip(init_net.get_layer(name).weights, random_net.get_layer(name).weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def _smoke_data_available():
    try:
        from hmtl_tf.data.convert import prepare_dataset  # noqa: F401
        from hmtl_tf.data.synthetic import write_datasets  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.smoke
@pytest.mark.parametrize("method", [pytest.param("puzzle2x2"), pytest.param("barlow_twins_puzzle",
                                                                             marks=pytest.mark.slow)])
def test_pretrain_cli_smoke_resumes_and_writes_backbone(tmp_path, method):
    if not _smoke_data_available():
        pytest.skip("smoke data generation (hmtl_tf.data.convert.prepare_dataset) not available yet")
    out = tmp_path / "pre.weights.h5"
    cmd = [sys.executable, "-m", "hmtl_tf.pretrain", "--scale=smoke", f"--method={method}", f"--out={out}",
           "--steps_per_epoch=2", "--batch_size=8", "--projector=32,32,32", "--linear_probe", "--probe_val_batches=1"]
    first = subprocess.run(cmd + ["--epochs=1"], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    os.remove(out)  # as if killed after epoch 1: the checkpoint remains, the final file does not
    second = subprocess.run(cmd + ["--epochs=2"], capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming after epoch 1" in second.stdout
    hist = (tmp_path / "pre.history.csv").read_text().splitlines()
    assert len(hist) == 3 and "probe_val_mae_mean" in hist[0]
    if method in P.PRETEXT:  # pretext accuracy and its chance level (1/4 for the 2x2 puzzle) every epoch
        import pandas as pd
        h = pd.read_csv(tmp_path / "pre.history.csv")
        assert {"ssl_acc", "ssl_chance", "ssl_acc_puzzle_0", "ssl_acc_puzzle_3"} <= set(h.columns)
        assert list(h["ssl_chance"]) == [0.25, 0.25] and h["ssl_acc"].between(0, 1).all()
    from hmtl_tf.models.backbone import build_backbone
    build_backbone("resnet50", (SIZE, SIZE, 3), str(out))  # loads into a fresh backbone


SETUP_SCRIPT = r"""
import json, sys
from absl import flags
from hmtl_tf import pretrain as P
P.define_flags()
flags.FLAGS(["pretrain", "--method=" + sys.argv[1], "--out=x.weights.h5", "--scale=" + sys.argv[2]])
cfg, spec = P.config_from_flags()
names = ("lr", "optimizer", "aug_level", "lambd", "epochs", "batch_size", "train")
print("RESULT " + json.dumps({"defaults": {n: flags.FLAGS[n].default for n in names},
                              "help": {n: flags.FLAGS[n].help for n in names},
                              "cfg": json.loads(cfg.to_json()), "projector": list(spec.projector),
                              "lambd": spec.lambd, "probe_lr": spec.probe_lr}))
"""


def _cli_setup(method, scale):
    import json

    proc = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, method, scale], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_pretext_setup_is_one_object_behind_the_config_and_the_cli_defaults():
    """Issue 12 item 8: the pre-training set-up (the paper's BT one, shared by the pretext tasks, heads at flag 4) is
    one dataclass; make_pretrain_config and the CLI's defaults (and --help) come from it."""
    import dataclasses

    S = P.SETUP
    assert dataclasses.is_dataclass(S) and isinstance(S, P.PretrainSetup)
    assert (S.epochs, S.batch_size, S.lr, S.schedule, S.flag, S.train) == (64, 64, 1e-3, "cosine", 4, "eth_xgaze")
    assert "no set-up" in P.PretrainSetup.__doc__ and "flag 4" in P.PretrainSetup.__doc__
    for method in P.METHODS:
        cfg = P.make_pretrain_config("paper", method)
        assert (cfg.epochs, cfg.batch_size, cfg.optim.lr, cfg.optim.schedule, cfg.optim.optimizer, cfg.data.train,
                cfg.ssl.flag, cfg.ssl.dropout) == (S.epochs, S.batch_size, S.lr, S.schedule, S.optimizer, S.train,
                                                   S.flag, S.ssl_dropout)
        assert cfg.data.aug_level == (0 if method in P.BARLOW else S.aug_level)
        assert (cfg.strategy, cfg.mixed_precision) == ("one_device", "off")
    smoke = P.make_pretrain_config("smoke", "rotation2x2")
    assert (smoke.epochs, smoke.batch_size, smoke.data.image_size) == (S.smoke_epochs, S.smoke_batch_size,
                                                                       S.smoke_image_size)
    spec = P.PretrainSpec(method="barlow_twins", out="a.weights.h5")
    assert (spec.lambd, spec.projector, spec.probe_lr) == (S.lambd, S.projector, S.probe_lr)

    res = _cli_setup("puzzle3x3", "paper")
    d = res["defaults"]
    assert (d["lr"], d["optimizer"], d["aug_level"], d["lambd"]) == (S.lr, S.optimizer, S.aug_level, S.lambd)
    assert "PretrainSetup" in res["help"]["epochs"] and f"flag {S.flag}" in res["help"]["aug_level"]
    c = res["cfg"]  # the command without set-up flags resolves to SETUP
    assert (c["epochs"], c["batch_size"], c["optim"]["lr"], c["optim"]["schedule"], c["data"]["train"],
            c["data"]["aug_level"], c["ssl"]["flag"]) == (S.epochs, S.batch_size, S.lr, S.schedule, S.train,
                                                          S.aug_level, S.flag)
    smoke_cli = _cli_setup("barlow_twins", "smoke")
    assert smoke_cli["projector"] == list(S.smoke_projector) and smoke_cli["cfg"]["epochs"] == S.smoke_epochs
