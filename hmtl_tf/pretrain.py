"""``python -m hmtl_tf.pretrain``: self-supervised pre-training of the backbone (paper Sec. 3.3, 4.2, 4.3).

    python -m hmtl_tf.pretrain --method=rotation2x2 --train=eth_xgaze --out=runs/pre/rot2x2.weights.h5
    python -m hmtl_tf.pretrain --method=barlow_twins_puzzle --train=eth_xgaze --out=bt_star.weights.h5 --linear_probe
    python -m hmtl_tf.pretrain --scale=smoke --method=barlow_twins --out=/tmp/bt.weights.h5   # synthetic, CPU

Methods: the pretext tasks ``rotation2x2``, ``puzzle2x2``, ``puzzle3x3`` (the transforms and SSL branch of the
auxiliary heads, attached to the backbone output, flag 4; summed per-tile cross-entropies), or Barlow Twins
``barlow_twins`` / ``barlow_twins_puzzle`` (BT / BT*: ResNet + projector of three 2048-unit layers, the two-view
recipe of ``ssl.bt_augment``, the cross-correlation loss). The set-up is one object, :class:`PretrainSetup`
(``SETUP``; the flag defaults below come from it): the paper's Barlow Twins set-up (Sec. 4.3: ETH-XGaze, 64 epochs,
batch 64, LR 1e-3 with cosine decay; AdaBelief, as every run of the paper), which the pretext tasks share, with
their heads at flag 4 and level-1 augmentation: the paper states no set-up for its rotation / puzzle pre-training,
so the one it states is used (reasons in :class:`PretrainSetup`). Only the backbone's weights are written to ``--out``
(``build_backbone(...).save_weights``), so ``train --init=PATH`` loads them into the backbone and the heads start
random. Beside ``--out``: ``<stem>.history.csv`` (loss, LR, optional linear-probe MAE per epoch),
``<stem>.json`` (the resolved set-up) and ``<stem>.ckpt/`` (per-epoch checkpoints; re-running the same command
resumes). ``--linear_probe`` trains a linear pose head on stop-gradient backbone features of the un-transformed
images (online probe) and logs its validation MAE each epoch.
Runs in float32 on one device (``runsetup.setup_devices`` with ``strategy=one_device``, ``mixed_precision=off``: the
custom training loop is not distribution-aware; the paper's mixed precision / two GPUs are not needed at these sizes);
the shared recipe's ``xla`` (jit_compile of the step) and ``transforms_on`` apply (docs/GPU.md).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from hmtl_tf import config as C
from hmtl_tf import metrics
from hmtl_tf.data import pipeline
from hmtl_tf.data.pipeline import element_seed
from hmtl_tf.data.ssl_tasks import apply_ssl_task
from hmtl_tf.losses import ssl_cross_entropy
from hmtl_tf.models.backbone import build_backbone
from hmtl_tf.models.heads import ssl_branch, ssl_head_specs
from hmtl_tf.models.projector import build_projector
from hmtl_tf.optim import make_optimizer
from hmtl_tf.ssl import registry as ssl_registry
from hmtl_tf.ssl.barlow_twins import barlow_twins_loss
from hmtl_tf.ssl.bt_augment import two_views

PRETEXT = tuple(t for t in ssl_registry.task_names() if ssl_registry.get_task(t).pretext)  # registered pretext tasks
BARLOW = ("barlow_twins", "barlow_twins_puzzle")
METHODS = PRETEXT + BARLOW
PROBE_SCALE = 90.0         # the probe predicts degrees / 90 (a well-scaled linear regression)
WEIGHTS_SUFFIX = ".weights.h5"


@dataclass(frozen=True)
class PretrainSetup:
    """The pre-training set-up, one object: :func:`make_pretrain_config` and the CLI flag defaults read it, and
    ``<stem>.json`` records it.

    Barlow Twins (BT, BT*) follow the paper (Sec. 4.3): the ETH-XGaze training set, 64 epochs, batch 64, LR 1e-3
    with cosine decay, a projector of three 2048-unit layers (BN + ReLU after the first two) and the two-view recipe
    of ``ssl.bt_augment`` (the pipeline's own augmentation off); the off-diagonal weight 5e-3 is Zbontar et al.'s
    (the paper gives none).

    Pretext tasks (2x2 rotation, 2x2 / 3x3 puzzle on ETH-XGaze: the "ETH-XGaze SSL" weights of Tables 2-4): the
    paper gives no set-up. Decision: the same one, because (1) it is the only pre-training set-up the paper states,
    and Table 4 compares these encoders with BT's, so they get the same data, budget and schedule; (2) the heads at
    flag 4 (the backbone output, conv5_x): only the backbone is kept, and at flag 4 every backbone stage learns the
    pretext task (at flag 1-3 the later stages would get no gradient and stay random); (3) level-1 augmentation
    (random central zoom and contrast, Sec. 4.2) before the pretext transform: level 2's cutout would come before
    the puzzle here (the transform is applied to the pipeline's output) and be cut across the tiles, the shortcut
    Sec. 4.3 avoids for BT* by puzzling "before performing cutout"; SSL-head dropout 0.2 as the HMTL SSL heads
    (Sec. 4.2); AdaBelief, as every run of the paper. Smoke scale: the same with 2 epochs, batch 16, 64 px and a
    3 x 256 projector. One device, float32 (the custom training loop is not distribution-aware).
    """

    train: str = "eth_xgaze"
    epochs: int = 64
    batch_size: int = 64
    lr: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adabelief"
    flag: int = 4                                  # pretext heads on the backbone output (conv5_x)
    aug_level: int = 1                             # pretext tasks; Barlow Twins: 0 (its own two-view recipe)
    ssl_dropout: float = 0.2                       # before each pretext head
    lambd: float = 5e-3                            # Barlow Twins off-diagonal weight (Zbontar et al. 2021)
    projector: Tuple[int, ...] = (2048, 2048, 2048)
    probe_lr: float = 1e-2                         # the optional online linear probe (Adam)
    smoke_epochs: int = 2
    smoke_batch_size: int = 16
    smoke_image_size: int = 64
    smoke_projector: Tuple[int, ...] = (256, 256, 256)

    def overrides(self, scale: str) -> Dict[str, object]:
        """The TrainConfig overrides of this set-up at ``scale`` (paper | smoke)."""
        over: Dict[str, object] = {"epochs": self.epochs, "batch_size": self.batch_size, "optim.lr": self.lr,
                                   "optim.schedule": self.schedule, "optim.optimizer": self.optimizer,
                                   "data.train": self.train, "data.aug_level": self.aug_level,
                                   "ssl.dropout": self.ssl_dropout, "strategy": "one_device",
                                   "mixed_precision": "off"}
        if scale == "smoke":
            over.update({"epochs": self.smoke_epochs, "batch_size": self.smoke_batch_size,
                         "data.image_size": self.smoke_image_size})
        return over

    def projector_at(self, scale: str) -> Tuple[int, ...]:
        return self.smoke_projector if scale == "smoke" else self.projector


SETUP = PretrainSetup()
PRETEXT_FLAG = SETUP.flag
PROJECTOR = {"paper": SETUP.projector, "smoke": SETUP.smoke_projector}


@dataclass
class PretrainSpec:
    """What ``pretrain`` needs besides the data / optimiser fields of a TrainConfig."""

    method: str
    out: str
    lambd: float = SETUP.lambd               # Barlow Twins off-diagonal weight (Zbontar et al. 2021)
    projector: Tuple[int, ...] = SETUP.projector
    linear_probe: bool = False
    probe_lr: float = SETUP.probe_lr
    probe_val_batches: int = 0               # 0 = the whole validation split each epoch
    extra: Dict[str, object] = field(default_factory=dict)

    def validate(self) -> "PretrainSpec":
        if self.method not in METHODS:
            raise C.ConfigError(f"--method={self.method!r}: expected one of {', '.join(METHODS)}")
        if not self.out.endswith(WEIGHTS_SUFFIX):
            raise C.ConfigError(f"--out={self.out!r}: expected a file name ending in {WEIGHTS_SUFFIX}")
        if not self.projector or any(int(u) <= 0 for u in self.projector):
            raise C.ConfigError(f"--projector={self.projector}: expected positive layer sizes")
        return self

    def stem(self) -> str:
        return self.out[: -len(WEIGHTS_SUFFIX)]


def make_pretrain_config(scale: str, method: str, overrides: Optional[Dict[str, object]] = None) -> C.TrainConfig:
    """A TrainConfig for the data pipeline / optimiser: no SSL transform in the pipeline (pre-training applies
    its own, see :func:`batch_transform`), no supervised validation set unless a probe asks for one. Defaults:
    :data:`SETUP` at ``scale``, then ``overrides``."""
    cfg = C.make_config(scale, {**SETUP.overrides(scale), **(overrides or {})})
    cfg.ssl.task, cfg.ssl.flag = "none", SETUP.flag
    cfg.optim.lr_drops = ()
    if method in BARLOW:
        cfg.data.aug_level, cfg.data.heavy_aug, cfg.data.hue_aug = 0, False, False  # BT has its own recipe
    return cfg


# ----------------------------------------------------------------------------------------------- models
def build_models(cfg: C.TrainConfig, spec: PretrainSpec):
    """(backbone, pre-training model). The model maps ``image`` to ``features`` (GAP of stage4) plus, for a
    pretext task, logits ``puzzle_i`` / ``rotation_i`` (SSL branch at flag 4), for BT the ``embedding``."""
    import keras

    size = cfg.data.image_size
    backbone = build_backbone(cfg.model.backbone, (size, size, 3), None, fused_bn=cfg.model.fused_bn)
    image = keras.Input((size, size, 3), name="image")
    fmap = backbone(image)["stage4"]
    features = keras.layers.GlobalAveragePooling2D(name="pretrain_pool")(fmap)
    outputs = {"features": features}
    if spec.method in PRETEXT:
        for branch, n_tiles, n_classes in ssl_head_specs(spec.method):
            logits = ssl_branch(fmap, PRETEXT_FLAG, branch, n_tiles, n_classes, cfg.ssl.dropout)
            outputs.update({f"{branch}_{i}": z for i, z in enumerate(logits)})
    else:
        outputs["embedding"] = build_projector(int(features.shape[-1]), spec.projector)(features)
    return backbone, keras.Model(image, outputs, name=f"pretrain_{spec.method}")


def build_probe(dim: int, n_angles: int):
    """Linear pose probe: (standardised) features -> degrees (Dense on BN without scale/offset, x PROBE_SCALE)."""
    import keras

    x = inputs = keras.Input((dim,), name="probe_in")
    x = keras.layers.BatchNormalization(momentum=0.9, center=False, scale=False, name="probe_bn")(x)
    x = keras.layers.Dense(n_angles, name="probe_dense")(x)
    x = keras.layers.Rescaling(PROBE_SCALE, name="probe_degrees")(x)
    return keras.Model(inputs, x, name="linear_probe")


# ----------------------------------------------------------------------------------------------- data
def example_transform(method: str, cfg: C.TrainConfig):
    """Per-image ``(image, seed) -> dict``: ``x`` (+ ``x2`` for BT) and the SSL ``labels`` of a pretext task."""
    def fn(image, seed):
        if method in BARLOW:
            v1, v2 = two_views(image, seed, method)
            return {"x": v1, "x2": v2}
        x, labels = apply_ssl_task(image, method, seed, 1.0, cfg.ssl.max_rotated_tiles)
        return {"x": x, "labels": labels}
    return fn


def batch_transform(method: str, cfg: C.TrainConfig, steps_per_epoch: int, start_epoch: int):
    """Dataset map ``(batch_index, (images, targets)) -> batch dict``; element seeds from (seed, step, index)."""
    import tensorflow as tf

    per_image = example_transform(method, cfg)
    angles = tuple(cfg.model.angles)

    def fn(b, batch):
        images, targets = batch
        step = tf.cast(b, tf.int64) + start_epoch * steps_per_epoch
        n = tf.shape(images)[0]
        seeds = tf.map_fn(lambda i: element_seed(cfg.seed + 7919, step, i), tf.range(tf.cast(n, tf.int64)),
                          fn_output_signature=tf.TensorSpec([2], tf.int64))
        sample = per_image(images[0], seeds[0])
        sig = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), sample)
        out = tf.map_fn(lambda a: per_image(a[0], a[1]), (images, seeds), fn_output_signature=sig)
        out["clean"] = images
        out["angles"] = tf.stack([tf.cast(targets[a], tf.float32) for a in angles], axis=1)
        return out
    return fn


def train_dataset(train, cfg: C.TrainConfig, method: str, steps_per_epoch: int, start_epoch: int):
    """Training batches for :func:`make_train_step`: the batch dicts of :func:`batch_transform` (host), or with
    ``transforms_on=device`` the pipeline's uint8 crops with their seeds and batch index, transformed in the step
    by :func:`device_prepare` (the same functions, so the same batches)."""
    ds = pipeline.make_dataset(train[0], cfg, training=True, split=train[1], start_epoch=start_epoch).enumerate()
    if cfg.transforms_on == "device":
        return ds
    return ds.map(batch_transform(method, cfg, steps_per_epoch, start_epoch))


def device_prepare(method: str, cfg: C.TrainConfig, steps_per_epoch: int, start_epoch: int):
    """``(batch_index, (uint8 images, targets + seeds)) -> batch dict`` inside the step (``transforms_on=device``):
    the pipeline's augmentation (``DeviceTransform``), then :func:`batch_transform`."""
    from hmtl_tf.data.device_transforms import DeviceTransform

    augment = DeviceTransform(cfg)
    ssl = batch_transform(method, cfg, steps_per_epoch, start_epoch)
    return lambda b, batch: ssl(b, augment(*batch))


# ----------------------------------------------------------------------------------------------- training
def pretext_loss(outputs, labels):
    """Sum over heads of the batch-mean cross-entropies (the SSL term of Eq. 1-3 without its factor)."""
    keys = sorted(labels)
    return ssl_cross_entropy([labels[k] for k in keys], [outputs[k] for k in keys])


def pretext_batch_accuracy(outputs, labels) -> Dict[str, object]:
    """Batch-mean pretext accuracy of the same forward pass, logged like the HMTL training model's:
    ``ssl_acc_<head>``, ``ssl_acc`` (mean over heads); tie-split top-1 (``hmtl_tf.metrics.pretext_accuracy``)."""
    import tensorflow as tf

    keys = sorted(labels)
    acc = metrics.pretext_accuracies(labels, outputs, keys)
    out = {f"{metrics.ACC_PREFIX}{k}": tf.reduce_mean(acc[k]) for k in keys}
    out["ssl_acc"] = tf.reduce_mean(acc["mean"])
    return out


def pretext_chance(method: str) -> float:
    """Chance level of ``ssl_acc`` for a pretext ``method``: 1 / classes of each head, averaged over the heads."""
    return C.ssl_task(method).chance


def make_train_step(model, backbone, probe, opt, probe_opt, spec: PretrainSpec, prepare=None, jit_compile=False):
    """``step(batch) -> (loss, probe_loss, accuracies)``; ``accuracies``: :func:`pretext_batch_accuracy` for a
    pretext task, ``{}`` for Barlow Twins. ``prepare``: the in-step transform of ``transforms_on=device``
    (:func:`device_prepare`, called on the dataset element); ``jit_compile``: the recipe's XLA switch."""
    import tensorflow as tf

    def ssl_loss(batch):
        if spec.method in BARLOW:
            z1 = model(batch["x"], training=True)["embedding"]
            z2 = model(batch["x2"], training=True)["embedding"]
            return barlow_twins_loss(z1, z2, spec.lambd), {}
        outputs = model(batch["x"], training=True)
        return pretext_loss(outputs, batch["labels"]), pretext_batch_accuracy(outputs, batch["labels"])

    @tf.function(jit_compile=jit_compile)
    def step(batch):
        if prepare is not None:
            batch = prepare(*batch)
        with tf.GradientTape() as tape:
            loss, acc = ssl_loss(batch)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        probe_loss = tf.constant(0.0)
        if probe is not None:
            feats = tf.stop_gradient(tf.reduce_mean(backbone(batch["clean"], training=False)["stage4"], [1, 2]))
            with tf.GradientTape() as ptape:
                probe_loss = tf.reduce_mean(tf.abs(probe(feats, training=True) - batch["angles"]))
            pv = probe.trainable_variables
            probe_opt.apply_gradients(zip(ptape.gradient(probe_loss, pv), pv))
        return loss, probe_loss, acc
    return step


def probe_mae(backbone, probe, val_ds, angles, max_batches: int = 0) -> Dict[str, float]:
    """Validation MAE (degrees) of the linear probe per angle and their mean."""
    import numpy as np
    import tensorflow as tf

    err, n = np.zeros(len(angles)), 0
    for i, (images, targets) in enumerate(val_ds):
        if max_batches and i >= max_batches:
            break
        feats = tf.reduce_mean(backbone(images, training=False)["stage4"], [1, 2])
        pred = probe(feats, training=False).numpy()
        true = np.stack([np.asarray(targets[a], np.float32) for a in angles], axis=1)
        err += np.abs(pred - true).sum(0)
        n += len(true)
    out = {f"probe_val_mae_{a}": float(e / max(n, 1)) for a, e in zip(angles, err)}
    out["probe_val_mae_mean"] = float(np.mean(err / max(n, 1)))
    return out


def pretrain(cfg: C.TrainConfig, spec: PretrainSpec, *, overwrite: bool = False, verbose: bool = True) -> str:
    """Pre-trains (or resumes) and writes the backbone weights to ``spec.out``; returns ``spec.out``."""
    import keras
    import tensorflow as tf

    from hmtl_tf import library_log
    from hmtl_tf.rundir import library_versions, write_atomic, write_history_csv, write_json_atomic
    from hmtl_tf.runsetup import resolve_recipe, setup_devices
    from hmtl_tf.train import angles_for, data_sources

    spec.validate()
    cfg.validate()
    if os.path.isfile(spec.out) and not overwrite:
        print(f"{spec.out}: pre-training finished (file present); nothing to do", flush=True)
        return spec.out
    train, val = data_sources(cfg)
    angles_for(cfg, train[0])
    stem = spec.stem()
    os.makedirs(os.path.dirname(os.path.abspath(spec.out)), exist_ok=True)
    library_log.attach(os.path.dirname(os.path.abspath(spec.out)), os.path.basename(stem) + ".")  # <stem>.library.log
    strategy, policy = setup_devices(cfg)  # seeds, determinism, dtype policy (one device, float32: see above)
    spe = pipeline.steps_per_epoch(train[0], cfg, split=train[1])
    recipe = resolve_recipe(cfg, strategy, policy, steps_per_epoch=spe)  # XLA, transforms_on (steps run one by one)
    backbone, model = build_models(cfg, spec)
    opt = make_optimizer(cfg.optim, spe, cfg.epochs)
    opt.build(model.trainable_variables)
    probe = probe_opt = None
    if spec.linear_probe:
        probe = build_probe(int(model.get_layer("pretrain_pool").output.shape[-1]), len(cfg.model.angles))
        probe_opt = keras.optimizers.Adam(spec.probe_lr)
        probe_opt.build(probe.trainable_variables)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, epoch=epoch_var,
                               **({"probe": probe, "probe_optimizer": probe_opt} if probe is not None else {}))
    manager = tf.train.CheckpointManager(ckpt, f"{stem}.ckpt", max_to_keep=2)
    if manager.latest_checkpoint and not overwrite:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    start = int(epoch_var.numpy())
    history_path = f"{stem}.history.csv"
    history: List[Dict[str, float]] = []
    if start and os.path.isfile(history_path):
        import csv
        with open(history_path) as f:
            history = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)][:start]
    write_json_atomic(f"{stem}.json", {"method": spec.method, "spec": asdict(spec), "setup": asdict(SETUP),
                                       "config": json.loads(cfg.to_json()), "recipe": recipe.to_dict(),
                                       "train": list(train), "steps_per_epoch": spe, "versions": library_versions()})
    print(f"pretrain {spec.method} -> {spec.out}: scale={cfg.scale} size={cfg.data.image_size} batch={cfg.batch_size} "
          f"epochs={cfg.epochs} steps/epoch={spe} data={train[0]}:{train[1]}"
          + (f" — resuming after epoch {start}" if start else ""), flush=True)

    val_ds = None
    if probe is not None and val is not None:
        val_ds = pipeline.make_dataset(val[0], cfg, training=False, split=val[1])
    prepare = device_prepare(spec.method, cfg, spe, start) if cfg.transforms_on == "device" else None
    step = make_train_step(model, backbone, probe, opt, probe_opt, spec, prepare, recipe.xla)
    chance = pretext_chance(spec.method) if spec.method in PRETEXT else None
    if start < cfg.epochs:
        it = iter(train_dataset(train, cfg, spec.method, spe, start))
        for epoch in range(start, cfg.epochs):
            t0, losses, plosses, accs = time.time(), [], [], []
            for _ in range(spe):
                loss, ploss, acc = step(next(it))
                losses.append(float(loss))
                plosses.append(float(ploss))
                accs.append({k: float(v) for k, v in acc.items()})
            if not all(map(lambda v: v == v and abs(v) != float("inf"), losses)):
                raise SystemExit(f"error: pre-training loss became {losses[-1]} at epoch {epoch + 1}; "
                                 f"last good checkpoint in {stem}.ckpt")
            row = {"epoch": epoch + 1, "lr": float(opt.learning_rate.numpy()) if hasattr(opt.learning_rate, "numpy")
                   else float(opt.learning_rate), "loss": sum(losses) / len(losses),
                   "seconds": round(time.time() - t0, 2)}
            if accs and accs[0]:  # pretext task: per-epoch mean over the training batches, and chance
                row.update({k: sum(a[k] for a in accs) / len(accs) for k in accs[0]})
                row["ssl_chance"] = chance
            if probe is not None:
                row["probe_loss"] = sum(plosses) / len(plosses)
                if val_ds is not None:
                    row.update(probe_mae(backbone, probe, val_ds, cfg.model.angles, spec.probe_val_batches))
            history.append(row)
            write_history_csv(history_path, history)
            epoch_var.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
            if verbose:
                print("epoch " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in row.items()), flush=True)
    write_atomic(spec.out, backbone.save_weights)  # the file appears only when complete (the runner's "done" test)
    print(f"pretrain {spec.method}: backbone weights written to {spec.out}", flush=True)
    return spec.out


