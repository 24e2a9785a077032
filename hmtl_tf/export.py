"""``python -m hmtl_tf.export --run=DIR --format={saved_model,keras,tflite,onnx}``: the inference model only.

    python -m hmtl_tf.export --run=runs/hmtl_p3 --format=tflite --tflite_quant=fp16
    python -m hmtl_tf.export --run=runs/hmtl_p3 --format=onnx --check_images=../shared/realdata/AFLW2000

Exports the run's ``inference.keras`` (backbone + supervised heads, raw RGB in, degrees out: no SSL branch,
so the SL model's size and FLOPs) to ``DIR/export/`` (``--out``): ``inference.keras``, ``saved_model/``,
``inference_{fp32,fp16,int8}.tflite`` (TFLiteConverter; int8 = dynamic-range weights), ``inference.onnx``
(tf2onnx). Each export is written to a temporary path, run on sample inputs (seeded random images plus the
crops of ``--check_images``) and compared with the Keras model; only within ``TOLERANCE`` (degrees, max
|difference| over all angles) is it moved into place and reported done. Existing exports are kept unless
``--overwrite``.
"""
from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np

from hmtl_tf import api, library_log
from hmtl_tf.data.sources.images import load_rgb
from hmtl_tf.rundir import DiskFullError, disk_full, is_out_of_space

FORMATS = ("saved_model", "keras", "tflite", "onnx")
QUANTS = ("fp32", "fp16", "int8")
# Max |angle difference| (degrees) vs the Keras model on the check inputs. Float exports only reorder float32
# arithmetic (measured <= 7e-4 deg); fp16 and dynamic-range int8 weights perturb the logits. Measured on
# random-weight ResNet50 inference models (saturated softmaxes: a worst case), 64 px / 224 px: fp16 0.14 / 0.03,
# int8 2.8 / 5.6 deg (benchmarks/inference.py prints them on every run).
TOLERANCE = {"keras": 1e-3, "saved_model": 1e-2, "tflite_fp32": 5e-2, "onnx": 5e-2, "tflite_fp16": 1.0,
             "tflite_int8": 8.0}
ONNX_OPSET = 17


class ExportError(RuntimeError):
    """An export failed its check or would overwrite an existing one (one line)."""


def export_name(fmt: str, quant: str = "fp32") -> str:
    return {"keras": "inference.keras", "saved_model": "saved_model", "onnx": "inference.onnx",
            "tflite": f"inference_{quant}.tflite"}[fmt]


def tolerance_key(fmt: str, quant: str = "fp32") -> str:
    return f"tflite_{quant}" if fmt == "tflite" else fmt


# --------------------------------------------------------------------------------- writers
def write_keras(model, path: str) -> None:
    model.save(path)


def write_saved_model(model, path: str) -> None:
    model.export(path, format="tf_saved_model", verbose=False)


def write_tflite(model, path: str, quant: str = "fp32") -> None:
    """TFLiteConverter from a SavedModel of the model: fp32, fp16 weights, or dynamic-range int8 weights."""
    import tensorflow as tf

    if quant not in QUANTS:
        raise ExportError(f"--tflite_quant={quant!r}: expected one of {', '.join(QUANTS)}")
    with tempfile.TemporaryDirectory() as tmp:
        write_saved_model(model, os.path.join(tmp, "sm"))
        conv = tf.lite.TFLiteConverter.from_saved_model(os.path.join(tmp, "sm"))
        if quant in ("fp16", "int8"):
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if quant == "fp16":
            conv.target_spec.supported_types = [tf.float16]
        blob = conv.convert()
    with open(path, "wb") as f:
        f.write(blob)


