"""``python -m hmtl_tf.train``: one training run of SL / HMTL (Sec. 4, SPEC sections 1, 3-5).

    python -m hmtl_tf.train --flag=3 --ssl=puzzle3x3 --run=runs/hmtl_p3      # paper defaults (Tables 2-5)
    python -m hmtl_tf.train --scale=smoke --ssl=puzzle3x3 --run=runs/smoke   # synthetic heads, CPU size

A run directory holds everything needed to know how its numbers were produced (DESIGN.md): config.json,
versions.json, data_hashes.json, tb/, history.csv, checkpoints/, best.weights.h5 (only under a ``best_*``
selection rule), inference.keras, inference_savedmodel/, metrics.json and DONE.

Model selection (SPEC 8, ``--selection``): the reported numbers come from the final epoch by default; ``best_heldout``
takes the epoch with the lowest MAE on a held-out part of the training data (``--val_split=0.05``: 5% of the
training sources, or ``--heldout=NAME``); ``best_on_test`` (the epoch picked on the test set itself) exists only as a
labelled option. After every epoch the held-out part (history ``heldout_*``) and the test sets (``test_*`` for
``--val``, ``test_<name>_*`` for ``--extra_test``) are evaluated: the test curves are monitoring only. At the end
the test sets (and the held-out part) are evaluated with the selected weights; metrics.json states the rule and
the epoch beside every number (``_run.selection``, ``_run.selected_epoch``). Re-running the same command resumes a killed run at the last
finished epoch (the input pipeline is a pure function of (seed, epoch), so no epoch is lost or repeated); a
finished run is not re-trained.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import time
from typing import Dict, List, NamedTuple, Optional

from hmtl_tf import config as C


class NaNLossError(RuntimeError):
    pass


class SelectionError(NaNLossError):
    """A ``best_*`` selection rule found no value of its monitored metric (stops the run like a NaN loss)."""


# ----------------------------------------------------------------------------------------- run directory
def write_json_atomic(path: str, obj) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def read_json(path: str, default=None):
    if not os.path.isfile(path):
        return default
    with open(path) as f:
        return json.load(f)


def library_versions() -> Dict[str, str]:
    import keras
    import numpy
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "platform": platform.platform(),
            "devices": [d.name for d in tf.config.list_physical_devices()]}


def shard_hashes(path: str) -> Dict[str, str]:
    """sha256 of the shard directory's manifest.csv and summary.json (what data a run saw)."""
    out = {}
    for name in ("manifest.csv", "summary.json"):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def write_history_csv(path: str, rows: List[Dict[str, float]]) -> None:
    if not rows:
        return
    keys: List[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    first = ["epoch", "lr", "loss", "mae_yaw", "mae_pitch", "mae_roll", "mae_mean"] + [
        f"{p}_{m}" for p in ("heldout", "test") for m in ("loss", "mae_yaw", "mae_pitch", "mae_roll", "mae_mean")]
    cols = [k for k in first if k in keys] + sorted(k for k in keys if k not in first)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------- devices
def resolve_scale(scale: str, data_root: str) -> str:
    from hmtl_tf.data.locate import real_data_present

    if scale:
        return scale
    return "paper" if real_data_present(data_root) else "smoke"


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


def set_precision(mode: str) -> str:
    import keras
    import tensorflow as tf

    on = mode == "on" or (mode == "auto" and bool(tf.config.list_physical_devices("GPU")))
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")
    return "mixed_float16" if on else "float32"


def setup_devices(cfg: C.TrainConfig):
    """The device set-up of a run, one function for ``train``, ``distill`` and ``pretrain``: returns
    ``(strategy, policy)``. In the order TensorFlow needs: (1) with ``cfg.deterministic`` oneDNN's reordering CPU
    kernels off (``TF_ENABLE_ONEDNN_OPTS=0``, effective only before TensorFlow loads); (2) the ``cfg.strategy``
    distribution strategy (first: MultiWorkerMirroredStrategy must precede any other TF work); (3) the seeds
    (``keras.utils.set_random_seed``: Python, NumPy, TF); (4) op determinism with ``cfg.deterministic``; (5) the
    Keras dtype policy of ``cfg.mixed_precision`` (``mixed_float16`` on GPUs for ``auto``). Build models inside
    ``strategy.scope()`` after this call."""
    if cfg.deterministic:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    strategy = make_strategy(cfg.strategy)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return strategy, set_precision(cfg.mixed_precision)


# ----------------------------------------------------------------------------------------- data
def data_sources(cfg: C.TrainConfig):
    """(train_dir, train_split), (val_dir, val_split); smoke scale makes the synthetic shards on first use."""
    from hmtl_tf.data.locate import resolve

    if cfg.scale == "smoke" and cfg.data.data_root == C.DataConfig.data_root:
        from hmtl_tf.data.smoke import ensure_smoke_data

        cfg.data.data_root = ensure_smoke_data()
    train = resolve(cfg.data.train, cfg.data.data_root, training=True)
    val = resolve(cfg.data.val, cfg.data.data_root, training=False) if cfg.data.val else None
    return train, val


class EvalSet(NamedTuple):
    """A set evaluated after every epoch and at the end: ``name`` its metrics.json key, ``prefix`` its history
    columns (``heldout`` / ``test`` / ``test_<name>``), ``part`` the held-out part of the training records (None:
    every record of the split)."""

    name: str
    prefix: str
    path: str
    split: str
    part: Optional[str] = None


def eval_sets(cfg: C.TrainConfig, train, val) -> List[EvalSet]:
    """The held-out set (``--val_split`` part of the training records, or ``--heldout``), the test set ``--val``
    and the ``--extra_test`` sets, in that order."""
    from hmtl_tf.data.locate import resolve

    out: List[EvalSet] = []
    if cfg.data.val_split > 0:
        out.append(EvalSet("heldout", "heldout", train[0], train[1], "heldout"))
    elif cfg.data.heldout:
        out.append(EvalSet("heldout", "heldout", *resolve(cfg.data.heldout, cfg.data.data_root, training=False)))
    if val:
        out.append(EvalSet(cfg.data.val if not os.path.isdir(cfg.data.val) else "val", "test", val[0], val[1]))
    for i, name in enumerate(n for n in cfg.data.extra_test if n):
        key = name if not os.path.isdir(name) else f"test{i + 2}"
        out.append(EvalSet(key, f"test_{key}", *resolve(name, cfg.data.data_root, training=False)))
    return out


def selection_key(rule: str, monitor_key: str = "mae_mean") -> Optional[str]:
    """The history column a selection rule minimises (None for ``final``)."""
    return {"best_heldout": f"heldout_{monitor_key}", "best_on_test": f"test_{monitor_key}"}.get(rule)


def angles_for(cfg: C.TrainConfig, train_dir: str) -> None:
    """ETH-XGaze has yaw and pitch only (Sec. 4.1): drop roll when the training shards have no roll."""
    summary = read_json(os.path.join(train_dir, "summary.json"), {}) or {}
    if summary.get("has_roll") is False or os.path.basename(os.path.normpath(train_dir)) == "eth_xgaze":
        cfg.model.angles = tuple(a for a in cfg.model.angles if a != "roll")


# ----------------------------------------------------------------------------------------- callbacks
KEEP_CHECKPOINTS = 3  # per-epoch checkpoints kept (model + optimizer: ~0.3 GB each for ResNet50)


def _callbacks(run_dir: str, state: dict, network, monitor_key: str = "mae_mean", cfg: Optional[C.TrainConfig] = None,
               monitors=()):
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
                    network.save_weights(os.path.join(run_dir, "best.weights.h5"))
            ckpt_dir = os.path.join(run_dir, "checkpoints")
            os.makedirs(ckpt_dir, exist_ok=True)
            path = os.path.join(ckpt_dir, f"epoch_{epoch + 1:03d}.weights.h5")
            self.model.save_weights(path)
            state["history"] = [r for r in state.get("history", []) if r["epoch"] <= epoch] + [logs]
            state["epoch"], state["checkpoint"] = epoch + 1, path
            state["seed_states"] = [np.asarray(v).tolist() for v in _seed_states(self.model)]  # not in .weights.h5
            write_json_atomic(os.path.join(run_dir, "state.json"), state)  # commit point of the epoch
            write_history_csv(os.path.join(run_dir, "history.csv"), state["history"])
            keep = sorted(f for f in os.listdir(ckpt_dir) if f.startswith("epoch_"))
            for old in keep[:-KEEP_CHECKPOINTS]:
                os.remove(os.path.join(ckpt_dir, old))

    return [RunState(), keras.callbacks.TensorBoard(os.path.join(run_dir, "tb"), update_freq="epoch",
                                                    write_graph=False, profile_batch=0)]


def _seed_states(model):
    """The random-seed states of dropout & co. (Keras SeedGenerators): weights files do not hold them."""
    return [v for v in model.variables if "seed_generator" in v.path]


def set_bn_momentum(model, momentum: float) -> None:
    """Sets the moving-average momentum of every BatchNormalization layer (nested models included)."""
    import keras

    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)