# ----------------------------------------------------------------------------------------------- CLI
def define_flags() -> None:
    """absl flags of the CLI (a name another imported module already defined, e.g. ``--out``, is shared)."""
    from absl import flags

    _define(flags.DEFINE_enum, "method", None, list(METHODS), "pretext task or Barlow Twins (BT*: barlow_twins_puzzle)")
    _define(flags.DEFINE_string, "out", None, "output file for the backbone weights (*.weights.h5)")
    _define(flags.DEFINE_string, "train", "", f"shard directory or dataset name under --data_root "
            f"(default {SETUP.train})")
    _define(flags.DEFINE_string, "val", "", "validation set of the linear probe (default: the --train name's eval split)")
    _define(flags.DEFINE_string, "data_root", C.DataConfig.data_root, "where dataset names are looked up")
    _define(flags.DEFINE_string, "scale", "", "paper | smoke (default: paper when the real datasets are found, else smoke)")
    _define(flags.DEFINE_integer, "epochs", 0, f"epochs (0 = the set-up's: paper {SETUP.epochs}, smoke "
            f"{SETUP.smoke_epochs}; the paper's Barlow Twins set-up, shared by the pretext tasks: PretrainSetup)")
    _define(flags.DEFINE_integer, "batch_size", 0, f"batch size (0 = paper {SETUP.batch_size}, "
            f"smoke {SETUP.smoke_batch_size})")
    _define(flags.DEFINE_float, "lr", SETUP.lr, f"peak learning rate ({SETUP.schedule} decay)")
    _define(flags.DEFINE_enum, "optimizer", SETUP.optimizer, list(C.OPTIMIZERS), "optimizer")
    _define(flags.DEFINE_integer, "image_size", 0, f"input size (0 = paper 224, smoke {SETUP.smoke_image_size})")
    _define(flags.DEFINE_integer, "aug_level", SETUP.aug_level, f"pipeline augmentation before a pretext transform "
            f"(BT uses its own); pretext heads at flag {SETUP.flag} (the backbone output)")
    _define(flags.DEFINE_integer, "steps_per_epoch", 0, "0 = one pass over the training data")
    _define(flags.DEFINE_integer, "max_train_samples", 0, "0 = all")
    _define(flags.DEFINE_integer, "seed", 0, "random seed")
    _define(flags.DEFINE_string, "backbone", "resnet50", "backbone name (hmtl_tf.models.backbone)")
    _define(flags.DEFINE_list, "projector", [], "Barlow Twins projector layer sizes (default: paper "
            + ",".join(map(str, SETUP.projector)) + "; smoke " + ",".join(map(str, SETUP.smoke_projector)) + ")")
    _define(flags.DEFINE_float, "lambd", SETUP.lambd, "Barlow Twins off-diagonal weight")
    _define(flags.DEFINE_boolean, "linear_probe", False, "online linear probe of the pose on stop-gradient features")
    _define(flags.DEFINE_integer, "probe_val_batches", 0, "validation batches per probe evaluation (0 = all)")
    _define(flags.DEFINE_boolean, "overwrite", False, "start afresh (ignores an existing --out and checkpoints)")
    _define(flags.DEFINE_string, "xla", "auto", "jit_compile of the step: auto (accelerators) | on | off")
    _define(flags.DEFINE_string, "transforms_on", "host", "augmentation + pretext transforms on: host | device")


