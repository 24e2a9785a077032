"""Eq. 5 weights as named config options (``cfg.mnn.alpha_*``, flags ``--mnn_alpha_*``) reach the training loss:
a batch whose four terms are known by hand (ED 5 deg, AE 20 px, heatmap CE ln 4096, visibility CE ln 2)."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import cli, mnn
from hmtl_tf.config import ConfigError, TrainConfig, make_config
from hmtl_tf.mnn import losses as L
from hmtl_tf.mnn.mean_face import synthetic_mean_face
from hmtl_tf.mnn.training import config_weights
from hmtl_tf.models import mnn as M

S = 64
ANGLES = ("yaw", "pitch", "roll")
HAND = {"ed": 5.0, "ae": 20.0, "heatmap": math.log(S * S), "visibility": math.log(2.0)}


def cfg_with(**alphas):
    over = {"data.image_size": S, "model.family": "mnn", "model.tasks": "all"}
    over.update({f"mnn.alpha_{k}": v for k, v in alphas.items()})
    return make_config("smoke", over).validate()


@pytest.fixture(scope="module")
def net():
    keras.utils.set_random_seed(0)
    return M.build_network(cfg_with())


@pytest.fixture(scope="module")
def face():
    return synthetic_mean_face(8).astype(np.float32)


def hand_batch(face, b=2):
    """Outputs and targets with hand-known terms: |(3, 4, 0)| = 5 deg; the frontal mean face at scale 0.2 and
    centre 0.5 (raw p^AE = 0) against landmarks 3 px right and 4 px down of it: 5 px at 64 px = 20 px at 256;
    all-zero heatmap logits: a uniform softmax, CE = ln(64^2); zero visibility logits: CE = ln 2."""
    proj = (0.2 * face[:, :2] * [1.0, -1.0] + 0.5) * S
    lm = np.broadcast_to(proj + [3.0, 4.0], (b, 68, 2)).astype(np.float32)
    assert lm.min() >= 0 and lm.max() < S
    y = {a: np.zeros(b, np.float32) for a in ANGLES}
    y["landmarks"] = lm
    y["visibility"] = (np.arange(b * 68).reshape(b, 68) % 3 > 0).astype(np.float32)
    out = {"yaw": np.full(b, 3.0, np.float32), "pitch": np.full(b, 4.0, np.float32), "roll": np.zeros(b, np.float32),
           "pose_ae": np.zeros((b, 6), np.float32), "heatmaps": np.zeros((b, S, S, 68), np.float32),
           "visibility": np.zeros((b, 68), np.float32)}
    x = np.zeros((b, S, S, 3), np.float32)
    return x, y, out


def test_hand_computed_terms(net, face):
    model = mnn.TrainingModel(net, cfg_with(), mean_face=face)
    _, y, out = hand_batch(face)
    got = {k: float(v) for k, v in model.task_losses(y, out).items()}
    assert got == pytest.approx(HAND, rel=1e-4)


@pytest.mark.parametrize("alphas", [dict(ed=2.0, ae=0.5, heatmap=3.0, visibility=0.25),
                                    dict(ed=0.1, ae=1.0, heatmap=1.0, visibility=10.0)])
def test_config_weights_reach_the_loss(net, face, alphas):
    cfg = cfg_with(**alphas)
    model = mnn.TrainingModel(net, cfg, mean_face=face)
    assert model.alpha == alphas
    x, y, out = hand_batch(face)
    total = float(model.compute_loss(x=tf.constant(x), y=y, y_pred=out))
    assert total == pytest.approx(sum(alphas[t] * HAND[t] for t in HAND), rel=1e-4)


def test_zero_weight_switches_a_term_off(net, face):
    model = mnn.TrainingModel(net, cfg_with(visibility=0.0), mean_face=face)
    assert "visibility" not in model.terms and "loss_visibility" not in {m.name for m in model.term_trackers.values()}
    x, y, out = hand_batch(face)
    total = float(model.compute_loss(x=tf.constant(x), y=y, y_pred=out))
    assert total == pytest.approx(HAND["ed"] + HAND["ae"] + HAND["heatmap"], rel=1e-4)
    no_ae = mnn.TrainingModel(net, cfg_with(ae=0.0))              # no mean face needed without the AE term
    assert "ae" not in no_ae.terms
    with pytest.raises(ValueError, match="weight 0"):
        mnn.TrainingModel(net, make_config("smoke", {"data.image_size": S, "model.family": "mnn",
                                                     "model.tasks": "landmarks", "mnn.alpha_heatmap": 0.0}))


def test_weights_are_named_flags_and_saved_with_the_run():
    names = {name for _, name, _ in cli._fields()}
    assert {"mnn_alpha_ed", "mnn_alpha_ae", "mnn_alpha_heatmap", "mnn_alpha_visibility", "mnn_augment"} <= names
    assert len(names) == len(cli._fields())                        # no flag name collides
    cfg = cfg_with(ae=0.5)
    back = TrainConfig.from_json(cfg.to_json())
    assert back.mnn.alpha_ae == 0.5 and json.loads(cfg.to_json())["mnn"]["alpha_ae"] == 0.5
    assert config_weights(back) == {"ed": 1.0, "ae": 0.5, "heatmap": 1.0, "visibility": 1.0}
    with pytest.raises(ConfigError, match="--mnn_alpha_ed"):
        cfg_with(ed=-1.0)


def test_alignment_unit_is_256px():
    assert L.AE_UNIT == 256.0                                        # HAND["ae"] = 5 px * 256 / 64
