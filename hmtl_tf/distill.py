"""``python -m hmtl_tf.distill``: KD-OE stage 2, distillation from the offset ensemble (Eq. 6-7, §3.4, §5.3).

    python -m hmtl_tf.distill --teacher=runs/kdoe_stage1 --run=runs/kd_r18 --student=resnet18 [--K=15 --d=5
        --teacher_mode=stored|on_the_fly --epochs=100 --lr=3e-4 --batch_size=128 --max_train_samples=N --scale=smoke]

Teacher = the offset ensemble (K, d) of a finished run with a 1-degree bin head (``--head=kdoe`` stage 1, or
any run whose inference model decodes 198 bins). Student = ``--student`` backbone + one bin-1 head.

``--teacher_mode=stored`` (default): the ensemble is computed once over the training shards and written as an
augmented copy of them (every record + ``teacher/probs`` = the ensemble of the record's crop and of its mirror
image, 2 x angles x 198 floats, so the flip augmentation stays exact) in ``--teacher_shards`` (default
``TEACHER/teacher_shards_K<K>_d<d>[_n<N>]``: computed once per teacher, ensemble and sample count, shared by all
its students); the student trains on those with flip p=0.5 and the teacher run's image augmentation
(``config.aug_ops``: KD-OE Sec. 4.3's photometric list; rotation would invalidate stored distributions, so it is
off). ``--max_train_samples=N``: the first N training records (default: the teacher run's setting).
``on_the_fly``: each batch of stored regions is flipped and rotated (±15°, exact labels, ``data.rotation_aug``),
then given the same image augmentation, and the ensemble is computed in the training step (S forward passes
of the teacher per image).

The run directory is ``hmtl_tf.train``'s: config.json (student config), distill.json (teacher, K, d, mode),
versions.json, data_hashes.json, history.csv, checkpoints/, best.weights.h5, inference.keras,
inference_savedmodel/, metrics.json, DONE. Re-running resumes at the last finished epoch.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time

import numpy as np

from hmtl_tf import config as C

N_BINS = 198  # KD-OE 1-degree bins over [-99, 99]


def teacher_from_run(run_dir: str):
    """(teacher cfg, ModelFn of its bin-1 logits); error unless its heads decode 198 1-degree bins."""
    from hmtl_tf.rundir import load_run
    from hmtl_tf.kdoe.ensemble import distribution_model_fn

    tcfg, inference = load_run(run_dir)
    fn, values = distribution_model_fn(inference)
    for a, v in values.items():
        if len(v) != N_BINS:
            raise C.ConfigError(f"--teacher={run_dir}: head {a!r} has {len(v)} bins; distillation needs a 1-degree "
                                f"bin head (198 bins: --head=kdoe, or --bin_size=1)")
    return tcfg, fn


# ----------------------------------------------------------------------------- stored teacher distributions
def _flip_batch(images, boxes):
    import tensorflow as tf

    w = tf.cast(tf.shape(images)[2], tf.float32)
    b = tf.cast(boxes, tf.float32)
    return tf.image.flip_left_right(images), tf.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)


def _count(path: str) -> int:
    import tensorflow as tf

    return int(tf.data.TFRecordDataset([path]).reduce(0, lambda n, _: n + 1))


def write_teacher_shards(files, out_dir: str, teacher_fn, angles, K: int, d: int, input_size: int,
                         batch_size: int = 8, limit: int = 0, select=None) -> list:
    """Copies ``files`` (the records ``select(dataset, [file])`` keeps, when given: the training selection of the
    config, e.g. its 300W-LP subsets; the first ``limit`` of them when > 0) into ``out_dir`` with ``teacher/probs`` = [ensemble(crop), ensemble(mirrored crop)], each
    angles x 198, flattened. Resumable per shard (written to a per-process .tmp, then renamed), so students of
    one teacher share the copy."""
    import tensorflow as tf

    from hmtl_tf.kdoe.ensemble import ensemble_probs, stored_example

    os.makedirs(out_dir, exist_ok=True)
    outs = []
    left = int(limit) if limit and limit > 0 else -1  # records still wanted (-1 = all)
    for path in files:
        if left == 0:
            break
        out = os.path.join(out_dir, os.path.basename(path))
        outs.append(out)
        if os.path.isfile(out):
            left = left - _count(out) if left > 0 else left
            continue
        tmp = f"{out}.{os.getpid()}.tmp"
        source = tf.data.TFRecordDataset([path])
        source = select(source, [path]) if select is not None else source
        source = source.take(left) if left > 0 else source
        raw = iter(source)
        written = 0
        batches = source.map(stored_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        with tf.io.TFRecordWriter(tmp) as w:
            for batch in batches.padded_batch(batch_size).prefetch(1):  # = kdoe.ensemble.stored_batches
                views = [(batch["image"], batch["box"]), _flip_batch(batch["image"], batch["box"])]
                probs = [ensemble_probs(teacher_fn, im, bx, K, d, input_size, angles) for im, bx in views]
                flat = np.concatenate([np.stack([p[a].numpy() for a in angles], 1).reshape(len(batch["box"]), -1)
                                       for p in probs], axis=1)
                for row in flat:
                    ex = tf.train.Example.FromString(next(raw).numpy())
                    ex.features.feature["teacher/probs"].float_list.value[:] = row.tolist()
                    w.write(ex.SerializeToString())
                    written += 1
        os.replace(tmp, out)
        left = left - written if left > 0 else left
    return outs


def stored_example_fn(cfg: C.TrainConfig, angles, flip: bool):
    """(serialized, seed) -> (image, targets with ``teacher_{angle}``): crop with random k (pipeline), flip
    p=0.5 choosing the mirrored teacher distributions, then the image ops of the run's augmentation set
    (``config.aug_ops``: stage 1's, KD-OE Sec. 4.3's photometric list; the pose is unchanged by them, so the
    stored distributions stay the targets; a zoom would change the crop and is skipped)."""
    import tensorflow as tf

    from hmtl_tf.data import augment, pipeline, records
    from hmtl_tf.data.rotation_aug import flip_tf

    size, n = cfg.data.image_size, len(angles)
    ops = C.aug_ops(cfg.data)

    def fn(serialized, seed):
        ex = records.parse_example(serialized)
        image, _ = pipeline.crop_example(ex, size, pipeline.sample_k(ex, seed))
        probs = tf.reshape(ex["teacher/probs"], [2, n, N_BINS])
        do = tf.random.stateless_uniform([], seed=tf.random.experimental.stateless_fold_in(seed, 1)) < 0.5
        do = tf.logical_and(do, flip)
        fimage, fypr = flip_tf(image, ex["pose/ypr"])
        image = tf.where(do, fimage, image)
        ypr = tf.where(do, fypr, ex["pose/ypr"])
        probs = tf.where(do, probs[1], probs[0])
        image = augment.image_ops(image, tf.random.experimental.stateless_fold_in(seed, 2), ops)
        targets = {a: ypr[pipeline.ANGLE_INDEX[a]] for a in angles}
        targets.update({f"teacher_{a}": probs[i] for i, a in enumerate(angles)})
        return image, targets
    return fn


def on_the_fly_example_fn(cfg: C.TrainConfig, angles, flip: bool, rotate: bool):
    """(serialized, seed) -> ({"stored", "box"}, targets): the stored region flipped/rotated about the crop
    centre (labels changed exactly, ``data.rotation_aug``), then the image ops of the run's augmentation set
    (``config.aug_ops``, zoom skipped) on the region, so the teacher's offset crops and the student's crop see
    the same pixels (sizes of the occluders and CLAHE tiles are relative to the region)."""
    import tensorflow as tf

    from hmtl_tf.data import augment, pipeline
    from hmtl_tf.kdoe.ensemble import stored_example
    from hmtl_tf.data.rotation_aug import random_pose_augment_tf

    ops = C.aug_ops(cfg.data)

    def fn(serialized, seed):
        ex = stored_example(serialized)
        image, ypr, box = ex["image"], ex["ypr"], ex["box"]
        image, ypr, box = random_pose_augment_tf(image, ypr, box, max_deg=15.0 if rotate else 0.0,
                                                 flip_prob=0.5 if flip else 0.0, seed=seed)
        image = augment.image_ops(image, tf.random.experimental.stateless_fold_in(seed, 2), ops)
        return {"stored": image, "box": box}, {a: ypr[pipeline.ANGLE_INDEX[a]] for a in angles}
    return fn


def train_dataset(files, cfg: C.TrainConfig, fn, padded: bool):
    """Shuffled, repeated, seeded batches of ``fn`` over ``files`` (the first ``cfg.data.max_train_samples``)."""
    import tensorflow as tf

    from hmtl_tf.data import pipeline

    ds = pipeline.filter_training_records(tf.data.TFRecordDataset(files), files, cfg)  # 300W-LP subsets
    if cfg.data.max_train_samples > 0:
        ds = ds.take(cfg.data.max_train_samples)
    ds = ds.repeat().enumerate()
    ds = ds.shuffle(cfg.data.shuffle_buffer, seed=cfg.seed)
    ds = ds.map(lambda i, s: fn(s, pipeline.element_seed(cfg.seed, 0, i)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.padded_batch(cfg.batch_size, drop_remainder=True) if padded else ds.batch(cfg.batch_size, True)
    return ds.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------- the run
def student_config(tcfg: C.TrainConfig, fl) -> C.TrainConfig:
    cfg = copy.deepcopy(tcfg)
    cfg.run, cfg.model.backbone, cfg.model.init = fl.run, fl.student, fl.init
    if fl.student != tcfg.model.backbone:  # the teacher's explicit ImageNet file is for its own backbone
        cfg.model.imagenet_weights = ""
    if fl.max_train_samples >= 0:
        cfg.data.max_train_samples = fl.max_train_samples
    cfg.optim.optimizer, cfg.optim.schedule, cfg.optim.lr = "adam", "constant", fl.lr
    smoke = fl.scale == "smoke" or (not fl.scale and tcfg.scale == "smoke")
    cfg.scale = "smoke" if smoke else "paper"
    cfg.epochs = fl.epochs or (2 if smoke else 100)
    cfg.batch_size = fl.batch_size or (8 if smoke else 128)
    cfg.steps_per_epoch = fl.steps_per_epoch
    cfg.strategy = getattr(fl, "strategy", "") or tcfg.strategy
    cfg.mixed_precision = getattr(fl, "mixed_precision", "") or tcfg.mixed_precision
    cfg.xla = getattr(fl, "xla", "") or C.xla_mode(tcfg.xla)
    cfg.transforms_on = "host"  # the student's transforms (flip, stored distributions) run on the host
    if fl.student not in C.BACKBONES:
        raise C.ConfigError(f"--student={fl.student!r}: expected one of {', '.join(C.BACKBONES)}")
    return cfg


def teacher_config(run_dir: str) -> C.TrainConfig:
    """The teacher run's config.json (read before TensorFlow starts: the student's device set-up comes from it)."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--teacher={run_dir}: not a finished run (expected config.json and inference.keras)")
    with open(path) as f:
        return C.TrainConfig.from_json(f.read())


