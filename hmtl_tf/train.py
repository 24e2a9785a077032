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
finished run is not re-trained (only with the same config: another config is refused, before the DONE check).
Every file is written atomically (hmtl_tf.rundir, docs/RUNDIR.md); ``--keep_checkpoints=N`` (default 1) keeps the N
newest per-epoch checkpoints and the selected epoch's.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import List, NamedTuple, Optional

from hmtl_tf import config as C
from hmtl_tf.rundir import (check_run_dir, library_versions, prepare_run_dir, read_json, record_metrics, shard_hashes,
                            worker_run_dir, write_atomic, write_json_atomic)
from hmtl_tf.runsetup import KEEP_CHECKPOINTS, NaNLossError, run_callbacks, seed_states, setup_devices


# ----------------------------------------------------------------------------------------- scale
def resolve_scale(scale: str, data_root: str) -> str:
    from hmtl_tf.data.locate import real_data_present

    if scale:
        return scale
    return "paper" if real_data_present(data_root) else "smoke"


# ----------------------------------------------------------------------------------------- data
def resolve_data(cfg: C.TrainConfig):
    """(config, (train_dir, train_split), (val_dir, val_split) or None): the run's data (smoke scale on the default
    root: the synthetic shards, made on first use) and a new TrainConfig with the fields they decide resolved,
    ``data.data_root`` and ``model.angles`` (those the training shards label: ETH-XGaze has no roll). Built with
    ``config.replace_fields`` (a copy): ``cfg`` itself is not changed."""
    from hmtl_tf.data.locate import resolve

    data_root = cfg.data.data_root
    if cfg.scale == "smoke" and data_root == C.DataConfig.data_root:
        from hmtl_tf.data.smoke import ensure_smoke_data

        data_root = ensure_smoke_data()
    train = resolve(cfg.data.train, data_root, training=True)
    val = resolve(cfg.data.val, data_root, training=False) if cfg.data.val else None
    resolved = C.replace_fields(cfg, {"data.data_root": data_root, "model.angles": training_angles(cfg, train[0])})
    return resolved, train, val


def data_sources(cfg: C.TrainConfig):
    """(train_dir, train_split), (val_dir, val_split) of :func:`resolve_data`; sets ``cfg.data.data_root`` in place
    (pre-training and distillation resolve their configs this way; ``run`` does not change its ``cfg``)."""
    resolved, train, val = resolve_data(cfg)
    cfg.data.data_root = resolved.data.data_root
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


def training_angles(cfg: C.TrainConfig, train_dir: str) -> tuple:
    """The run's angles that the training shards label (``hmtl_tf.data.datasets.shard_angles``): ETH-XGaze has
    yaw and pitch only (Sec. 4.1), so roll is dropped there."""
    from hmtl_tf.data.datasets import shard_angles

    labelled = shard_angles(train_dir)
    return tuple(a for a in cfg.model.angles if a in labelled)


def angles_for(cfg: C.TrainConfig, train_dir: str) -> None:
    """Sets ``cfg.model.angles`` to :func:`training_angles` (pre-training's in-place resolution)."""
    cfg.model.angles = training_angles(cfg, train_dir)


# ----------------------------------------------------------------------------------------- callbacks
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
    for var, value in zip(seed_states(model), state.get("seed_states", [])):
        var.assign(value)


# ----------------------------------------------------------------------------------------- main entry
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


def check_run_inputs(cfg: C.TrainConfig, train_dir: str, train_split: str) -> int:
    """The checks that need the data or the file system, before the run directory is touched (one-line
    ConfigError / FileNotFoundError): the weights files ``--init`` / ``--initial_weights`` name, and at least
    one batch of training records. Returns the number of training records."""
    from hmtl_tf.data import pipeline

    if cfg.model.init == "imagenet":
        from hmtl_tf.models.backbone import _resolve_weights

        _resolve_weights(cfg.model.backbone, cfg.model.init, cfg.model.imagenet_weights)
    elif cfg.model.init not in ("", "random") and not os.path.isfile(cfg.model.init):
        raise FileNotFoundError(f"--init={cfg.model.init}: weights file not found (expected a .weights.h5 file of "
                                f"our pre-training, 'random' or 'imagenet')")
    if cfg.initial_weights and os.path.isdir(cfg.initial_weights):
        raise C.ConfigError(f"--initial_weights={cfg.initial_weights} is a directory; expected a weights file")
    n = pipeline.train_record_count(train_dir, cfg, train_split)
    if n < cfg.batch_size:
        raise C.ConfigError(f"--batch_size={cfg.batch_size}: the training set {train_dir} ({train_split}) has only "
                            f"{n} records, fewer than one batch")
    return n


