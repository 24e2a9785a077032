"""The training transforms on the accelerator (``--transforms_on=device``; issue 17, docs/GPU.md).

The host part of the pipeline (``pipeline.example_fn(device=True)``) decodes, crops (the random margin k and the
central zoom are crop-box geometry, Sec. 4.2) and resizes; it emits uint8 images and the element seed
(``targets["transform_seed"]``, from (run seed, epoch, index)). :class:`DeviceTransform` runs the rest inside the
compiled train step, batched: ``pipeline.after_crop`` (flip, the non-occluding ops, the SSL transform with its
labels, the occluding ops) vectorised over the batch with ``tf.vectorized_map``, or as a ``tf.map_fn`` loop
inside the graph when the set holds an op with per-image shapes (:data:`LOOP_OPS`: the down-scale's size).
It is the host's own per-image function with the host's seeds, so a fixed (seed, epoch, index) gives the same
labels and the same image up to the uint8 rounding of the crop (tests/data/test_device_transforms.py: the tolerance).
"""
from __future__ import annotations

from typing import Dict, Tuple

import tensorflow as tf

from hmtl_tf.config import TrainConfig, aug_ops
from hmtl_tf.data import pipeline


# Ops whose intermediate shapes differ per image (the down-scale's size) or that branch into per-image kernels:
# a set holding one runs as a loop over the batch (tf.map_fn, inside the graph) instead of vectorised.
LOOP_OPS = ("downscale", "median_blur", "kdoe_colour", "kdoe_shadow_noise")


class DeviceTransform:
    """``(images uint8 (B, S, S, 3), targets with transform_seed) -> (images float32, targets + SSL labels)``."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.angles = tuple(cfg.model.angles)
        self.loop = bool(set(aug_ops(cfg.data)) & set(LOOP_OPS))

    def one(self, image, seed, ypr):
        image, ypr, _, _, ssl_t = pipeline.after_crop(tf.cast(image, tf.float32), ypr, seed, self.cfg)
        return image, ypr, ssl_t

    def __call__(self, images, targets: Dict[str, tf.Tensor]) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        targets = dict(targets)
        seeds = tf.cast(targets.pop(pipeline.TRANSFORM_SEED), tf.int64)
        batch = tf.shape(images)[0]
        zero = tf.zeros([batch], tf.float32)
        ypr = tf.stack([tf.cast(targets[a], tf.float32) if a in targets else zero
                        for a in ("yaw", "pitch", "roll")], axis=1)
        elems = (images, seeds, ypr)
        if self.loop:
            sample = self.one(images[0], seeds[0], ypr[0])
            sig = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), sample)
            out, ypr, ssl_t = tf.map_fn(lambda a: self.one(*a), elems, fn_output_signature=sig)
        else:
            out, ypr, ssl_t = tf.vectorized_map(lambda a: self.one(*a), elems, fallback_to_while_loop=True,
                                                warn=False)
        for a in self.angles:
            targets[a] = ypr[:, pipeline.ANGLE_INDEX[a]]
        if self.cfg.ssl.heads:
            targets.update(ssl_t)
        return out, targets

    def apply(self, data):
        """Keras ``data`` (x, y[, w]) of a training batch -> the transformed batch (a batch without the seed key,
        e.g. an evaluation batch, passes unchanged)."""
        if not isinstance(data, tuple) or len(data) < 2 or not isinstance(data[1], dict) \
                or pipeline.TRANSFORM_SEED not in data[1]:
            return data
        x, y = self(data[0], data[1])
        return (x, y) + tuple(data[2:])

    def output_spec(self, element_spec):
        """The element spec of the transformed batches (a trace of :meth:`apply` on the spec)."""
        fn = tf.function(lambda *d: self.apply(tuple(d)))
        out = fn.get_concrete_function(*element_spec).structured_outputs
        return tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), out)


def compiles_with_xla(transform: DeviceTransform, element_spec, batch: int = 2) -> bool:
    """True when ``transform`` on a batch of ``element_spec`` compiles with XLA (the ``--xla=auto`` probe: e.g. the
    down-scale's per-image sizes do not)."""
    def zeros(spec):
        shape = [batch if d is None else d for d in spec.shape]
        return tf.zeros(shape, spec.dtype)
    args = tf.nest.map_structure(zeros, tuple(element_spec))
    try:
        tf.function(lambda *d: transform.apply(tuple(d)), jit_compile=True).experimental_get_compiler_ir(
            *args)(stage="hlo")
        return True
    except Exception:  # noqa: BLE001 (any lowering error means "does not compile")
        return False
