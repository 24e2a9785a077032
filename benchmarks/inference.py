"""Inference speed of the exported model on this CPU, side by side in one run (issue 6).

1. images/s and per-image latency at batch 1 and batch 32 for Keras, SavedModel, TFLite (fp32, fp16,
   dynamic-range int8) and ONNX Runtime: the 224-px ResNet50 inference model (random weights), exported with
   ``hmtl_tf.export`` (each export's parity with Keras is printed as it is made).
2. The exported inference model of an HMTL run (puzzle3x3 at flag 3) vs an SL run: parameter count and
   latency, measured interleaved (SL, HMTL, SL, ...) so machine noise hits both alike. They must be equal:
   the SSL branch is not part of the inference model (SPEC 3, "no extra FLOPs at test time").
3. Photos (issue 16): per face detector (mtcnn, haar, none), detection alone (one call per image, and batched
   where the detector can: MTCNN stacks equal-size images) and detection + calibrated crop + pose
   (``HeadPoseEstimator.predict_faces``) at batch 1 and over the whole folder, in images/s side by side. The
   images are the real AFLW2000 samples (``../shared/realdata/AFLW2000``, 450x450) when present, else synthetic
   heads of that size.

    python -m benchmarks.inference [--size 224] [--reps1 5] [--reps32 2]
    python -m benchmarks.inference --only=detectors [--images DIR]      # section 3 only
    python -m benchmarks.inference --smoke                              # tiny: 64 px model, 4 images, 1 rep

Repetitions are small on purpose (2 shared cores); medians are reported.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from hmtl_tf import config as C, export as E  # noqa: E402
from hmtl_tf.rundir import write_atomic  # noqa: E402

BACKENDS = [("keras", "fp32"), ("saved_model", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"),
            ("tflite", "int8"), ("onnx", "fp32")]


def make_run(path: str, size: int, ssl: str = "none", seed: int = 0):
    """A run directory (config.json + inference.keras) with a random-weight ResNet50 inference model."""
    import keras

    from hmtl_tf.models.hmtl import build_inference_model, build_network

    cfg = C.make_config("paper", {"data.image_size": size, "ssl.task": ssl})
    keras.utils.set_random_seed(seed)
    model = build_inference_model(cfg, build_network(cfg))
    os.makedirs(path, exist_ok=True)
    write_atomic(os.path.join(path, "config.json"), cfg.to_json())
    write_atomic(os.path.join(path, "inference.keras"), model.save)
    return model


def time_runner(runner, x: np.ndarray, reps: int) -> float:
    """Median seconds per call after one warm-up call."""
    runner(x)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        runner(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def backend_table(run: str, size: int, reps1: int, reps32: int) -> None:
    out = os.path.join(run, "export")
    rows = []
    x1 = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    x32 = np.random.default_rng(1).uniform(0, 255, (32, size, size, 3)).astype(np.float32)
    for fmt, quant in BACKENDS:
        res = E.export(run, fmt, quant, out=out, overwrite=True, n_random=4)
        runner = E.runner_for(fmt, res["path"])
        t1, t32 = time_runner(runner, x1, reps1), time_runner(runner, x32, reps32)
        mb = _size_mb(res["path"])
        rows.append((res["format"], 1 / t1, 1000 * t1, 32 / t32, 1000 * t32 / 32, res["max_diff"], mb))
        del runner
    print(f"\nInference on this CPU ({os.cpu_count()} cores), ResNet50 {size}px, random weights "
          f"(median of {reps1} / {reps32} calls)")
    print(f"{'backend':<14}{'b1 img/s':>10}{'b1 ms/img':>11}{'b32 img/s':>11}{'b32 ms/img':>12}"
          f"{'max|dA| deg':>13}{'size MB':>9}")
    for r in rows:
        print(f"{r[0]:<14}{r[1]:>10.2f}{r[2]:>11.1f}{r[3]:>11.2f}{r[4]:>12.1f}{r[5]:>13.4g}{r[6]:>9.1f}")


def _size_mb(path: str) -> float:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2 ** 20
    return os.path.getsize(path) / 2 ** 20


def sl_vs_hmtl(tmp: str, size: int, reps: int) -> None:
    sl_dir, hm_dir = os.path.join(tmp, "sl"), os.path.join(tmp, "hmtl")
    sl, hm = make_run(sl_dir, size), make_run(hm_dir, size, ssl="puzzle3x3", seed=1)
    runners = {}
    for name, d in (("SL", sl_dir), ("HMTL", hm_dir)):
        res = E.export(d, "saved_model", out=os.path.join(d, "export"), overwrite=True, n_random=2)
        runners[name] = E.runner_for("saved_model", res["path"])
    x = np.random.default_rng(2).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    times = {"SL": [], "HMTL": []}
    for r in runners.values():
        r(x)
    for _ in range(reps):
        for name, r in runners.items():
            t = time.perf_counter()
            r(x)
            times[name].append(time.perf_counter() - t)
    print(f"\nExported inference model (SavedModel, {size}px, batch 1, {reps} interleaved calls each)")
    print(f"{'run':<8}{'params':>12}{'median ms':>11}{'min ms':>9}")
    for name, m in (("SL", sl), ("HMTL", hm)):
        t = times[name]
        print(f"{name:<8}{m.count_params():>12,}{1000 * statistics.median(t):>11.1f}{1000 * min(t):>9.1f}")
    same = sl.count_params() == hm.count_params()
    print(f"parameter counts equal: {same}")
    if not same:
        raise SystemExit("the HMTL inference model differs from the SL one")


REALDATA_AFLW = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                             "realdata", "AFLW2000")
DETECTORS = ("mtcnn", "haar", "none")


def photo_set(folder: str, n: int):
    """(images, where they came from): the folder's JPEGs, else ``n`` synthetic 450x450 heads."""
    import glob

    from hmtl_tf.data.sources.images import load_rgb

    files = sorted(glob.glob(os.path.join(folder, "*.jpg")))[:n] if folder and os.path.isdir(folder) else []
    if files:
        return [load_rgb(f) for f in files], f"{len(files)} images of {os.path.normpath(folder)}"
    from hmtl_tf.data.synthetic import render_head, sample_head

    rng = np.random.default_rng(0)
    imgs = [render_head(sample_head(rng), (rng.uniform(-60, 60), rng.uniform(-30, 30), rng.uniform(-20, 20)),
                        size=(450, 450))[0] for _ in range(n)]
    return imgs, f"{n} synthetic 450x450 heads (no real images at {folder})"