def run(cfg: C.TrainConfig, *, overwrite: bool = False, verbose: int = 1,
        keep_checkpoints: int = KEEP_CHECKPOINTS) -> str:
    """Trains (or resumes) one run; returns the run directory. The whole protocol of the module docstring.
    Every check (config, the files it names, the data) runs before the run directory is touched."""
    cfg.validate()  # one-line errors before anything heavy is imported or built
    # ``cfg`` is re-bound to new configs as the run resolves it (worker run dir, data root, angles): the caller's
    # object is never changed (issue 15).
    if cfg.strategy in ("auto", "multi_worker"):
        cfg = C.replace_fields(cfg, {"run": worker_run_dir(cfg.run)})
    check_run_dir(cfg, overwrite, compare=False)  # a file, a foreign directory: refused before any data is made
    if cfg.deterministic:  # oneDNN's CPU kernels reorder float sums between runs; only effective before TF loads
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras
    import numpy as np

    from hmtl_tf.data import pipeline
    from hmtl_tf.families import get_family
    from hmtl_tf.optim import make_optimizer
    from hmtl_tf.runsetup import compile_model, device_dataset, record_recipe, resolve_recipe

    cfg, (train_dir, train_split), val = resolve_data(cfg)  # data root, angles: resolved before config.json
    cfg.validate()
    n_train = check_run_inputs(cfg, train_dir, train_split)
    run_dir = prepare_run_dir(cfg, overwrite)  # compares the config before the DONE marker
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
    spe = cfg.steps_per_epoch or n_train // cfg.batch_size  # = pipeline.steps_per_epoch, counted once
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
    recipe = resolve_recipe(cfg, strategy, policy, train_ds.element_spec, spe)
    record_recipe(run_dir, recipe)
    print(f"recipe: {recipe.line()}", flush=True)
    train_ds = device_dataset(train_ds, recipe)
    with strategy.scope():
        network = family.build_network(cfg)
        set_bn_momentum(network, cfg.model.bn_momentum)
        init = load_initial_weights(cfg, network) if start_epoch == 0 else "resumed"
        model = family.training_model(network, cfg)
        compile_model(model, make_optimizer(cfg.optim, spe, cfg.epochs), recipe, cfg)
        size = cfg.data.image_size
        restore_checkpoint(model, state, np.zeros((1, size, size, 3), np.float32))
    state.setdefault("init", init)

    callbacks = run_callbacks(run_dir, state, network, family.monitor, cfg, monitors, keep_checkpoints)
    if verbose == 2:  # not a terminal: Keras prints at epoch ends only; periodic lines within an epoch
        from hmtl_tf.progress import keras_progress

        callbacks.append(keras_progress(spe))
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
    write_atomic(os.path.join(run_dir, "inference.keras"), inference.save)
    write_atomic(os.path.join(run_dir, "inference_savedmodel"), lambda tmp: inference.export(tmp, verbose=False))
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
    test = next((s for s in sets if s.prefix == "test"), None)
    if metrics["_pretext"] and test is not None:  # the SSL heads on held-out images, every one puzzled
        from hmtl_tf.pretext_eval import heldout_pretext_accuracy

        metrics["_pretext"]["test"] = dict(heldout_pretext_accuracy(network, cfg, test.path, test.split,
                                                                    part=test.part), dataset=test.name)
    record_metrics(run_dir, metrics)
    write_atomic(os.path.join(run_dir, "DONE"), time.strftime("%Y-%m-%dT%H:%M:%S\n"))
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
    run(cfg, overwrite=fl.overwrite, verbose=1 if sys.stdout.isatty() else 2, keep_checkpoints=fl.keep_checkpoints)


def define_flags() -> None:
    """The config flags and train's own (idempotent; tests call it in-process)."""
    from absl import flags

    from hmtl_tf.cli import define_config_flags

    define_config_flags()
    if "keep_checkpoints" in flags.FLAGS:
        return
    flags.DEFINE_boolean("overwrite", False, "start the run directory afresh (deletes what is there)")
    flags.DEFINE_integer("keep_checkpoints", KEEP_CHECKPOINTS, "per-epoch checkpoints kept besides the selected "
                         "epoch's (model + optimizer, ~0.3 GB each at paper scale)", lower_bound=1)


if __name__ == "__main__":
    from hmtl_tf.cli import run_main

    define_flags()
    run_main(main)