def write_onnx(model, path: str) -> None:
    """tf2onnx on a tf.function with a (None, S, S, 3) signature (``from_keras`` fails on Keras 3 models)."""
    import tensorflow as tf
    import tf2onnx

    size = tuple(int(d) for d in model.inputs[0].shape[1:])
    spec = [tf.TensorSpec((None,) + size, tf.float32, name="image")]
    fn = tf.function(lambda image: model(image, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=ONNX_OPSET)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def write_export(model, fmt: str, path: str, quant: str = "fp32") -> None:
    if fmt == "tflite":
        write_tflite(model, path, quant)
    else:
        {"keras": write_keras, "saved_model": write_saved_model, "onnx": write_onnx}[fmt](model, path)


def runner_for(fmt: str, path: str) -> api.Runner:
    if fmt == "keras":
        return api.keras_runner(api.load_keras_inference(path))
    return {"saved_model": api.saved_model_runner, "tflite": api.tflite_runner, "onnx": api.onnx_runner}[fmt](path)


# --------------------------------------------------------------------------------- checking
def check_inputs(size: int, n_random: int = 8, images: Sequence[np.ndarray] = (), seed: int = 0,
                 crop_policy: str = "hopenet") -> np.ndarray:
    """Sample model inputs: seeded uniform-noise images and smooth random images, plus ``images`` (each
    treated as a face crop under ``crop_policy``). (N, S, S, 3) float32 in [0, 255]."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (n_random // 2, size, size, 3)).astype(np.float32)
    smooth = [cv2.resize(rng.uniform(0, 255, (4, 4, 3)).astype(np.float32), (size, size),
                         interpolation=cv2.INTER_CUBIC) for _ in range(n_random - n_random // 2)]
    parts = [noise, np.clip(np.asarray(smooth, np.float32).reshape(-1, size, size, 3), 0, 255)]
    if len(images):
        parts.append(api.crop_faces(list(images), None, crop_policy, size))
    return np.concatenate(parts, axis=0)


def max_angle_difference(ref: api.Runner, other: api.Runner, inputs: np.ndarray, angles: Sequence[str],
                         batch_size: int = 8) -> float:
    """Max |other - ref| over all inputs and angles (degrees), in batches."""
    worst = 0.0
    for s in range(0, len(inputs), batch_size):
        a, b = ref(inputs[s:s + batch_size]), other(inputs[s:s + batch_size])
        for k in angles:
            worst = max(worst, float(np.max(np.abs(np.reshape(a[k], -1) - np.reshape(b[k], -1)))))
    return worst


def load_images(pattern_or_dir: str) -> list:
    """The RGB images of a folder (jpg/png) or a glob pattern, sorted."""
    if os.path.isdir(pattern_or_dir):
        files = [f for ext in ("jpg", "jpeg", "png") for f in glob.glob(os.path.join(pattern_or_dir, f"*.{ext}"))]
    else:
        files = glob.glob(pattern_or_dir)
    if not files:
        raise ExportError(f"--check_images={pattern_or_dir}: no .jpg/.png images found")
    return [load_rgb(f) for f in sorted(files)]


# --------------------------------------------------------------------------------- export
def export(run: str, fmt: str, quant: str = "fp32", out: Optional[str] = None, overwrite: bool = False,
           check_images: Sequence[np.ndarray] = (), n_random: int = 8, log=print) -> Dict[str, object]:
    """Exports, checks and moves into place one format; returns {path, max_diff, tolerance, n_checked}."""
    if fmt not in FORMATS:
        raise ExportError(f"--format={fmt!r}: expected one of {', '.join(FORMATS)}")
    if quant not in QUANTS:
        raise ExportError(f"--tflite_quant={quant!r}: expected one of {', '.join(QUANTS)}")
    out = out or os.path.join(run if os.path.isdir(run) else os.path.dirname(run), "export")
    final = os.path.join(out, export_name(fmt, quant))
    if os.path.exists(final) and not overwrite:
        raise ExportError(f"{final}: an export already exists; pass --overwrite to replace it")
    if api.detect_format(run) not in ("run", "keras"):
        raise ExportError(f"--run={run}: expected a run directory or an inference.keras file")
    os.makedirs(out, exist_ok=True)
    library_log.attach(out)  # SavedModel / tf2onnx / TFLite converter lines: <out>/library.log
    est = api.HeadPoseEstimator.load(run)
    tmp_dir = tempfile.mkdtemp(prefix=".export-", dir=out)
    try:
        tmp = os.path.join(tmp_dir, export_name(fmt, quant))
        try:
            write_export(est.model, fmt, tmp, quant)
        except Exception as exc:  # noqa: BLE001  (out of space: one line; anything else as it was)
            if is_out_of_space(exc):
                raise disk_full(final) from None
            raise
        inputs = check_inputs(est.image_size, n_random, check_images, crop_policy=est.crop_policy)
        diff = max_angle_difference(est.runner, runner_for(fmt, tmp), inputs, est.angles)
        tol = TOLERANCE[tolerance_key(fmt, quant)]
        label = tolerance_key(fmt, quant)
        if not diff <= tol:
            raise ExportError(f"{label}: max angle difference {diff:.4g} deg vs the Keras model exceeds the "
                              f"tolerance {tol:g} deg on {len(inputs)} inputs; nothing written")
        if os.path.exists(final):
            shutil.rmtree(final) if os.path.isdir(final) else os.remove(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    log(f"{label}: max |angle - keras| = {diff:.4g} deg (tolerance {tol:g}) on {len(inputs)} inputs -> {final}")
    return {"path": final, "format": label, "max_diff": diff, "tolerance": tol, "n_checked": int(len(inputs))}


def main(argv):
    from absl import flags

    F = flags.FLAGS
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
        return 2
    try:
        images = load_images(F.check_images) if F.check_images else ()
        export(F.run, F.format, F.tflite_quant, F.out, F.overwrite, images, F.n_random)
    except (ExportError, FileNotFoundError, ValueError, DiskFullError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def define_flags():
    from absl import flags

    flags.DEFINE_string("run", None, "run directory (config.json + inference.keras) or an inference.keras file")
    flags.DEFINE_enum("format", "saved_model", FORMATS, "export format")
    flags.DEFINE_enum("tflite_quant", "fp32", QUANTS, "TFLite weights: fp32, fp16, or dynamic-range int8")
    flags.DEFINE_string("out", None, "output folder (default RUN/export)")
    flags.DEFINE_boolean("overwrite", False, "replace an existing export of the same format")
    flags.DEFINE_string("check_images", None, "folder / glob of face crops added to the parity check inputs")
    flags.DEFINE_integer("n_random", 8, "random images in the parity check")
    flags.mark_flag_as_required("run")


if __name__ == "__main__":
    from hmtl_tf.cli import run_main

    define_flags()
    run_main(main)