def restore_checkpoint(model, state: dict, sample_input) -> None:
    """Resume: builds the compiled model (a call on ``sample_input``) and its optimizer, then loads the last
    epoch's checkpoint into both, and the seed states of that epoch's end (so dropout masks continue as in an
    uninterrupted run)."""
    if not (state.get("epoch") and state.get("checkpoint")):
        return
    model(sample_input, training=False)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(state["checkpoint"])
    for var, value in zip(_seed_states(model), state.get("seed_states", [])):
        var.assign(value)


# ----------------------------------------------------------------------------------------- main entry
def worker_run_dir(run: str, tf_config: Optional[str] = None) -> str:
    """Under a TF_CONFIG cluster only the chief (task ``chief``, else ``worker`` 0) writes ``run``; every other
    worker trains in lock-step but writes its copy to ``<run>.workers/<type>_<index>`` (no clobbering on a
    shared file system)."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw or not run:
        return run
    try:
        conf = json.loads(raw)
        task, cluster = conf.get("task", {}), conf.get("cluster", {})
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError) as e:
        raise C.ConfigError(f"TF_CONFIG: expected JSON with 'cluster' and 'task' ({e})")
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return run if chief else os.path.join(run.rstrip("/") + ".workers", f"{kind}_{index}")


def prepare_run_dir(cfg: C.TrainConfig, overwrite: bool = False) -> Optional[str]:
    """Creates or re-opens the run directory. Returns None when the run is already finished."""
    run_dir = cfg.run
    if not run_dir:
        raise C.ConfigError("--run: an output directory is required")
    if os.path.isfile(os.path.join(run_dir, "DONE")) and not overwrite:
        return None
    cfg_path = os.path.join(run_dir, "config.json")
    if os.path.isfile(cfg_path) and not overwrite:
        old = read_json(cfg_path)
        new = json.loads(cfg.to_json())
        if old != new:
            diff = sorted(k for k in set(_flat(old)) | set(_flat(new)) if _flat(old).get(k) != _flat(new).get(k))
            raise C.ConfigError(f"--run={run_dir} holds a run with a different config ({', '.join(diff[:5])}); "
                                f"use another --run or --overwrite")
    elif os.path.isdir(run_dir) and os.listdir(run_dir) and overwrite:
        shutil.rmtree(run_dir)
    elif os.path.isdir(run_dir) and os.listdir(run_dir):
        raise C.ConfigError(f"--run={run_dir} exists and is not a hmtl_tf run directory; use another --run "
                            f"or --overwrite")
    os.makedirs(run_dir, exist_ok=True)
    return run_dir


def _flat(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def load_initial_weights(cfg: C.TrainConfig, network) -> str:
    """--initial_weights: the backbone's starting weights, saved on first use and loaded afterwards, so several
    methods (SL, HMTL, SL on puzzled images; Table 6) start from identical random weights. Their supervised heads
    are identical too: the same seed and the same layer creation order. ``--init`` (random / imagenet / our own
    pre-trained backbone) is applied to the backbone by the network builder."""
    what = cfg.model.init or "random"
    if cfg.initial_weights:
        names = [layer.name for layer in network.layers]
        part = network.get_layer("backbone") if "backbone" in names else network
        if os.path.isfile(cfg.initial_weights):
            part.load_weights(cfg.initial_weights)
            what = f"initial weights {cfg.initial_weights}"
        else:
            os.makedirs(os.path.dirname(os.path.abspath(cfg.initial_weights)), exist_ok=True)
            part.save_weights(cfg.initial_weights)
            what = f"saved initial weights {cfg.initial_weights}"
    return what


def run(cfg: C.TrainConfig, *, overwrite: bool = False, verbose: int = 1) -> str:
    """Trains (or resumes) one run; returns the run directory. The whole protocol of the module docstring."""
    cfg.validate()  # one-line errors before anything heavy is imported or built
    if cfg.deterministic:  # oneDNN's CPU kernels reorder float sums between runs; only effective before TF loads
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras
    import numpy as np

    from hmtl_tf.data import pipeline
    from hmtl_tf.families import get_family
    from hmtl_tf.optim import make_optimizer

    (train_dir, train_split), val = data_sources(cfg)
    angles_for(cfg, train_dir)
    cfg.validate()
    if cfg.strategy in ("auto", "multi_worker"):
        cfg.run = worker_run_dir(cfg.run)
    run_dir = prepare_run_dir(cfg, overwrite)
    if run_dir is None:
        print(f"{cfg.run}: finished run (DONE present); nothing to do", flush=True)
        return cfg.run
    write_json_atomic(os.path.join(run_dir, "config.json"), json.loads(cfg.to_json()))
    write_json_atomic(os.path.join(run_dir, "versions.json"), library_versions())
    sets = eval_sets(cfg, (train_dir, train_split), val)
    hashes = {"train": {"dir": train_dir, "split": train_split, **shard_hashes(train_dir)}}
    for s in sets:
        entry = "val" if s.prefix == "test" else s.name
        hashes[entry] = {"dir": s.path, "split": s.split, **shard_hashes(s.path)}
        if s.part:
            hashes[entry].update(part=s.part, val_split=cfg.data.val_split)
    write_json_atomic(os.path.join(run_dir, "data_hashes.json"), hashes)

    strategy, policy = setup_devices(cfg)
    spe = cfg.steps_per_epoch or pipeline.steps_per_epoch(train_dir, cfg, split=train_split)
    state = read_json(os.path.join(run_dir, "state.json"), {}) or {}
    start_epoch = int(state.get("epoch", 0))
    print(f"run {run_dir}: scale={cfg.scale} ssl={cfg.ssl.task} flag={cfg.ssl.flag} head={cfg.model.head} "
          f"size={cfg.data.image_size} batch={cfg.batch_size} epochs={cfg.epochs} steps/epoch={spe} "
          f"precision={policy} replicas={strategy.num_replicas_in_sync}"
          + (f" — resuming after epoch {start_epoch}" if start_epoch else ""), flush=True)
    if sets and sets[0].part == "heldout":
        print(f"held out for monitoring/selection: {pipeline.part_count(train_dir, cfg, train_split, 'heldout')} "
              f"records ({cfg.data.val_split:.0%} of the training sources); training on "
              f"{pipeline.part_count(train_dir, cfg, train_split, 'train')}", flush=True)
    print(f"selection: {selection_text(cfg.selection, sets)}", flush=True)

    family = get_family(cfg)
    lm = family.needs_landmarks
    train_ds = pipeline.make_dataset(train_dir, cfg, training=True, split=train_split, start_epoch=start_epoch,
                                     with_landmarks=lm)
    monitors = [(s.prefix, pipeline.make_dataset(s.path, cfg, training=False, split=s.split, with_landmarks=lm,
                                                 part=s.part)) for s in sets]
    with strategy.scope():
        network = family.build_network(cfg)
        set_bn_momentum(network, cfg.model.bn_momentum)
        init = load_initial_weights(cfg, network) if start_epoch == 0 else "resumed"
        model = family.training_model(network, cfg)
        model.compile(optimizer=make_optimizer(cfg.optim, spe, cfg.epochs), jit_compile=bool(cfg.xla))
        size = cfg.data.image_size
        restore_checkpoint(model, state, np.zeros((1, size, size, 3), np.float32))
    state.setdefault("init", init)

    callbacks = _callbacks(run_dir, state, network, family.monitor, cfg, monitors)
    if start_epoch < cfg.epochs:
        try:
            model.fit(train_ds, epochs=cfg.epochs, initial_epoch=start_epoch, steps_per_epoch=spe,
                      callbacks=callbacks, verbose=verbose)
        except NaNLossError as e:
            raise SystemExit(f"error: {e}")
    finish_run(cfg, run_dir, network, val, state, family.build_inference_model, sets)
    return run_dir


def selection_text(rule: str, sets=(), key: Optional[str] = None) -> str:
    """One line saying which epoch's weights a rule reports (for logs, metrics.json and the reports)."""
    test = next((s.name for s in sets if s.prefix == "test"), "the test set")
    return {"final": "final epoch (no model selection)",
            "best_heldout": f"best epoch by {key or 'MAE'} on the held-out part of the training data",
            "best_on_test": f"BEST EPOCH ON THE TEST SET ({test}, by {key or 'MAE'}): optimistic, the test set "
                            f"picked the epoch"}[rule]


