"""Heads: SH names/shapes, the SSL branch (Sec. 4.1, Fig. 5), decode layers (Eq. 2's E) and their configs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.bins import hopenet_bins
from hmtl_tf.models.heads import pooled_features, ssl_branch, ssl_head_specs, supervised_heads
from hmtl_tf.models.layers import HopeNetDecode, SqueezeLast


@pytest.mark.parametrize("task,want", [
    ("none", []),
    ("puzzle2x2", [("puzzle", 4, 4)]),
    ("puzzle3x3", [("puzzle", 9, 9)]),
    ("rotation2x2", [("rotation", 4, 4)]),
    ("puzzle_rotation2x2", [("puzzle", 4, 4), ("rotation", 4, 4)]),
])
def test_ssl_head_specs(task, want):
    assert ssl_head_specs(task) == want


@pytest.mark.parametrize("head,units", [("hopenet", 66), ("regression", 1)])
def test_supervised_heads_names_and_shapes(head, units):
    fmap = keras.Input((2, 2, 32))
    outs = supervised_heads(pooled_features(fmap, 0.5), ("yaw", "pitch"), head, n_bins=66)
    model = keras.Model(fmap, outs)
    assert {a: tuple(t.shape) for a, t in outs.items()} == {"yaw": (None, units), "pitch": (None, units)}
    assert {"head_yaw", "head_pitch", "sh_pool", "sh_dropout"} <= {l.name for l in model.layers}
    with pytest.raises(ValueError, match="--head='bins'"):
        supervised_heads(pooled_features(keras.Input((2, 2, 4)), 0.5, prefix="x"), ("yaw",), "bins")


def test_ssl_branch_structure():
    fmap = keras.Input((4, 4, 64))
    heads = ssl_branch(fmap, 3, "puzzle", 9, 9, 0.2)
    model = keras.Model(fmap, heads)
    names = {l.name for l in model.layers}
    for i in (1, 2, 3):
        assert {f"ssl_f3_puzzle_block_{i}_conv", f"ssl_f3_puzzle_block_{i}_bn"} <= names
    assert {"ssl_f3_puzzle_block_add", "ssl_f3_puzzle_pool", "ssl_f3_puzzle_dropout"} <= names
    assert [h.shape[-1] for h in heads] == [9] * 9
    assert [l.name for l in model.layers if "tile" in l.name] == [f"ssl_f3_puzzle_tile{i}" for i in range(9)]
    assert model.get_layer("ssl_f3_puzzle_dropout").rate == 0.2
    # three convs: 1x1 (C/4), 3x3 (C/4), 1x1 (C) inside an identity skip
    assert model.get_layer("ssl_f3_puzzle_block_3_conv").output.shape == fmap.shape
    assert model.get_layer("ssl_f3_puzzle_block_2_conv").kernel.shape == (3, 3, 16, 16)


@pytest.mark.parametrize("decode", ["left_edge", "centre"])
def test_hopenet_decode_layer(decode):
    b = hopenet_bins(3)
    logits = np.random.default_rng(1).normal(0, 3, (4, b.count)).astype(np.float32)
    z = logits - logits.max(-1, keepdims=True)
    want = (np.exp(z) / np.exp(z).sum(-1, keepdims=True)) @ b.decode_values(decode)
    layer = HopeNetDecode(3, decode=decode)
    np.testing.assert_allclose(layer(logits).numpy(), want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(next(iter(tf.data.Dataset.from_tensors(logits).map(layer))).numpy(), want,
                               rtol=1e-5, atol=1e-4)
    clone = HopeNetDecode.from_config(layer.get_config())
    np.testing.assert_allclose(clone(logits).numpy(), want, rtol=1e-5, atol=1e-4)


def test_squeeze_last():
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    assert SqueezeLast()(x).numpy().tolist() == [0.0, 1.0, 2.0]
    assert next(iter(tf.data.Dataset.from_tensors(x).map(SqueezeLast()))).shape == (3,)