def _define(definer, name, *args, **kw) -> None:
    from absl import flags

    if name not in flags.FLAGS:
        definer(name, *args, **kw)


def config_from_flags():
    from absl import flags

    from hmtl_tf.train import resolve_scale

    fl = flags.FLAGS
    if not fl.out:
        raise C.ConfigError("--out: the output weights file (*.weights.h5) is required")
    scale = resolve_scale(fl.scale, fl.data_root)
    over: Dict[str, object] = {"optim.lr": fl.lr, "optim.optimizer": fl.optimizer, "seed": fl.seed,
                               "data.data_root": fl.data_root, "model.backbone": fl.backbone,
                               "data.aug_level": fl.aug_level, "steps_per_epoch": fl.steps_per_epoch,
                               "data.max_train_samples": fl.max_train_samples, "xla": fl.xla,
                               "transforms_on": fl.transforms_on}
    for name, key in (("epochs", "epochs"), ("batch_size", "batch_size"), ("image_size", "data.image_size")):
        if getattr(fl, name):
            over[key] = getattr(fl, name)
    if fl.train:
        over["data.train"] = fl.train
    cfg = make_pretrain_config(scale, fl.method, over)
    train_name = cfg.data.train
    cfg.data.val = fl.val or (train_name if fl.linear_probe and not os.path.isdir(train_name) else "")
    projector = tuple(int(u) for u in fl.projector) if fl.projector else SETUP.projector_at(scale)
    spec = PretrainSpec(method=fl.method, out=fl.out, lambd=fl.lambd, projector=projector,
                        linear_probe=fl.linear_probe, probe_val_batches=fl.probe_val_batches)
    return cfg, spec


def main(argv):
    from absl import flags

    if len(argv) > 1:
        raise C.ConfigError(f"unexpected arguments {argv[1:]}; flags are --name=value")
    if not flags.FLAGS.method:
        raise C.ConfigError(f"--method: expected one of {', '.join(METHODS)}")
    cfg, spec = config_from_flags()
    pretrain(cfg, spec, overwrite=flags.FLAGS.overwrite, verbose=True)


if __name__ == "__main__":
    from hmtl_tf.cli import run_main

    define_flags()
    run_main(main)
