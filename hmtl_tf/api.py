"""Minimal Python API for embedding: ``HeadPoseEstimator.load(path).predict(images, boxes)``.

    from hmtl_tf import HeadPoseEstimator
    est = HeadPoseEstimator.load("runs/hmtl_p3")          # a run dir, inference.keras, a SavedModel,
    ypr = est.predict(images, boxes)                        # a .tflite or an .onnx file -> (N, 3) degrees
    faces = est.predict_faces(photos)                       # detector (mtcnn) + calibrated crops:
                                                            # [(boxes, (F, 3) degrees) per photo]

Crops follow the training crop policies (hmtl_tf.data.crops, SPEC 8): a detector box under ``hopenet`` /
``visible`` gets HopeNet's BIWI box-with-margin rule (``make_crop_spec(policy, "biwi", "test", box=...)``)
and its central square; ``boxes`` = the box as is, stretched; ``none`` = the whole image, stretched (with a
detector box: the box, stretched, as ETH-XGaze patches are face crops). No box: the image is the face crop. The crop
is sampled like the test pipeline (``tf.image.crop_and_resize`` of the float box, half-pixel centres,
bilinear, outside the image black), here in NumPy.

Detector boxes and the training crop (issue 16, docs/DETECTION.md): ``load(..., detector="mtcnn",
calibration="auto")`` finds the detector's box-to-crop mapping (hmtl_tf.detect.calibration: the run's
``calibration_<detector>.json``, else the shipped default); ``predict(..., calibrated=True)`` and
``predict_faces`` crop the mapped box as is (it already is the policy's square test crop) instead of the
BIWI-margin rule, which was made for BIWI's boxes, not for this detector's.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from hmtl_tf import config as C
from hmtl_tf.data import crops

FORMATS = ("keras", "saved_model", "tflite", "onnx")


# ------------------------------------------------------------------------------------------ crops
def crop_box(box, policy: str, image_wh: Tuple[int, int], mapping=None) -> Tuple[float, float, float, float]:
    """The float box sampled for one face: the policy's test crop box (int, as the reference code), then
    the central square for square policies. ``box`` None = the whole image is the face crop. ``mapping`` (a
    :class:`hmtl_tf.detect.calibration.BoxMapping`): under ``hopenet`` / ``visible`` the mapped box is the crop."""
    w, h = image_wh
    if box is None:
        spec = crops.make_crop_spec("none", "", "test", image_size=(w, h))
        square = policy in ("hopenet", "visible")
    else:
        b = [float(v) for v in list(box)[:4]]
        if len(b) != 4 or not (b[2] > b[0] and b[3] > b[1]):
            raise ValueError(f"face box {tuple(box)}: expected (x_min, y_min, x_max, y_max) with max > min")
        if mapping is not None and policy in ("hopenet", "visible"):
            return tuple(float(v) for v in mapping.apply(b))
        pol = "boxes" if policy == "none" else policy
        spec = crops.make_crop_spec(pol, "biwi", "test", box=b)
        square = spec.square
    ib = [float(v) for v in spec.box()]
    return tuple(float(v) for v in crops.central_square(ib)) if square else tuple(ib)


def sample_box(image: np.ndarray, box, size: int) -> np.ndarray:
    """Bilinear crop-and-resize of a float pixel box (PIL edges) to (size, size, 3) float32, sampling
    ``x0 + (i + 0.5) * w / size - 0.5`` (half-pixel centres); samples outside the image are 0, exactly like
    ``tf.image.crop_and_resize(..., extrapolation_value=0)`` with the boxes of kdoe.ensemble."""
    img = np.asarray(image, dtype=np.float32)
    H, W = img.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    i = np.arange(size, dtype=np.float64) + 0.5
    xs = x0 + i * (x1 - x0) / size - 0.5
    ys = y0 + i * (y1 - y0) / size - 0.5

    def axis(coords, n):
        inside = (coords >= 0) & (coords <= n - 1)
        c = np.clip(coords, 0, n - 1)
        lo = np.floor(c).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, (c - lo).astype(np.float32), inside

    xl, xh, wx, xin = axis(xs, W)
    yl, yh, wy, yin = axis(ys, H)
    top = img[yl][:, xl] * (1 - wx)[None, :, None] + img[yl][:, xh] * wx[None, :, None]
    bot = img[yh][:, xl] * (1 - wx)[None, :, None] + img[yh][:, xh] * wx[None, :, None]
    out = top * (1 - wy)[:, None, None] + bot * wy[:, None, None]
    out *= (yin[:, None] & xin[None, :])[..., None]
    return out.astype(np.float32)


def crop_faces(images: Sequence[np.ndarray], boxes, policy: str, size: int, mapping=None) -> np.ndarray:
    """One model input per image: (N, size, size, 3) float32 RGB [0, 255] (``mapping``: :func:`crop_box`)."""
    if policy not in C.CROP_POLICIES:
        raise ValueError(f"crop_policy={policy!r}: expected one of {', '.join(C.CROP_POLICIES)}")
    boxes = [None] * len(images) if boxes is None else list(boxes)
    if len(boxes) != len(images):
        raise ValueError(f"predict: {len(images)} images but {len(boxes)} boxes (expected one box per image)")
    out = np.empty((len(images), size, size, 3), np.float32)
    for n, (img, b) in enumerate(zip(images, boxes)):
        img = _as_rgb(img, n)
        out[n] = sample_box(img, crop_box(b, policy, (img.shape[1], img.shape[0]), mapping), size)
    return out


def _as_rgb(img, n: int) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"image {n}: expected (H, W, 3) RGB, got shape {a.shape}")
    return a


# ---------------------------------------------------------------------------------------- runners
Runner = Callable[[np.ndarray], Dict[str, np.ndarray]]   # (n, S, S, 3) float32 -> {angle: (n,)}


def keras_runner(model) -> Runner:
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda x: {k: np.asarray(v) for k, v in fn(tf.constant(x, tf.float32)).items()}


def saved_model_runner(path: str) -> Runner:
    import tensorflow as tf

    obj = tf.saved_model.load(path)
    fn = getattr(obj, "serve", None) or obj.signatures["serving_default"]

    def run(x, _keep=obj):   # holds the loaded object: its variables die with it
        return {k: np.asarray(v) for k, v in fn(tf.constant(x, tf.float32)).items()}
    return run


def tflite_interpreter(path: str):
    """``tf.lite.Interpreter`` (its deprecation warning silenced: ai_edge_litert is not a dependency)."""
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_path=path, num_threads=os.cpu_count())


def tflite_runner(path: str) -> Runner:
    interp = tflite_interpreter(path)
    runner = interp.get_signature_runner()
    name = interp.get_signature_list()["serving_default"]["inputs"][0]
    return lambda x: {k: np.asarray(v) for k, v in runner(**{name: np.asarray(x, np.float32)}).items()}


def onnx_runner(path: str) -> Runner:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs()]
    return lambda x: dict(zip(outs, sess.run(outs, {name: np.asarray(x, np.float32)})))


def detect_format(path: str) -> str:
    """keras | saved_model | tflite | onnx | run (a run directory), from the path."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "inference.keras")):
            return "run"
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "saved_model"
        raise FileNotFoundError(f"{path}: expected a run directory (config.json + inference.keras) or a SavedModel")
    ext = os.path.splitext(path)[1].lower()
    fmt = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}.get(ext)
    if fmt is None or not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: expected a run directory, a SavedModel directory, or an existing "
                                ".keras / .tflite / .onnx file")
    return fmt


