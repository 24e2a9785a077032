"""FusedBatchNormalization: Keras' BatchNormalization numbers (outputs, moving statistics, gradients), eagerly and
inside tf.function, with the fused kernel only where it applies; the ResNet50 we build is keras.applications'."""
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.models.backbone import build_backbone, iter_layers
from hmtl_tf.models.batchnorm import FusedBatchNormalization, set_fused_batchnorm
from tests.helpers import save_and_reload

SHAPE = (6, 5, 7, 4)  # n = 6 * 5 * 7 = 210 values per channel


def twin_layers(momentum=0.9, epsilon=1.001e-5, seed=0):
    """(Keras BN, fused BN) built on SHAPE with the same random gamma, beta and moving statistics."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(0.5, 1.5, 4), rng.normal(0, 1, 4), rng.normal(0, 1, 4), rng.uniform(0.5, 2, 4)]
    weights = [w.astype(np.float32) for w in weights]
    keras_bn = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    fused_bn = FusedBatchNormalization(momentum=momentum, epsilon=epsilon)
    for layer in (keras_bn, fused_bn):
        layer.build(SHAPE)
        layer.set_weights(weights)
    return keras_bn, fused_bn


def inputs(seed=1):
    return tf.constant(np.random.default_rng(seed).normal(3.0, 2.0, SHAPE).astype(np.float32))


def step(layer, x, training=True):
    """(output, d loss / d [x, gamma, beta]) of one call; the loss weighs every output differently."""
    w = tf.constant(np.random.default_rng(7).normal(0, 1, SHAPE).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(w * y * y) + tf.reduce_sum(y)
    return y, tape.gradient(loss, [x, layer.gamma, layer.beta])


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_training_matches_keras_batchnorm(graph):
    keras_bn, fused_bn = twin_layers()
    assert fused_bn.fused_applies(inputs(), True, None)
    runs = [tf.function(lambda x, layer=layer: step(layer, x)) if graph else (lambda x, layer=layer: step(layer, x))
            for layer in (keras_bn, fused_bn)]
    for call in range(2):  # the second call starts from the updated moving statistics
        x = inputs(seed=call + 1)
        (y0, g0), (y1, g1) = runs[0](x), runs[1](x)
        np.testing.assert_allclose(y1.numpy(), y0.numpy(), rtol=1e-5, atol=1e-5)
        for a, b in zip(g1, g0):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
        for name in ("moving_mean", "moving_variance"):
            np.testing.assert_allclose(getattr(fused_bn, name).numpy(), getattr(keras_bn, name).numpy(),
                                       rtol=1e-6, atol=1e-6)


def test_moving_statistics_use_the_biased_batch_variance():
    """NumPy re-statement of the update: moving = m * moving + (1 - m) * batch, variance over n (not n - 1)."""
    _, fused_bn = twin_layers(momentum=0.8)
    mean0, var0 = fused_bn.moving_mean.numpy().copy(), fused_bn.moving_variance.numpy().copy()
    x = inputs()
    y = fused_bn(x, training=True).numpy()
    flat = x.numpy().reshape(-1, 4)
    np.testing.assert_allclose(fused_bn.moving_mean.numpy(), 0.8 * mean0 + 0.2 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(fused_bn.moving_variance.numpy(), 0.8 * var0 + 0.2 * flat.var(0), rtol=1e-5)
    gamma, beta = fused_bn.gamma.numpy(), fused_bn.beta.numpy()
    want = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1.001e-5) * gamma + beta
    np.testing.assert_allclose(y.reshape(-1, 4), want, rtol=1e-4, atol=1e-4)


def test_inference_is_keras_and_touches_no_statistics():
    keras_bn, fused_bn = twin_layers()
    x = inputs()
    np.testing.assert_allclose(fused_bn(x, training=False).numpy(), keras_bn(x, training=False).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(fused_bn.moving_mean.numpy(), keras_bn.moving_mean.numpy())


def test_fused_kernel_only_where_it_gives_keras_numbers():
    _, fused_bn = twin_layers()
    x = inputs()
    assert not fused_bn.fused_applies(x, False, None)            # inference
    assert not fused_bn.fused_applies(x, None, None)
    assert not fused_bn.fused_applies(tf.cast(x, tf.bfloat16), True, None)  # mixed precision: Keras' upcast path
    assert not fused_bn.fused_applies(tf.zeros((4, 3)), True, None)          # not NHWC
    assert not fused_bn.fused_applies(x, True, tf.ones(SHAPE[:3], bool))    # a mask
    _, tiny_eps = twin_layers(epsilon=1e-6)                                 # the kernel would raise it to 1.001e-5
    assert not tiny_eps.fused_applies(x, True, None)
    fused_bn.synchronized = True
    assert not fused_bn.fused_applies(x, True, None)
    fused_bn.synchronized = False
    fused_bn.trainable = False                                              # frozen BN runs in inference mode
    assert not fused_bn.fused_applies(x, True, None)
    fused_bn.trainable = True
    assert set_fused_batchnorm([fused_bn, keras.layers.Dense(2)], False) == 1
    assert not fused_bn.fused_applies(x, True, None)


def test_config_roundtrip_keeps_the_switch(tmp_path):
    layer = FusedBatchNormalization(momentum=0.7, fused=False)
    clone = FusedBatchNormalization.from_config(layer.get_config())
    assert clone.fused is False and clone.momentum == 0.7
    model = keras.Sequential([keras.Input(SHAPE[1:]), FusedBatchNormalization(name="bn")])
    loaded = save_and_reload(model, str(tmp_path / "m.keras"))
    assert isinstance(loaded.get_layer("bn"), FusedBatchNormalization) and loaded.get_layer("bn").fused


def test_resnet50_is_keras_applications_resnet50(tmp_path):
    """Same layer names in the same order, same weight shapes; with keras.applications' weights loaded through its
    notop .h5 format, the same stage outputs in inference and in training (fused BN)."""
    from keras.src.legacy.saving import legacy_h5_format

    size = 64
    source = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(size, size, 3))
    path = tmp_path / "notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    ours = build_backbone("resnet50", (size, size, 3), weights=str(path))
    want = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in source.layers[1:]]
    got = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in ours.layers[2:]]  # image, preprocess
    assert got == want
    assert sum(isinstance(layer, FusedBatchNormalization) and layer.fused for layer in iter_layers(ours)) == 53
    x = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype(np.float32)
    pre = keras.applications.resnet50.preprocess_input(x.copy())
    taps = {"stage1": "conv2_block3_out", "stage4": "conv5_block3_out"}
    probe = keras.Model(source.input, {k: source.get_layer(v).output for k, v in taps.items()})
    for training in (False, True):
        expected, actual = probe(pre, training=training), ours(x, training=training)
        for k in taps:
            scale = float(np.abs(expected[k].numpy()).max()) + 1e-6
            np.testing.assert_allclose(actual[k].numpy() / scale, expected[k].numpy() / scale, atol=2e-4)
