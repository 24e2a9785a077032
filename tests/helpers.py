"""Shared test helpers, imported as ``from tests.helpers import ...`` from any depth of the tests/ tree.

- ``REPO``: the repository root (commands run with ``cwd=REPO``; files are found below it).
- Graph mode vs eager (big_vision's double test): :func:`run_in_map` runs a function inside
  ``tf.data.Dataset.map``; :func:`eager_and_mapped` runs it both ways.
- Keras file round trip (keras-hub's saving test): :func:`save_and_reload`.
- Run directories (the DESIGN contract ``config.json`` + ``inference.keras``): :func:`make_run_dir` and the
  ``run_dir`` fixture of ``tests/conftest.py``.
- TFRecord shards for the input-pipeline tests: :func:`write_records`, :func:`random_items`,
  :func:`pipeline_config`.
- Experiment runner: :func:`flag_value` (a ``--name=value`` of an argv) and :class:`FakeRunner`.

TensorFlow and Keras are imported inside the functions, so importing this module (conftest does) stays light.
"""
import json
import os
import pathlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]

S = 64  # the run directories' model-input size


# ----------------------------------------------------------------------------- eager vs tf.data.Dataset.map
def run_in_map(fn, *args):
    """``fn(*args)`` inside ``tf.data.Dataset.map`` (graph mode); the element as NumPy (nested structure kept)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensors(tuple(tf.constant(a) for a in args)).map(fn)
    return tf.nest.map_structure(lambda t: t.numpy(), next(iter(ds)))


def eager_and_mapped(fn, *args):
    """(``fn(*args)`` eagerly, ``fn(*args)`` inside ``Dataset.map``) as NumPy; a tuple / list result becomes a tuple
    of arrays."""
    import tensorflow as tf

    args = [tf.constant(a) for a in args]
    eager = fn(*args)
    mapped = next(iter(tf.data.Dataset.from_tensors(tuple(args)).map(fn)))
    to_np = lambda v: tuple(np.asarray(x) for x in v) if isinstance(v, (tuple, list)) else np.asarray(v)  # noqa
    return to_np(eager), to_np(mapped)


# ----------------------------------------------------------------------------- Keras save / load
def save_and_reload(model, path, **load_kwargs):
    """Saves ``model`` to the ``.keras`` file ``path`` and loads it back (``keras.models.load_model(path,
    **load_kwargs)``); the caller compares outputs with its own tolerance."""
    import keras

    model.save(path)
    return keras.models.load_model(path, **load_kwargs)


# ----------------------------------------------------------------------------- run directories
def standin_inference_model(angles=None, size=S, seed=0):
    """A small model with the inference contract (raw RGB (S, S, 3) -> {"yaw", "pitch", "roll"} degrees):
    ImagePreprocess -> convs -> per-angle HopeNet bins -> HopeNetDecode; fast on 2 cores."""
    import keras

    from hmtl_tf import config as C
    from hmtl_tf.models.layers import HopeNetDecode, ImagePreprocess

    angles = C.ANGLES3 if angles is None else angles
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3), name="image")
    x = ImagePreprocess(name="preprocess")(inp)
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu", name="conv")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    heads = {a: keras.layers.Dense(66, name=f"head_{a}",
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=0.02))(x)
             for a in angles}
    return keras.Model(inp, {a: HopeNetDecode(3.0, name=a)(heads[a]) for a in angles}, name="standin")


def real_builder():
    try:
        from hmtl_tf.models.hmtl import build_inference_model, build_network
        return build_network, build_inference_model
    except ImportError:
        return None


def run_config(ssl="none", angles=None, size=S, crop_policy="hopenet"):
    from hmtl_tf import config as C

    angles = C.ANGLES3 if angles is None else angles
    return C.make_config("smoke", {"data.image_size": size, "ssl.task": ssl, "model.angles": tuple(angles),
                                   "data.crop_policy": crop_policy})


def make_run_dir(path, ssl="none", angles=None, size=S, crop_policy="hopenet", seed=0, real=False):
    """A finished-run directory: config.json + inference.keras. Returns (path, keras inference model).

    ``real=True`` uses ``hmtl_tf.models.hmtl.build_inference_model`` (random ResNet50 at 64 px); the default is
    :func:`standin_inference_model`, so the fast tests stay fast."""
    import keras
    import pytest

    from hmtl_tf import config as C

    angles = C.ANGLES3 if angles is None else angles
    os.makedirs(path, exist_ok=True)
    cfg = run_config(ssl, angles, size, crop_policy)
    builders = real_builder() if real else None
    if real and builders is None:
        pytest.skip("hmtl_tf.models.hmtl.build_inference_model is not available yet")
    if builders is not None:
        keras.utils.set_random_seed(seed)
        model = builders[1](cfg, builders[0](cfg))
    else:
        model = standin_inference_model(angles, size, seed)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(cfg.to_json())
    model.save(os.path.join(path, "inference.keras"))
    return str(path), model


# ----------------------------------------------------------------------------- TFRecord shards
def write_records(path, split, items, index=0, total=1):
    """Writes ``items`` (dicts: image, spec, ypr, ...) as one shard, storing the policy's outer region."""
    import tensorflow as tf

    from hmtl_tf.data import records

    os.makedirs(path, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(path, records.shard_name(split, index, total))) as w:
        for i, it in enumerate(items):
            img = it["image"]
            h, wd = img.shape[:2]
            ob = it["spec"].outer_box()
            x0, y0, x1, y1 = max(0, ob[0]), max(0, ob[1]), min(wd, ob[2]), min(h, ob[3])
            jpeg = tf.io.encode_jpeg(img[y0:y1, x0:x1], quality=95).numpy()
            w.write(records.encode_example(
                image_jpeg=jpeg, origin=(x0, y0), source_size=(wd, h), ypr=it.get("ypr", (0.0, 0.0, 0.0)),
                has_roll=it.get("has_roll", True), crop=it["spec"], source_id=it.get("id", f"{split}{index}_{i}"),
                dataset=it.get("dataset", "300w_lp"), split=split, subject=it.get("subject", ""),
                landmarks=it.get("landmarks")))


