"""FLOPs of a Keras model's forward pass, counted by the TF profiler on a concrete function's graph.

Used to check the paper's "no extra FLOPs at test time" (SPEC 3): HMTL's inference model = SL's.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def count_flops(model: keras.Model, batch: int = 1) -> int:
    """Float operations of ``model(x, training=False)`` for a batch of ``batch`` (a multiply-add counts 2)."""
    specs = [tf.TensorSpec((batch,) + tuple(t.shape[1:]), t.dtype) for t in model.inputs]
    fn = tf.function(lambda *xs: model(xs[0] if len(xs) == 1 else list(xs), training=False))
    graph = fn.get_concrete_function(*specs).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    opts = builder(builder.float_operation()).with_empty_output().build()
    stats = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=opts)
    return int(stats.total_float_ops)