def finish_run(cfg: C.TrainConfig, run_dir: str, network, val, state: dict, build_inference=None,
               sets: Optional[List[EvalSet]] = None) -> None:
    """Selected weights (the rule's: final epoch, or ``best.weights.h5``) -> inference model (.keras + SavedModel)
    -> MAE on ``sets`` (default: the test set ``val``), each entry naming its rule and epoch -> DONE."""
    from hmtl_tf.evaluate import evaluate_model
    from hmtl_tf.metrics import pretext_summary

    if build_inference is None:
        from hmtl_tf.models.hmtl import build_inference_model as build_inference
    if sets is None:
        sets = [EvalSet(cfg.data.val if not os.path.isdir(cfg.data.val) else "val", "test", *val)] if val else []
    rule = state.get("selection") or cfg.selection  # what the callbacks applied
    key = state.get("selection_key")
    epoch = state.get("epoch")
    if rule != "final":
        best = os.path.join(run_dir, "best.weights.h5")
        if not os.path.isfile(best):
            raise SystemExit(f"error: --selection={rule}: {best} is missing (no epoch measured {key})")
        network.load_weights(best)
        epoch = state.get("best_epoch")
    inference = build_inference(cfg, network)
    inference.save(os.path.join(run_dir, "inference.keras"))
    saved = os.path.join(run_dir, "inference_savedmodel")
    if os.path.isdir(saved):
        shutil.rmtree(saved)
    inference.export(saved, verbose=False)
    metrics = read_json(os.path.join(run_dir, "metrics.json"), {}) or {}
    for s in sets:
        metrics[s.name] = dict(evaluate_model(inference, cfg, s.path, s.split, part=s.part), selection=rule,
                               selected_epoch=epoch)
    text = selection_text(rule, sets, key)
    metrics["_run"] = {"selection": rule, "selection_text": text, "selected_epoch": epoch, "selected_by": key,
                       "best_epoch": state.get("best_epoch") if rule != "final" else None,
                       "epochs": state.get("epoch"), "init": state.get("init"), "scale": cfg.scale,
                       "heldout": _heldout_info(cfg, sets), "monitored": [s.prefix for s in sets]}
    metrics["_pretext"] = pretext_summary(state.get("history") or [],
                                          epoch if rule != "final" else None)  # {} without SSL
    write_json_atomic(os.path.join(run_dir, "metrics.json"), metrics)
    with open(os.path.join(run_dir, "DONE"), "w") as f:
        f.write(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    shown = {k: v for k, v in metrics.items() if not k.startswith("_")}
    print(f"run {run_dir} done ({text}, epoch {epoch}): " + "; ".join(
        f"{k}: MAE mean {v['mean']:.3f} (yaw {v['yaw']:.3f}, pitch {v['pitch']:.3f}"
        + (f", roll {v['roll']:.3f}" if v.get('roll') is not None else "") + ")" for k, v in shown.items()),
        flush=True)


def _heldout_info(cfg: C.TrainConfig, sets) -> Optional[dict]:
    held = next((s for s in sets if s.prefix == "heldout"), None)
    if held is None:
        return None
    if held.part:
        return {"val_split": cfg.data.val_split, "of": f"{os.path.basename(os.path.normpath(held.path))}/{held.split}",
                "by": "source (300W-LP: source face incl. its views and _Flip copies; else subject / sequence)"}
    return {"set": cfg.data.heldout}


def main(argv):
    from absl import flags

    from hmtl_tf.cli import config_from_flags

    if len(argv) > 1:
        raise C.ConfigError(f"unexpected arguments {argv[1:]}; flags are --name=value")
    fl = flags.FLAGS
    data_root = fl.data_root
    scale = resolve_scale(fl.scale, data_root)
    cfg = config_from_flags(scale)
    run(cfg, overwrite=fl.overwrite, verbose=1 if sys.stdout.isatty() else 2)


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import define_config_flags, run_main

    define_config_flags()
    flags.DEFINE_boolean("overwrite", False, "start the run directory afresh (deletes what is there)")
    run_main(main)