def random_items(n, split, seed, policy="hopenet"):
    """``n`` random 96 x 96 300W-LP-like items (noise image, 68 landmarks, pose) for :func:`write_records`."""
    from hmtl_tf.data import crops

    rng = np.random.RandomState(seed)
    items = []
    for i in range(n):
        img = rng.randint(0, 256, (96, 96, 3)).astype(np.uint8)
        pts = rng.uniform(25, 70, (68, 2))
        items.append(dict(image=img, landmarks=pts, ypr=rng.uniform(-80, 80, 3), id=f"{split}_{seed}_{i}",
                          spec=crops.make_crop_spec(policy, "300w_lp", split, pt2d=pts, image_size=(96, 96))))
    return items


def pipeline_config(**over):
    """The smoke config of the input-pipeline tests (batch 4, 3 epochs, aug level 2, seed 5) with ``over``."""
    from hmtl_tf.config import make_config

    base = {"batch_size": 4, "epochs": 3, "data.aug_level": 2, "seed": 5}
    base.update(over)
    return make_config("smoke", base)


# ----------------------------------------------------------------------------- experiment runner
def flag_value(argv, name):
    """The value of ``--name=value`` in ``argv``, or None."""
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), None)


class FakeRunner:
    """Stands in for the real commands: writes what a finished job leaves behind (or crashes on request)."""

    def __init__(self, crash_after=None):
        self.calls = []
        self.crash_after = crash_after

    def __call__(self, argv, log):
        self.calls.append(argv)
        if self.crash_after is not None and len(self.calls) > self.crash_after:
            return 1
        module = argv[2]
        if module == "hmtl_tf.pretrain":
            out = flag_value(argv, "out")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            pathlib.Path(out).write_text("weights")
            return 0
        run = flag_value(argv, "run")
        os.makedirs(run, exist_ok=True)
        path = os.path.join(run, "metrics.json")
        metrics = json.load(open(path)) if os.path.isfile(path) else {}
        roll = None if flag_value(argv, "angles") == "yaw,pitch" else 4.0
        if module == "hmtl_tf.train":
            with open(os.path.join(run, "config.json"), "w") as f:
                angles = ["yaw", "pitch"] if roll is None else ["yaw", "pitch", "roll"]
                json.dump({"data": {"data_root": "data/smoke/synthetic-x/shards"},
                           "model": {"angles": angles, "init": flag_value(argv, "init") or "random"}}, f)
            full = [f"test_aflw2000_full_mae_{a}" for a in ("yaw", "pitch", "roll", "mean")]
            with open(os.path.join(run, "history.csv"), "w") as f:
                f.write(",".join(["epoch", "test_mae_yaw", "test_mae_pitch", "test_mae_roll", "test_mae_mean"] + full)
                        + "\n1,6,5,4,5,7,6,5,6\n2,5,4,3,4,6,5,4,5\n")
            sel = {"selection": "final", "selected_epoch": 2}
            for name in [flag_value(argv, "val")] + [n for n in (flag_value(argv, "extra_test") or "").split(",") if n]:
                metrics[name] = {"yaw": 5.0, "pitch": 4.0, "roll": roll, "mean": 4.5, "n": 10, "variant": "v", **sel}
            metrics["_run"] = {**sel, "epochs": 2}
            pathlib.Path(run, "DONE").write_text("ok")
        else:
            metrics[flag_value(argv, "dataset")] = {"yaw": 3.0, "pitch": 2.0, "roll": 1.0, "mean": 2.0, "n": 5,
                                                    "variant": "b"}
        json.dump(metrics, open(path, "w"))
        return 0


# ----------------------------------------------------------------------------- video and CSV files
def write_video(path, frames, fps=10):
    """RGB ``frames`` as an mp4v video at ``path``."""
    import cv2

    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


def read_video(path):
    """Every frame of the video at ``path``, RGB."""
    import cv2

    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def read_csv(path):
    """The rows of a CSV file as dicts."""
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))
