"""``FitModel``: the base of our ``model.fit`` wrappers (HMTL, KD-OE, MNN) under any ``tf.distribute`` strategy.

Keras 3.15's TensorFlow trainer builds a model that is fitted inside a strategy scope by taking the first
batch from the epoch iterator and averaging it over the replicas eagerly (``_maybe_symbolic_build``). That
(1) consumes one batch of epoch 1, so a run with an exact ``steps_per_epoch`` reads one batch less than it
should and a resumed run no longer sees the same batches; and (2) fails under MultiWorkerMirroredStrategy
(``reduce`` of a ``PerReplica`` image batch: "Attempt to convert a value ... PerReplica ... to a Tensor").
The symbolic build needs only shapes and dtypes, so we build from the dataset's ``element_spec`` (with or
without a strategy: see ``_maybe_symbolic_build``).

Under MultiWorkerMirroredStrategy Keras 3.15 also reduces every step's logs with
``strategy.reduce("MEAN", v, axis=0)``, which rejects the scalar logs of a ``train_step``; our steps' logs are
global-batch statistics (identical on every replica), so they are returned as shape-(1,) tensors there.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def _multi_worker(strategy) -> bool:
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())  # noqa: SLF001 (the test Keras itself uses)


def _symbolic(spec):
    if spec is None:
        return None
    return keras.KerasTensor(tuple(spec.shape), dtype=spec.dtype.name)


def _vector_logs(strategy, logs):
    if not _multi_worker(strategy):
        return logs
    return {k: tf.reshape(tf.convert_to_tensor(v), [1]) for k, v in logs.items()}


class FitModel(keras.Model):
    """``keras.Model`` whose strategy-scope build reads no data and whose step logs reduce under
    MultiWorkerMirroredStrategy (see the module docstring)."""

    device_transform = None  # ``transforms_on=device``: applied to each training batch first (runsetup.compile_model)

    def train_step(self, data):
        if self.device_transform is not None:
            data = self.device_transform.apply(data)
        return _vector_logs(self.distribute_strategy, super().train_step(data))

    def test_step(self, data):
        return _vector_logs(self.distribute_strategy, super().test_step(data))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if data_batch is None and iterator is not None:
            adapter = getattr(iterator, "data_adapter", None)
            dataset = adapter.get_tf_dataset() if adapter is not None else None
            if isinstance(dataset, tf.data.Dataset):
                spec = dataset.element_spec
                if self.device_transform is not None:  # the model sees the transformed batches
                    spec = self.device_transform.output_spec(spec)
                data_batch = tf.nest.map_structure(_symbolic, spec)
        if data_batch is None:  # not a tf.data input: Keras's own path
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        # Also without a strategy (where Keras defers the build to the first trace): the optimizer's slots then
        # exist before ``train_function`` is traced, so tf.function traces the step once instead of twice
        # (a variable created in the first trace forces a second one): ~10 s less per ResNet50 run start.
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)