def _rate(fn, n_images: int, reps: int) -> float:
    """images/s of ``fn()`` (which handles ``n_images``), median of ``reps`` after one warm-up."""
    return n_images / time_runner(lambda _: fn(), None, reps)


def detector_table(run: str, images, where: str, reps: int) -> list:
    """Section 3 (module docstring): one row per detector, images/s."""
    from hmtl_tf.api import HeadPoseEstimator
    from hmtl_tf.detect import DetectorUnavailable, detect_many, make_detector

    rows = []
    for name in DETECTORS:
        try:
            det, _ = make_detector(name)
        except DetectorUnavailable as exc:
            print(f"{name}: skipped ({exc})")
            continue
        est = HeadPoseEstimator.load(run, detector=name)
        est._detector = det
        one = _rate(lambda: [det.detect(im) for im in images], len(images), reps)
        batched = _rate(lambda: detect_many(det, images, [None] * len(images)), len(images), reps) \
            if hasattr(det, "detect_batch") else None
        faces = sum(len(b) for b in detect_many(det, images, [None] * len(images)))
        e2e1 = _rate(lambda: [est.predict_faces([im]) for im in images], len(images), reps)
        e2e_all = _rate(lambda: est.predict_faces(images), len(images), reps)
        rows.append((name, faces, one, batched, e2e1, e2e_all, est.mapping is not None))
    print(f"\nDetection + crop + pose on this CPU ({os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f}), {where}; images/s, median of {reps}")
    print(f"{'detector':<10}{'faces':>7}{'detect 1/call':>15}{'detect batched':>16}{'+pose b1':>10}"
          f"{'+pose folder':>14}  calibrated")
    for name, faces, one, batched, e1, ea, cal in rows:
        d1 = f"{one:>15.2f}" if name != "none" else f"{'(whole image)':>15}"
        b = f"{batched:>16.2f}" if batched is not None else f"{'(no batch)':>16}"
        print(f"{name:<10}{faces:>7}{d1}{b}{e1:>10.2f}{ea:>14.2f}  {'yes' if cal else 'no'}")
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reps1", type=int, default=5, help="timed calls at batch 1")
    ap.add_argument("--reps32", type=int, default=2, help="timed calls at batch 32")
    ap.add_argument("--only", choices=("all", "backends", "detectors"), default="all")
    ap.add_argument("--images", default=REALDATA_AFLW, help="photos for section 3 (*.jpg)")
    ap.add_argument("--n_images", type=int, default=16)
    ap.add_argument("--reps_detect", type=int, default=3, help="timed passes over the photos per detector")
    ap.add_argument("--smoke", action="store_true", help="tiny: 64 px model, 4 photos, 1 rep, section 3 only")
    args = ap.parse_args(argv)
    if args.smoke:
        args.size, args.only, args.n_images, args.reps_detect = 64, "detectors", 4, 1
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "sl_bench")
        make_run(run, args.size)
        if args.only in ("all", "backends"):
            backend_table(run, args.size, args.reps1, args.reps32)
            sl_vs_hmtl(tmp, args.size, max(3, args.reps1))
        if args.only in ("all", "detectors"):
            images, where = photo_set(args.images, args.n_images)
            detector_table(run, images, where, args.reps_detect)


if __name__ == "__main__":
    main()