def _selection_tag(files, cfg: C.TrainConfig) -> str:
    """Teacher-shard folder suffix of the training selection: the 300W-LP subsets when not all eight, the held-out
    fraction when one is held out ("" for every record)."""
    from hmtl_tf.data import pipeline

    tag = ""
    if pipeline.w300lp_excluded(files, cfg):
        kept = C.w300lp_subsets(cfg.data)
        tag = "_noflip" if kept == C.W300LP_ORIGINALS else "_" + "+".join(kept)
    held = float(getattr(cfg.data, "val_split", 0.0) or 0.0)
    return tag + (f"_vs{held:g}" if held > 0 else "")


def run(fl) -> str:
    """One distillation run: ``train.run``'s run directory and the shared run set-up (``hmtl_tf.runsetup``:
    strategy, seeds, determinism, mixed precision, the GPU recipe, callbacks), the student built in the strategy's
    scope."""
    from hmtl_tf import rundir as R
    from hmtl_tf import runsetup
    from hmtl_tf import train as T
    from hmtl_tf.data import pipeline, records

    if fl.teacher_mode not in ("stored", "on_the_fly"):
        raise C.ConfigError(f"--teacher_mode={fl.teacher_mode!r}: expected stored or on_the_fly")
    if not fl.run:
        raise C.ConfigError("--run: an output directory is required")
    cfg = student_config(teacher_config(fl.teacher), fl)
    cfg.validate()
    (train_dir, train_split), val = T.data_sources(cfg)
    if cfg.strategy in ("auto", "multi_worker"):
        cfg.run = R.worker_run_dir(cfg.run)
    strategy, policy = runsetup.setup_devices(cfg)  # before any model is loaded or built

    from hmtl_tf.kdoe.ensemble import ensemble_probs
    from hmtl_tf.kdoe.model import KDOEModel, build_student_network
    from hmtl_tf.kdoe.offsets import offset_set
    from hmtl_tf.models.backbone import set_sync_batchnorm
    from hmtl_tf.optim import make_optimizer

    offset_set(fl.K, fl.d)
    with strategy.scope():  # on_the_fly: the teacher runs inside the training step, on every replica
        _, teacher_fn = teacher_from_run(fl.teacher)
    angles = tuple(cfg.model.angles)
    run_dir = R.prepare_run_dir(cfg, fl.overwrite)
    if run_dir is None:
        print(f"{cfg.run}: finished run (DONE present); nothing to do", flush=True)
        return cfg.run
    limit = cfg.data.max_train_samples
    files = records.shard_files(train_dir, train_split)
    shards = fl.teacher_shards or os.path.join(fl.teacher, f"teacher_shards_K{fl.K}_d{fl.d}"
                                               + (f"_n{limit}" if limit > 0 else "") + _selection_tag(files, cfg))
    distill = {"teacher": os.path.abspath(fl.teacher), "K": fl.K, "d": fl.d, "S": len(offset_set(fl.K, fl.d)),
               "teacher_mode": fl.teacher_mode, "student": fl.student, "flip": fl.flip,
               "rotate": fl.rotate and fl.teacher_mode == "on_the_fly", "augment": list(C.aug_ops(cfg.data)),
               "loss": "(0.05*CE + KL(ens||student))/2",
               "teacher_shards": os.path.abspath(shards) if fl.teacher_mode == "stored" else None}
    R.write_json_atomic(os.path.join(run_dir, "config.json"), json.loads(cfg.to_json()))
    R.write_json_atomic(os.path.join(run_dir, "distill.json"), distill)
    R.write_json_atomic(os.path.join(run_dir, "versions.json"), R.library_versions())
    R.write_json_atomic(os.path.join(run_dir, "data_hashes.json"),
                        {"train": {"dir": train_dir, "split": train_split, **R.shard_hashes(train_dir)}})
    size = cfg.data.image_size
    n = pipeline.train_record_count(train_dir, cfg, train_split)  # the 300W-LP subsets, the first N
    spe = cfg.steps_per_epoch or max(1, n // cfg.batch_size)
    t0 = time.time()
    if fl.teacher_mode == "stored":
        files = write_teacher_shards(files, shards, teacher_fn, angles, fl.K, fl.d, size, limit=limit,
                                     select=lambda ds, f: pipeline.filter_training_records(ds, f, cfg))
        print(f"teacher distributions (K={fl.K}, d={fl.d}, S={distill['S']}) for {n} records stored in "
              f"{shards} ({time.time() - t0:.1f} s)", flush=True)
        train_ds = train_dataset(files, cfg, stored_example_fn(cfg, angles, fl.flip), padded=False)
        teacher = None
    else:
        train_ds = train_dataset(files, cfg, on_the_fly_example_fn(cfg, angles, fl.flip, fl.rotate), padded=True)

        def teacher(stored, boxes):
            return ensemble_probs(teacher_fn, stored, boxes, fl.K, fl.d, size, angles)
    val_ds = pipeline.make_dataset(val[0], cfg, training=False, split=val[1]) if val else None
    state = R.read_json(os.path.join(run_dir, "state.json"), {}) or {}
    start = int(state.get("epoch", 0))
    recipe = runsetup.resolve_recipe(cfg, strategy, policy, steps_per_epoch=spe)
    runsetup.record_recipe(run_dir, recipe)
    train_ds = runsetup.device_dataset(train_ds, recipe)
    with strategy.scope():
        network = build_student_network(cfg)
        T.set_bn_momentum(network, cfg.model.bn_momentum)
        if cfg.model.sync_bn:
            set_sync_batchnorm(network)
        model = KDOEModel(network, angles, mode="distill", teacher_fn=teacher, input_size=size)
        runsetup.compile_model(model, make_optimizer(cfg.optim, spe, cfg.epochs), recipe, cfg)
        if start:
            T.restore_checkpoint(model, state, next(iter(train_ds))[0])
    print(f"distill {run_dir}: student={fl.student} teacher={fl.teacher} K={fl.K} d={fl.d} mode={fl.teacher_mode} "
          f"size={size} batch={cfg.batch_size} epochs={cfg.epochs} steps/epoch={spe} precision={policy} "
          f"replicas={strategy.num_replicas_in_sync} {recipe.line()}"
          + (f" — resuming after epoch {start}" if start else ""),
          flush=True)

    if start < cfg.epochs:
        model.fit(train_ds, epochs=cfg.epochs, initial_epoch=start, steps_per_epoch=spe, validation_data=val_ds,
                  callbacks=runsetup.run_callbacks(run_dir, state, network),
                  verbose=1 if sys.stdout.isatty() else 2)
    finish(cfg, run_dir, network, val, state)
    return run_dir


def finish(cfg: C.TrainConfig, run_dir: str, network, val, state: dict) -> None:
    """Best weights -> KD-OE inference model (.keras + SavedModel) -> validation MAE -> DONE (train.finish_run)."""
    from hmtl_tf import train as T
    from hmtl_tf.kdoe.model import build_kdoe_inference_model

    state["init"] = "distilled"
    T.finish_run(cfg, run_dir, network, val, state, build_kdoe_inference_model)


def main(argv):
    from absl import flags

    if len(argv) > 1:
        raise C.ConfigError(f"unexpected arguments {argv[1:]}; flags are --name=value")
    if not flags.FLAGS.teacher:
        raise C.ConfigError("--teacher: a finished stage-1 run directory is required")
    run(flags.FLAGS)


if __name__ == "__main__":
    from absl import flags

    from hmtl_tf.cli import run_main

    flags.DEFINE_string("teacher", "", "finished stage-1 run (1-degree bin head), e.g. from --head=kdoe")
    flags.DEFINE_string("run", "", "output run directory")
    flags.DEFINE_string("student", "resnet18", "student backbone: resnet18|34|50|101|152")
    flags.DEFINE_string("init", "random", "student backbone init: random | imagenet | weights file")
    flags.DEFINE_integer("K", 15, "offset range in input pixels (Eq. 5)")
    flags.DEFINE_integer("d", 5, "offset step in input pixels (Eq. 5)")
    flags.DEFINE_string("teacher_mode", "stored", "stored (computed once, in RUN/teacher_shards) | on_the_fly")
    flags.DEFINE_integer("epochs", 0, "default 100 (paper), 2 at smoke scale")
    flags.DEFINE_float("lr", 3e-4, "Adam learning rate (paper: 3e-4)")
    flags.DEFINE_integer("batch_size", 0, "default 128 (paper), 8 at smoke scale")
    flags.DEFINE_integer("steps_per_epoch", 0, "0 = one pass over the training shards")
    flags.DEFINE_integer("max_train_samples", -1, "the first N training records (-1: the teacher run's, 0: all)")
    flags.DEFINE_string("teacher_shards", "", "stored mode: where the teacher distributions go (default "
                        "TEACHER/teacher_shards_K<K>_d<d>[_n<N>], shared by the teacher's students)")
    flags.DEFINE_string("scale", "", "paper | smoke (default: the teacher run's scale)")
    flags.DEFINE_boolean("flip", True, "horizontal flip p=0.5 (labels and teacher distributions mirrored)")
    flags.DEFINE_boolean("rotate", True, "rotation ±15° with exact labels (on_the_fly mode only)")
    flags.DEFINE_string("strategy", "", "auto | one_device | mirrored | multi_worker (default: the teacher run's)")
    flags.DEFINE_string("mixed_precision", "", "auto | on | off | float16 | bfloat16 (default: the teacher run's)")
    flags.DEFINE_string("xla", "", "auto | on | off: jit_compile of the train step (default: the teacher run's)")
    flags.DEFINE_boolean("overwrite", False, "start the run directory afresh")
    run_main(main)
