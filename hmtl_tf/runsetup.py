"""The run set-up shared by every command that trains (``train``, ``distill``, ``pretrain``; issues 15 and 17).

One place for: the distribution strategy, the seeds and determinism, the Keras dtype policy (mixed precision), the
fast GPU recipe (:class:`Recipe`: XLA ``jit_compile``, ``steps_per_execution``, prefetch to the device, where the
training transforms run, channels-last) resolved once per run and recorded in the run directory (``recipe.json``),
the model compilation with that recipe (:func:`compile_model`), the training dataset's last stage
(:func:`device_dataset`) and the per-epoch callbacks (:func:`run_callbacks`: evaluation of the monitored sets,
checkpoints, the selection rule's best weights, history.csv, NaN stop). Each switch is a config field (``auto``:
on for accelerators, off on CPU, so CPU runs keep float32, no XLA, host transforms); docs/GPU.md.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Optional

from hmtl_tf import config as C
from hmtl_tf.rundir import write_atomic, write_history_csv, write_json_atomic

GPU_STEPS_PER_EXECUTION = 16  # steps per compiled call on GPUs for ``steps_per_execution=0`` (auto)


class NaNLossError(RuntimeError):
    pass


class SelectionError(NaNLossError):
    """A ``best_*`` selection rule found no value of its monitored metric (stops the run like a NaN loss)."""


# ----------------------------------------------------------------------------------------- devices
def make_strategy(name: str):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        if os.environ.get("TF_CONFIG"):
            name = "multi_worker"
        elif len(gpus) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":  # all GPUs; without GPUs the logical CPUs when split (tests: 2 CPU replicas)
        cpus = [] if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus if len(cpus) > 1 else None)
    return tf.distribute.get_strategy()


def accelerator() -> str:
    """``gpu`` (NVIDIA / CUDA GPUs visible), ``tpu`` or ``cpu``."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "gpu"
    if tf.config.list_physical_devices("TPU"):
        return "tpu"
    return "cpu"


def precision_policy(mode: str, kind: Optional[str] = None) -> str:
    """The Keras dtype policy of ``mode``: ``auto`` = ``mixed_float16`` on NVIDIA GPUs (Keras wraps the optimizer
    in a LossScaleOptimizer at compile), ``mixed_bfloat16`` on TPUs (bfloat16 needs no loss scaling), float32 on
    CPU; ``on`` = ``mixed_float16``; ``float16`` / ``bfloat16`` the mixed policy of that type; ``off`` float32."""
    kind = kind or accelerator()
    if mode == "auto":
        return {"gpu": "mixed_float16", "tpu": "mixed_bfloat16"}.get(kind, "float32")
    return {"on": "mixed_float16", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}.get(mode, "float32")


def set_precision(mode: str) -> str:
    import keras

    policy = precision_policy(mode)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def setup_devices(cfg: C.TrainConfig):
    """The device set-up of a run, one function for ``train``, ``distill`` and ``pretrain``: returns
    ``(strategy, policy)``. In the order TensorFlow needs: (1) with ``cfg.deterministic`` oneDNN's reordering CPU
    kernels off (``TF_ENABLE_ONEDNN_OPTS=0``, effective only before TensorFlow loads); (2) the ``cfg.strategy``
    distribution strategy (first: MultiWorkerMirroredStrategy must precede any other TF work); (3) the seeds
    (``keras.utils.set_random_seed``: Python, NumPy, TF); (4) op determinism with ``cfg.deterministic``; (5) the
    Keras dtype policy of ``cfg.mixed_precision`` (:func:`precision_policy`); channels-last image layout.
    Build models inside ``strategy.scope()`` after this call."""
    if cfg.deterministic:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    strategy = make_strategy(cfg.strategy)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.config.set_image_data_format("channels_last")  # NHWC: cuDNN's tensor-core layout for float16
    return strategy, set_precision(cfg.mixed_precision)


