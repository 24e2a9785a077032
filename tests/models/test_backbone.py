"""Backbones: named taps stage1..4 (shapes, strides, channels), preprocessing, weight loading and its errors."""
import os

import h5py
import keras
import numpy as np
import pytest

from hmtl_tf.models.backbone import (STAGE_CHANNELS, TAP_STRIDES, build_backbone, imagenet_filename,
                                     tap_layer_names)
from hmtl_tf.models.layers import ImagePreprocess
from tests.helpers import run_in_map


def check_taps(model, name, size):
    for flag, stride in TAP_STRIDES.items():
        shape = tuple(model.output[f"stage{flag}"].shape)
        assert shape == (None, size // stride, size // stride, STAGE_CHANNELS[name][flag - 1]), (flag, shape)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_taps_at_64(name):
    model = build_backbone(name, (64, 64, 3))
    check_taps(model, name, 64)
    for stage, layer in tap_layer_names(name).items():
        assert model.get_layer(layer).output is not None  # the tap is a named layer of the backbone
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert sorted(out) == ["stage1", "stage2", "stage3", "stage4"]


def test_resnet50_taps_at_224_keras_names():
    model = build_backbone("resnet50", (224, 224, 3))
    check_taps(model, "resnet50", 224)
    assert tap_layer_names("resnet50") == {"stage1": "conv2_block3_out", "stage2": "conv3_block4_out",
                                           "stage3": "conv4_block6_out", "stage4": "conv5_block3_out"}
    assert model.count_params() == 23_587_712  # keras.applications.ResNet50(include_top=False) (+ 0 preprocess)


def test_deeper_resnet_tap_names():
    assert tap_layer_names("resnet101")["stage3"] == "conv4_block23_out"
    assert tap_layer_names("resnet152")["stage2"] == "conv3_block8_out"
    assert tap_layer_names("resnet18")["stage4"] == "conv5_block2_out"
    with pytest.raises(ValueError, match="--backbone='vgg'"):
        tap_layer_names("vgg")


def test_image_preprocess_matches_keras_caffe():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    want = keras.applications.resnet50.preprocess_input(x.copy())
    np.testing.assert_allclose(ImagePreprocess()(x).numpy(), want, rtol=1e-6, atol=1e-4)
    got = run_in_map(ImagePreprocess(), x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)


def test_imagenet_missing_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        build_backbone("resnet50", (64, 64, 3), weights="imagenet")
    msg = str(err.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg and str(tmp_path) in msg
    assert "\n" not in msg
    with pytest.raises(ValueError, match="no Keras ImageNet weights"):
        build_backbone("resnet18", (64, 64, 3), weights="imagenet")
    with pytest.raises(FileNotFoundError, match="--init=.*nope.weights.h5"):
        build_backbone("resnet18", (64, 64, 3), weights=str(tmp_path / "nope.weights.h5"))


def test_imagenet_weights_load_from_keras_cache(tmp_path, monkeypatch):
    """A notop file in the Keras (legacy h5) format at the cache path is loaded, layer for layer."""
    from keras.src.legacy.saving import legacy_h5_format

    source = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / imagenet_filename("resnet50"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    model = build_backbone("resnet50", (64, 64, 3), weights="imagenet")
    for name in ("conv1_conv", "conv4_block6_3_bn", "conv5_block3_3_conv"):
        for a, b in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_own_pretraining_weights_roundtrip(tmp_path):
    source = build_backbone("resnet18", (64, 64, 3))
    path = str(tmp_path / "bb.weights.h5")
    source.save_weights(path)
    model = build_backbone("resnet18", (64, 64, 3), weights=path)
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="do not fit backbone"):
        build_backbone("resnet34", (64, 64, 3), weights=path)
