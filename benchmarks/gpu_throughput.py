"""Training throughput on GPUs (issue 17): SL and HMTL (puzzle3x3, flag 3) at 224 px, batch 64 and 256, the GPU
recipe with each switch on / off, host vs device transforms, one and all visible GPUs.

    python benchmarks/gpu_throughput.py [--budget_s=240] [--out=results/gpu_throughput]   # on a GPU machine
    python benchmarks/gpu_throughput.py --smoke                                          # CPU, tiny (CI)

Per row: training images/s (``model.fit`` on the real input pipeline over synthetic JPEG shards, the epoch after a
warm-up epoch), GPU memory peak (``tf.config.experimental.get_memory_info``), the input pipeline's images/s alone
(the same dataset iterated without a model) and the projected hours of one Table 2 row (110 epochs x 61,225 images,
docs/PROTOCOL.md). Ratios side by side: HMTL/SL step time, recipe vs all-off, device vs host transforms, all GPUs vs
one. Writes ``throughput.json`` and ``throughput.md`` to ``--out``. Rows run in priority order until ``--budget_s``
is spent (each needs a trace, and an XLA compile when on); the rest are listed as skipped. Targets on one
H100/H200-class GPU: SL >= 2,000 img/s at 224 px, HMTL/SL <= 1.25, the input path faster than the step, a Table 2
row <= 2 h.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from hmtl_tf.rundir import write_atomic  # noqa: E402

TABLE2_EPOCHS, TABLE2_IMAGES = 110, 61225
# (name, config overrides of the recipe switches); "recipe" = every switch auto (all on for GPUs), then each off
VARIANTS = {
    "recipe": {},
    "no_mixed": {"mixed_precision": "off"},
    "no_xla": {"xla": "off"},
    "no_spe": {"steps_per_execution": 1},
    "no_prefetch": {"prefetch_to_device": "off"},
    "all_off": {"mixed_precision": "off", "xla": "off", "steps_per_execution": 1, "prefetch_to_device": "off"},
}


def write_shards(root: str, n: int, side: int) -> str:
    """``n`` synthetic 300W-LP-style records (random JPEG faces of ``side`` px, HopeNet crop spec)."""
    import tensorflow as tf

    from hmtl_tf.data import crops, records

    rng = np.random.default_rng(0)
    path = os.path.join(root, "bench")
    os.makedirs(path, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(path, records.shard_name("train", 0, 1))) as w:
        for i in range(n):
            img = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
            pts = rng.uniform(0.25 * side, 0.75 * side, (68, 2))
            spec = crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=pts, image_size=(side, side))
            ob = spec.outer_box()
            x0, y0, x1, y1 = max(0, ob[0]), max(0, ob[1]), min(side, ob[2]), min(side, ob[3])
            w.write(records.encode_example(
                image_jpeg=tf.io.encode_jpeg(img[y0:y1, x0:x1], quality=90).numpy(), origin=(x0, y0),
                source_size=(side, side), ypr=rng.uniform(-60, 60, 3), has_roll=True, crop=spec,
                source_id=f"AFW/AFW_{i}_0", dataset="300w_lp", split="train", subject="AFW", landmarks=pts))
    return path


def row_config(data: str, model: str, size: int, batch: int, variant: dict, transforms: str, gpus: str,
               backbone: str, steps: int):
    from hmtl_tf import config as C

    over = {"data.train": data, "data.val": "", "data.image_size": size, "batch_size": batch, "epochs": 2,
            "steps_per_epoch": steps, "model.backbone": backbone, "data.aug_set": "hmtl_l1",
            "ssl.task": "puzzle3x3" if model == "hmtl" else "none", "ssl.flag": 3, "transforms_on": transforms,
            "strategy": "mirrored" if gpus == "all" else "one_device", "data.shuffle_buffer": 256}
    over.update(variant)
    return C.make_config("paper", over)


def input_rate(cfg, data: str, batches: int) -> float:
    """images/s of the input pipeline alone (decode, crop, host transforms; device transforms: the host part)."""
    import copy

    from hmtl_tf.data import pipeline

    cfg = copy.deepcopy(cfg)
    cfg.epochs = batches + 2  # enough epochs (of steps_per_epoch batches each) for the timed batches
    it = iter(pipeline.make_dataset(data, cfg, training=True))
    next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * cfg.batch_size / (time.perf_counter() - t)


def train_rate(cfg, data: str):
    """(images/s of the timed epoch, GPU memory peak in GiB or None, the resolved recipe)."""
    import keras
    import tensorflow as tf

    from hmtl_tf import runsetup
    from hmtl_tf.data import pipeline
    from hmtl_tf.families import get_family
    from hmtl_tf.optim import make_optimizer

    keras.backend.clear_session()
    strategy, policy = runsetup.setup_devices(cfg)
    spe = cfg.steps_per_epoch
    ds = pipeline.make_dataset(data, cfg, training=True)
    recipe = runsetup.resolve_recipe(cfg, strategy, policy, ds.element_spec, spe)
    ds = runsetup.device_dataset(ds, recipe)
    gpus = tf.config.list_logical_devices("GPU")
    for g in gpus:
        tf.config.experimental.reset_memory_stats(g.name)
    family = get_family(cfg)
    with strategy.scope():
        model = family.training_model(family.build_network(cfg), cfg)
        runsetup.compile_model(model, make_optimizer(cfg.optim, spe, cfg.epochs), recipe, cfg)
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(ds, epochs=2, steps_per_epoch=spe, callbacks=[Timer()], verbose=0)
    peak = None
    if gpus:
        peak = max(tf.config.experimental.get_memory_info(g.name)["peak"] for g in gpus) / 2 ** 30
    keras.mixed_precision.set_global_policy("float32")
    return spe * cfg.batch_size / times[-1], peak, recipe


def plan(a, n_gpus: int):
    """Rows in priority order: (model, size, batch, variant name, transforms, gpus)."""
    rows = []
    sizes, batches = a.sizes, a.batches
    if a.smoke:  # CI on 2 CPU cores: one HMTL model, host vs device transforms (ratios are tested on their own)
        return [("hmtl", sizes[0], batches[0], "recipe", t, "one") for t in ("host", "device")]
    for size in sizes:
        for batch in batches:
            for model in ("sl", "hmtl"):
                rows.append((model, size, batch, "recipe", "host", "one"))
            rows.append(("hmtl", size, batch, "recipe", "device", "one"))
    for size in sizes:
        for name in VARIANTS:
            if name != "recipe" and not a.smoke:
                rows.append(("sl", size, batches[0], name, "host", "one"))
    if n_gpus > 1:
        for model in ("sl", "hmtl"):
            rows.append((model, sizes[0], batches[-1], "recipe", "host", "all"))
    return rows


def ratios(results):
    """Side-by-side ratios of the measured rows (missing partners: left out)."""
    def find(**kw):
        for r in results:
            if all(r[k] == v for k, v in kw.items()):
                return r
        return None
    out = []
    for r in results:
        base = dict(size=r["size"], batch=r["batch"], variant=r["variant"], transforms=r["transforms"],
                    gpus=r["gpus"])
        if r["model"] == "hmtl" and r["transforms"] == "host":
            sl = find(model="sl", **base)
            if sl:
                out.append({"ratio": "HMTL/SL step time", **base, "value": sl["images_per_s"] / r["images_per_s"]})
        if r["transforms"] == "device":
            host = find(model=r["model"], **dict(base, transforms="host"))
            if host:
                out.append({"ratio": "device/host transforms img/s", **base,
                            "value": r["images_per_s"] / host["images_per_s"]})
        if r["variant"] != "recipe" and r["transforms"] == "host":
            full = find(model=r["model"], **dict(base, variant="recipe"))
            if full:
                out.append({"ratio": f"recipe/{r['variant']} img/s", **base,
                            "value": full["images_per_s"] / r["images_per_s"]})
        if r["gpus"] == "all":
            one = find(model=r["model"], **dict(base, gpus="one"))
            if one:
                out.append({"ratio": "all GPUs/one img/s", **base, "value": r["images_per_s"] / one["images_per_s"]})
    return out


def markdown(report) -> str:
    lines = [f"# GPU throughput ({report['device']}, TF {report['tensorflow']}, {report['mode']})", "",
             f"Measured {report['date']}; projected hours = {TABLE2_EPOCHS} x {TABLE2_IMAGES:,} images / img/s.", "",
             "| model | size | batch | variant | transforms | GPUs | recipe | img/s | input img/s | GPU GiB peak "
             "| Table 2 row h |", "|" + "---|" * 11]
    for r in report["rows"]:
        mem = f"{r['gpu_mem_peak_gib']:.1f}" if r["gpu_mem_peak_gib"] is not None else "-"
        lines.append(f"| {r['model']} | {r['size']} | {r['batch']} | {r['variant']} | {r['transforms']} | {r['gpus']} "
                     f"| {r['recipe']} | {r['images_per_s']:.1f} | {r['input_images_per_s']:.1f} | {mem} "
                     f"| {r['table2_row_hours']:.1f} |")
    lines += ["", "| ratio | size | batch | variant | transforms | GPUs | value |", "|" + "---|" * 7]
    for q in report["ratios"]:
        lines.append(f"| {q['ratio']} | {q['size']} | {q['batch']} | {q['variant']} | {q['transforms']} "
                     f"| {q['gpus']} | {q['value']:.2f} |")
    if report["skipped"]:
        lines += ["", f"Not run (budget {report['budget_s']} s spent): " + "; ".join(report["skipped"])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="CPU, tiny: ResNet18 HMTL, 32 px, batch 4, 1 step (CI)")
    p.add_argument("--sizes", default="224")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--steps", type=int, default=0, help="steps per timed epoch (default 30; smoke 1)")
    p.add_argument("--budget_s", type=float, default=240.0, help="stop starting rows after this many seconds")
    p.add_argument("--out", default="results/gpu_throughput")
    a = p.parse_args(argv)
    a.sizes = [32] if a.smoke else [int(s) for s in a.sizes.split(",")]
    a.batches = [4] if a.smoke else [int(b) for b in a.batches.split(",")]
    steps = a.steps or (1 if a.smoke else 30)
    backbone = "resnet18" if a.smoke else "resnet50"
    import tensorflow as tf

    n_gpus = len(tf.config.list_physical_devices("GPU"))
    device = (tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
        "device_name", "GPU") + f" x{n_gpus}") if n_gpus else f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    t0 = time.perf_counter()
    results, skipped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = write_shards(tmp, max(64, 2 * max(a.batches)) if not a.smoke else 8, 2 * max(a.sizes) + 32)
        for model, size, batch, name, transforms, gpus in plan(a, n_gpus):
            label = f"{model} {size}px b{batch} {name} {transforms} {gpus}"
            if time.perf_counter() - t0 > a.budget_s:
                skipped.append(label)
                continue
            variant = VARIANTS[name]  # "recipe": every switch auto (on GPUs: all on; on CPU: the plain path)
            cfg = row_config(data, model, size, batch, variant, transforms, gpus, backbone, steps)
            rate, peak, recipe = train_rate(cfg, data)
            inp = input_rate(cfg, data, max(2, min(steps, 10)))
            results.append({"model": model, "size": size, "batch": batch, "variant": name, "transforms": transforms,
                            "gpus": gpus, "recipe": recipe.line(), "images_per_s": rate,
                            "input_images_per_s": inp, "gpu_mem_peak_gib": peak,
                            "table2_row_hours": TABLE2_EPOCHS * TABLE2_IMAGES / rate / 3600.0})
            print(f"{label:40s} {rate:9.1f} img/s  input {inp:9.1f} img/s  "
                  f"{'' if peak is None else f'{peak:.1f} GiB  '}{recipe.line()}", flush=True)
    report = {"device": device, "gpus": n_gpus, "tensorflow": tf.__version__, "mode": "smoke" if a.smoke else "full",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "budget_s": a.budget_s,
              "steps_per_timed_epoch": steps, "backbone": backbone, "rows": results, "ratios": ratios(results),
              "skipped": skipped, "wall_s": round(time.perf_counter() - t0, 1)}
    os.makedirs(a.out, exist_ok=True)
    for name, text in (("throughput.json", json.dumps(report, indent=2)), ("throughput.md", markdown(report))):
        write_atomic(os.path.join(a.out, name), text)
    print("\n".join(f"{q['ratio']:32s} {q['size']}px b{q['batch']} {q['variant']} {q['gpus']}: {q['value']:.2f}"
                    for q in report["ratios"]))
    print(f"wrote {a.out}/throughput.json and throughput.md ({report['wall_s']} s)")
    return report


if __name__ == "__main__":
    main()