# ----------------------------------------------------------------------------------------- the recipe
@dataclasses.dataclass
class Recipe:
    """The resolved switches of one run (written to ``recipe.json``)."""

    accelerator: str
    replicas: int
    precision: str            # the Keras dtype policy
    loss_scaling: bool        # float16: Keras' LossScaleOptimizer (dynamic loss scale)
    xla: bool                 # jit_compile of the train step
    xla_reason: str
    steps_per_execution: int
    prefetch_to_device: bool
    transforms_on: str        # host | device
    data_format: str = "channels_last"

    def to_dict(self):
        return dataclasses.asdict(self)

    def line(self) -> str:
        return (f"precision={self.precision} xla={'on' if self.xla else 'off'} "
                f"steps_per_execution={self.steps_per_execution} "
                f"prefetch_to_device={'on' if self.prefetch_to_device else 'off'} transforms_on={self.transforms_on}")


def device_transform(cfg: C.TrainConfig):
    """The in-step transform of ``transforms_on=device`` (None on the host path)."""
    if cfg.transforms_on != "device":
        return None
    from hmtl_tf.data.device_transforms import DeviceTransform

    return DeviceTransform(cfg)


def resolve_recipe(cfg: C.TrainConfig, strategy, policy: str, train_spec=None, steps_per_epoch: int = 0) -> Recipe:
    """The switches of ``cfg`` resolved for this machine: ``auto`` = on for an accelerator, off on CPU (where XLA
    and mixed precision are slower). XLA ``auto`` also needs the device transforms (if any) to compile: probed on
    ``train_spec`` (the training dataset's element spec)."""
    kind = accelerator()
    xla_mode = C.xla_mode(cfg.xla)
    xla, reason = xla_mode == "on", f"--xla={xla_mode}"
    if xla_mode == "auto":
        xla, reason = kind != "cpu", ("auto: on for an accelerator" if kind != "cpu" else "auto: off on CPU")
        transform = device_transform(cfg)
        if xla and transform is not None and train_spec is not None:
            from hmtl_tf.data.device_transforms import compiles_with_xla

            if not compiles_with_xla(transform, train_spec):
                xla, reason = False, "auto: off, the device transforms of this augmentation set do not compile"
    spe = cfg.steps_per_execution or (GPU_STEPS_PER_EXECUTION if kind != "cpu" else 1)
    if steps_per_epoch:
        spe = max(1, min(spe, steps_per_epoch))
    prefetch = {"on": True, "off": False}.get(cfg.prefetch_to_device,
                                              kind == "gpu" and strategy.num_replicas_in_sync == 1)
    return Recipe(accelerator=kind, replicas=int(strategy.num_replicas_in_sync), precision=policy,
                  loss_scaling=policy == "mixed_float16", xla=bool(xla), xla_reason=reason,
                  steps_per_execution=int(spe), prefetch_to_device=bool(prefetch), transforms_on=cfg.transforms_on)


def record_recipe(run_dir: str, recipe: Recipe) -> None:
    """``<run_dir>/recipe.json``: the resolved switches (they depend on the machine, so not in config.json)."""
    write_json_atomic(os.path.join(run_dir, "recipe.json"), recipe.to_dict())


def compile_model(model, optimizer, recipe: Recipe, cfg: C.TrainConfig) -> None:
    """``model.compile`` with the recipe (jit_compile, steps_per_execution; a float16 policy gets Keras' loss
    scaling) and, for ``transforms_on=device``, the in-step transform (``FitModel.device_transform``)."""
    transform = device_transform(cfg)
    if transform is not None:
        if not hasattr(model, "device_transform"):
            raise C.ConfigError(f"--transforms_on=device: {type(model).__name__} has no in-step transform")
        model.device_transform = transform
    model.compile(optimizer=optimizer, jit_compile=recipe.xla, steps_per_execution=recipe.steps_per_execution)


def device_dataset(ds, recipe: Recipe):
    """The training dataset's last stage: with ``prefetch_to_device`` the next batches are copied to the GPU
    while the step runs (one device; MirroredStrategy's distributed iterator already fetches to its devices)."""
    if not recipe.prefetch_to_device or recipe.accelerator == "cpu":
        return ds
    import tensorflow as tf

    return ds.apply(tf.data.experimental.prefetch_to_device("/gpu:0", buffer_size=2))


# ----------------------------------------------------------------------------------------- callbacks
def selection_key(rule: str, monitor_key: str = "mae_mean") -> Optional[str]:
    """The history column a selection rule minimises (None for ``final``)."""
    return {"best_heldout": f"heldout_{monitor_key}", "best_on_test": f"test_{monitor_key}"}.get(rule)