def load_keras_inference(path: str):
    import keras

    import hmtl_tf.models  # noqa: F401  (registers the custom layers)
    return keras.models.load_model(path, compile=False)


def find_config(path: str) -> Optional[C.TrainConfig]:
    """The run's config.json next to (or one/two levels above) a model path, if any."""
    d = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for cand in (d, os.path.dirname(d), os.path.dirname(os.path.dirname(d))):
        p = os.path.join(cand, "config.json")
        if os.path.isfile(p):
            with open(p) as f:
                return C.TrainConfig.from_json(f.read())
    return None


def make_runner(path: str) -> Tuple[Runner, str, object]:
    """(runner, format, keras model or None) for any supported model path."""
    fmt = detect_format(path)
    if fmt in ("run", "keras"):
        model = load_keras_inference(os.path.join(path, "inference.keras") if fmt == "run" else path)
        return keras_runner(model), "keras", model
    return {"saved_model": saved_model_runner, "tflite": tflite_runner, "onnx": onnx_runner}[fmt](path), fmt, None


# -------------------------------------------------------------------------------------------- API
class HeadPoseEstimator:
    """Angles (yaw, pitch, roll) in degrees (hmtl_tf.angles convention) from RGB images and face boxes."""

    def __init__(self, runner: Runner, image_size: int, crop_policy: str = "hopenet",
                 angles: Sequence[str] = C.ANGLES3, batch_size: int = 32, model=None, fmt: str = "keras",
                 detector: str = "mtcnn", mapping=None, calibration_source: str = ""):
        self.runner, self.image_size, self.crop_policy = runner, int(image_size), crop_policy
        self.angles, self.batch_size, self.model, self.format = tuple(angles), int(batch_size), model, fmt
        self.detector_name, self.mapping, self.calibration_source = detector, mapping, calibration_source
        self._detector = None

    @classmethod
    def load(cls, path: str, batch_size: int = 32, crop_policy: Optional[str] = None, detector: str = "mtcnn",
             calibration: str = "auto") -> "HeadPoseEstimator":
        """A run directory, ``inference.keras``, a SavedModel directory, a ``.tflite`` or an ``.onnx`` file.
        The image size and crop policy come from the run's ``config.json`` when found (else the model's
        input shape and ``hopenet``). ``detector``: the registered detector of :meth:`predict_faces` (built on
        first use); ``calibration``: its box mapping, ``auto`` | ``none`` | ``default`` | a JSON file
        (:func:`resolve_calibration`)."""
        runner, fmt, model = make_runner(path)
        cfg = find_config(path)
        size = cfg.data.image_size if cfg else _input_size(path, fmt, model)
        angles = tuple(cfg.model.angles) if cfg else None
        policy = crop_policy or (cfg.data.crop_policy if cfg else "hopenet")
        mapping, source = resolve_calibration(detector, path, calibration, policy)
        est = cls(runner, size, policy, angles or C.ANGLES3, batch_size, model, fmt, detector, mapping, source)
        if angles is None:   # the model's own outputs decide (2-angle models have no roll)
            probe = runner(np.zeros((1, size, size, 3), np.float32))
            est.angles = tuple(a for a in C.ANGLES3 if a in probe)
        return est

    def predict_crops(self, crops_: np.ndarray) -> np.ndarray:
        """Model inputs (N, S, S, 3) float32 RGB [0, 255] -> (N, len(angles)) degrees, batched."""
        x = np.asarray(crops_, np.float32)
        if x.ndim != 4 or x.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"crops: expected (N, {self.image_size}, {self.image_size}, 3), got {x.shape}")
        out = np.zeros((len(x), len(self.angles)), np.float64)
        for s in range(0, len(x), self.batch_size):
            res = self.runner(x[s:s + self.batch_size])
            out[s:s + self.batch_size] = np.stack([np.reshape(res[a], -1) for a in self.angles], axis=1)
        return out

    def predict(self, images, boxes=None, crop_policy: Optional[str] = None, calibrated: bool = False) -> np.ndarray:
        """``images``: one (H, W, 3) RGB image or a sequence / (N, H, W, 3) array (uint8 or float [0, 255]);
        ``boxes``: None (each image is a face crop) or one (x_min, y_min, x_max, y_max[, score]) per image;
        ``calibrated``: the boxes come from this estimator's detector, so its calibration (``self.mapping``,
        if any) maps them to the training crop. Returns (N, 3) degrees (yaw, pitch, roll); (N, 2) for
        2-angle models."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
            if boxes is not None and np.ndim(boxes) == 1:
                boxes = [boxes]
        if len(images) == 0:
            return np.zeros((0, len(self.angles)), np.float64)
        crops_ = crop_faces(list(images), boxes, crop_policy or self.crop_policy, self.image_size,
                            self.mapping if calibrated else None)
        return self.predict_crops(crops_)

    @property
    def detector(self):
        """The detector object (``hmtl_tf.detect.make_detector(self.detector_name)``), built on first use."""
        if self._detector is None:
            from hmtl_tf.detect import make_detector

            self._detector = make_detector(self.detector_name)[0]
        return self._detector

    def predict_faces(self, images) -> list:
        """Every face of each RGB image: ``[(boxes [(x0, y0, x1, y1, score)], angles (F, 3)) per image]``, faces
        from :attr:`detector` (batched where it can), crops through the calibration."""
        from hmtl_tf.detect import detect_many

        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        images = [_as_rgb(img, n) for n, img in enumerate(images)]
        found = detect_many(self.detector, images, [None] * len(images))
        flat_imgs = [img for img, bs in zip(images, found) for _ in bs]
        flat_boxes = [b for bs in found for b in bs]
        ypr = self.predict(flat_imgs, flat_boxes, calibrated=True) if flat_boxes else \
            np.zeros((0, len(self.angles)))
        out, at = [], 0
        for bs in found:
            out.append((bs, ypr[at:at + len(bs)]))
            at += len(bs)
        return out


def resolve_calibration(detector: str, run: Optional[str], calibration: str, policy: str):
    """(BoxMapping or None, where it came from) for ``detector``'s boxes under ``policy``. Whole images
    (detector ``none``) and the ``boxes`` / ``none`` policies use the box as it is, so only ``hopenet`` /
    ``visible`` crops take a mapping; an explicit file that cannot apply is a one-line error."""
    from hmtl_tf.detect import DEFAULT_DETECTOR
    from hmtl_tf.detect.calibration import load_mapping, resolve_mapping

    calibration = calibration or "auto"
    detector = DEFAULT_DETECTOR if detector in (None, "", "auto") else detector
    why = "whole-image detector" if detector == "none" else (
        None if policy in ("hopenet", "visible") else f"crop policy {policy} takes the box as it is")
    if why is None:
        return resolve_mapping(detector, run, calibration)
    if calibration not in ("auto", "none", "default"):
        load_mapping(calibration)  # a broken file is reported as such
        raise ValueError(f"--calibration={calibration}: not applicable ({why}); a calibration maps detector boxes "
                         "to the hopenet / visible crop (use --calibration=none)")
    return None, f"not used ({why})"


def _input_size(path: str, fmt: str, model) -> int:
    if model is not None:
        return int(model.inputs[0].shape[1])
    if fmt == "onnx":
        import onnxruntime as ort
        shape = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_inputs()[0].shape
        return int(shape[1])
    if fmt == "tflite":
        return int(tflite_interpreter(path).get_input_details()[0]["shape"][1])
    import tensorflow as tf
    fn = tf.saved_model.load(path).signatures["serving_default"]
    return int(list(fn.structured_input_signature[1].values())[0].shape[1])