KEEP_CHECKPOINTS = 1  # newest per-epoch checkpoints kept, besides the selected epoch's (~0.3 GB each for ResNet50)


def prune_checkpoints(run_dir: str, state: dict, keep: int = KEEP_CHECKPOINTS) -> None:
    """Keeps the ``keep`` newest ``checkpoints/epoch_*.weights.h5`` and the selected epoch's (``best_epoch``)."""
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(ckpt_dir):
        return
    names = sorted(f for f in os.listdir(ckpt_dir) if f.startswith("epoch_"))
    wanted = set(names[-max(int(keep), 1):])
    if state.get("best_epoch"):
        wanted.add(f"epoch_{int(state['best_epoch']):03d}.weights.h5")
    for old in names:
        if old not in wanted:
            os.remove(os.path.join(ckpt_dir, old))


def run_callbacks(run_dir: str, state: dict, network, monitor_key: str = "mae_mean",
                  cfg: Optional[C.TrainConfig] = None, monitors=(), keep_checkpoints: int = KEEP_CHECKPOINTS):
    """RunState (+ TensorBoard). ``monitors``: ``[(prefix, dataset)]`` evaluated after every epoch into history
    columns ``<prefix>_<metric>``; Keras's own validation logs (``val_*``: ``validation_data`` of a caller such as
    ``hmtl_tf.distill``, whose val is the test set) are written as ``test_*``. The selection rule is ``cfg.selection``
    (``final`` without a cfg); a ``best_*`` rule keeps ``best.weights.h5`` at the lowest ``selection_key``."""
    import keras
    import numpy as np

    rule = cfg.selection if cfg is not None else "final"
    key = selection_key(rule, monitor_key)
    state["selection"], state["selection_key"] = rule, key

    class RunState(keras.callbacks.Callback):
        """Per-epoch evaluation of the monitored sets, checkpoint (model + optimizer state), the selection rule's
        best weights, history.csv; NaN stop."""

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                raise NaNLossError(f"loss became {float(loss)} at epoch {self._epoch + 1}, batch {batch + 1}; "
                                   f"last good checkpoint: {state.get('epoch', 0)} epoch(s) in {run_dir}")

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch
            self._t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            raw = logs if logs is not None else {}
            for prefix, ds in monitors:  # added to Keras's dict too, so TensorBoard (the next callback) logs them
                for k, v in self.model.evaluate(ds, verbose=0, return_dict=True).items():
                    if "ssl" not in k:  # no SSL targets outside training
                        raw[f"{prefix}_{k}"] = v
            logs = {}
            for k, v in raw.items():
                if k.startswith("val_"):
                    if "ssl" in k:
                        continue
                    k = f"test_{k[4:]}"
                logs[k] = float(v)
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(np.asarray(lr() if callable(lr) else lr))
            logs["epoch"] = epoch + 1
            logs["seconds"] = round(time.time() - self._t0, 2)
            if key is not None:
                if logs.get(key) is None:
                    raise SelectionError(f"--selection={rule}: no {key} was measured at epoch {epoch + 1}")
                if logs[key] < state.get("best", float("inf")):
                    state["best"], state["best_epoch"] = logs[key], epoch + 1
                    write_atomic(os.path.join(run_dir, "best.weights.h5"), network.save_weights)
            ckpt_dir = os.path.join(run_dir, "checkpoints")
            path = os.path.join(ckpt_dir, f"epoch_{epoch + 1:03d}.weights.h5")
            write_atomic(path, self.model.save_weights)
            state["history"] = [r for r in state.get("history", []) if r["epoch"] <= epoch] + [logs]
            state["epoch"], state["checkpoint"] = epoch + 1, path
            state["seed_states"] = [np.asarray(v).tolist() for v in seed_states(self.model)]  # not in .weights.h5
            write_json_atomic(os.path.join(run_dir, "state.json"), state)  # commit point of the epoch
            write_history_csv(os.path.join(run_dir, "history.csv"), state["history"])
            prune_checkpoints(run_dir, state, keep_checkpoints)

    return [RunState(), keras.callbacks.TensorBoard(os.path.join(run_dir, "tb"), update_freq="epoch",
                                                    write_graph=False, profile_batch=0)]


def seed_states(model):
    """The random-seed states of dropout & co. (Keras SeedGenerators): weights files do not hold them."""
    return [v for v in model.variables if "seed_generator" in v.path]


