"""``python -m hmtl_tf.predict --run=DIR INPUT... --out=DIR``: head pose on images, folders, videos, a camera.

    python -m hmtl_tf.predict --run=runs/hmtl_p3 photos/ clip.mp4 --out=pred          # mtcnn, calibrated
    python -m hmtl_tf.predict --run=runs/hmtl_p3 clip.mp4 --out=pred --smooth         # One Euro per track
    python -m hmtl_tf.predict --run=runs/hmtl_p3 AFLW2000/ --boxes=AFLW2000.json --out=pred
    python -m hmtl_tf.predict --run=runs/hmtl_p3 0 --out=cam --max_frames=300      # camera 0

Faces come from ``--boxes`` (KD-OE JSON or CSV ``file,x_min,y_min,x_max,y_max``; video frames are keyed
``<video>#<frame>``) or ``--detector`` (hmtl_tf.detect: ``mtcnn``, the default; ``haar``; ``none`` = each
image is a face crop; or a registered one). A detector box becomes the training crop through
``--calibration`` (``auto``: ``<run>/calibration_<detector>.json``, else the shipped default of the detector,
else the raw box with the crop policy's margins, said in one line; ``none``; or a JSON file from
hmtl_tf.calibrate). Crops follow ``--crop_policy`` (default: the run's). In videos each face gets a ``track``
id (IoU matching across frames, hmtl_tf.tracking); ``--smooth`` filters its angles with a One Euro filter
(Casiez et al. 2012; ``--smooth_min_cutoff``, ``--smooth_beta``, ``--smooth_d_cutoff``), off by default.

Writes to ``--out``: ``annotated/<name>.png`` per image, ``<name>_annotated.mp4`` per video / camera (every
input frame, those without a face too; axes with HopeNet's convention, angles as text), ``predictions.csv``
(one row per face per frame) and ``predictions.json`` (the same plus the detector, the calibration used, the
smoothing and the inputs that failed and why). Inference is batched over faces across frames and images;
unreadable inputs are listed at the end, the rest processed.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from hmtl_tf import viz
from hmtl_tf.data.sample import DataError
from hmtl_tf.detect import Box, FaceDetector, WholeImageDetector
from hmtl_tf.tracking import IoUTracker, OneEuroParams, TrackSmoother

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
CSV_COLUMNS = ("input", "frame", "face", "track", "x_min", "y_min", "x_max", "y_max", "score", "yaw", "pitch", "roll")


@dataclass
class Source:
    kind: str      # image | video | camera
    path: str      # file path, or the camera index as text
    name: str      # output name (relative to the input folder for folder members)


def expand_inputs(inputs: Sequence[str]) -> Tuple[List[Source], List[Tuple[str, str]]]:
    """Input arguments -> (sources in order, failures [(input, reason)]). Folders are walked (sorted)."""
    sources, failed = [], []
    for arg in inputs:
        if os.path.isdir(arg):
            found = []
            for root, dirs, files in os.walk(arg):
                dirs.sort()
                for f in sorted(files):
                    ext = os.path.splitext(f)[1].lower()
                    if ext in IMAGE_EXTS + VIDEO_EXTS:
                        p = os.path.join(root, f)
                        rel = os.path.join(os.path.basename(os.path.normpath(arg)), os.path.relpath(p, arg))
                        found.append(Source("video" if ext in VIDEO_EXTS else "image", p, rel))
            if not found:
                failed.append((arg, "folder holds no images or videos"))
            sources += found
        elif os.path.isfile(arg):
            ext = os.path.splitext(arg)[1].lower()
            if ext not in IMAGE_EXTS + VIDEO_EXTS:
                failed.append((arg, f"not an image or a video (expected {' '.join(IMAGE_EXTS + VIDEO_EXTS)})"))
                continue
            kind = "video" if ext in VIDEO_EXTS else "image"
            sources.append(Source(kind, arg, os.path.basename(arg)))
        elif arg.isdigit():
            sources.append(Source("camera", arg, f"camera{arg}"))
        else:
            failed.append((arg, "no such file or folder (expected an image, a video, a folder or a camera index)"))
    return sources, failed


def _unique_names(sources: List[Source]) -> None:
    """Output stems unique per kind of output (``x.jpg`` + ``x.png`` -> ``x``, ``x_1``; the suffix goes before the
    extension, which the writers strip)."""
    taken = set()
    for s in sources:
        stem, ext = os.path.splitext(s.name.replace(os.sep, "__"))
        cand, n = stem, 0
        while (s.kind == "image", cand) in taken:
            n += 1
            cand = f"{stem}_{n}"
        taken.add((s.kind == "image", cand))
        s.name = cand + ext


# ------------------------------------------------------------------------------------------- frames
@dataclass
class Frame:
    source: Source
    index: int
    image: np.ndarray       # RGB uint8
    key: str                # box-file key


def read_video(path, source: Source, max_frames: int = 0) -> Iterator[Frame]:
    """RGB frames of a video file or camera (``path`` int). DataError if it cannot be opened / has no frame."""
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise DataError(f"{source.path}: cannot open as a video{' camera' if source.kind == 'camera' else ''}")
        i = 0
        while not max_frames or i < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            yield Frame(source, i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{source.path}#{i}")
            i += 1
        if i == 0:
            raise DataError(f"{source.path}: no readable frame (expected a video cv2 can decode)")
    finally:
        cap.release()


def video_info(path) -> Tuple[float, int]:
    import cv2

    cap = cv2.VideoCapture(path)
    fps, n = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return (fps if fps and fps > 0 else 25.0), max(0, n)


class Progress:
    """A one-line text progress bar on stderr (frames done / total)."""

    def __init__(self, label: str, total: int, stream=sys.stderr, width: int = 30):
        self.label, self.total, self.stream, self.width, self.done = label, total, stream, width, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.total:
            k = int(self.width * min(self.done, self.total) / self.total)
            bar = "#" * k + "." * (self.width - k)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} frames")
        else:
            self.stream.write(f"\r{self.label} {self.done} frames")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# ---------------------------------------------------------------------------------------- inference
FrameResult = Tuple[Frame, List[Box], np.ndarray]   # boxes (F,) and angles (F, A) of one frame


def run_frames(frames: Iterable[Frame], est, detector: FaceDetector, batch_size: int,
               emit: Callable[[Frame, List[Box], np.ndarray], None], detect_batch: int = 8) -> int:
    """Detects faces ``detect_batch`` frames at a time (one batch where the detector can, ``detect_many``) and
    predicts them in batches of ``batch_size`` faces across frames; calls ``emit(frame, boxes, angles)`` for every
    frame, in order (frames without faces too). Returns frames seen."""
    from hmtl_tf.detect import detect_many

    whole = isinstance(detector, WholeImageDetector)
    waiting: List[Frame] = []
    pending: List[Tuple[Frame, List[Box]]] = []
    counts = {"faces": 0, "frames": 0}

    def flush():
        images = [f.image for f, boxes in pending for _ in boxes]
        boxes = [None if whole else b for _, bs in pending for b in bs]
        ypr = est.predict(images, boxes, calibrated=True) if images else np.zeros((0, len(est.angles)))
        at = 0
        for f, bs in pending:
            emit(f, bs, ypr[at:at + len(bs)])
            at += len(bs)
        pending.clear()
        counts["faces"] = 0

    def detect():
        for f, boxes in zip(waiting, detect_many(detector, [f.image for f in waiting], [f.key for f in waiting])):
            pending.append((f, boxes))
            counts["faces"] += len(boxes)
        waiting.clear()
        if counts["faces"] >= batch_size:
            flush()

    for frame in frames:
        waiting.append(frame)
        counts["frames"] += 1
        if len(waiting) >= max(1, detect_batch):
            detect()
    detect()
    flush()
    return counts["frames"]


def face_rows(frame: Frame, boxes: List[Box], ypr: np.ndarray, angles: Sequence[str],
              tracks: Optional[Sequence[int]] = None) -> List[dict]:
    rows = []
    for j, (b, a) in enumerate(zip(boxes, ypr)):
        row = {"input": frame.source.path, "frame": frame.index, "face": j,
               "track": None if tracks is None else int(tracks[j]),
               "x_min": b[0], "y_min": b[1], "x_max": b[2], "y_max": b[3], "score": b[4]}
        row.update({n: float(a[list(angles).index(n)]) if n in angles else None for n in ("yaw", "pitch", "roll")})
        rows.append(row)
    return rows


class Predictor:
    """Runs sources through the estimator and writes annotated images / videos and the rows."""

    def __init__(self, est, detector: FaceDetector, out: str, batch_size: int = 32, max_frames: int = 0,
                 progress: bool = True, smooth: Optional[OneEuroParams] = None):
        self.est, self.detector, self.out = est, detector, out
        self.batch_size, self.max_frames, self.progress, self.smooth = batch_size, max_frames, progress, smooth
        self.rows: List[dict] = []
        self.done: List[dict] = []

    def _emit_rows(self, frame, boxes, ypr, tracks=None):
        self.rows += face_rows(frame, boxes, ypr, self.est.angles, tracks)

    def _annotated(self, frame, boxes, ypr):
        if not boxes:
            return frame.image
        draw_boxes = None if isinstance(self.detector, WholeImageDetector) else boxes
        return viz.annotate(frame.image, ypr, box=draw_boxes)

    def images(self, sources: List[Source], failed: List[Tuple[str, str]]) -> None:
        from hmtl_tf.data.sources.images import load_rgb

        def frames():
            for s in sources:
                try:
                    yield Frame(s, 0, load_rgb(s.path), s.path)
                except DataError as exc:
                    failed.append((s.path, str(exc)))

        def emit(frame, boxes, ypr):
            self._emit_rows(frame, boxes, ypr)
            png = os.path.join(self.out, "annotated", os.path.splitext(frame.source.name)[0] + ".png")
            viz.save_png(png, self._annotated(frame, boxes, ypr))
            self.done.append({"input": frame.source.path, "kind": "image", "frames": 1, "faces": len(boxes),
                              "output": png})

        run_frames(frames(), self.est, self.detector, self.batch_size, emit)

    def video(self, source: Source) -> None:
        import cv2

        path = int(source.path) if source.kind == "camera" else source.path
        fps, total = video_info(path) if source.kind == "video" else (25.0, self.max_frames)
        if self.max_frames:
            total = min(total, self.max_frames) if total else self.max_frames
        out_path = os.path.join(self.out, os.path.splitext(source.name)[0] + "_annotated.mp4")
        state = {"writer": None, "faces": 0}
        bar = Progress(source.name, total) if self.progress else None
        tracker = IoUTracker()
        smoother = TrackSmoother(self.smooth) if self.smooth else None

        def emit(frame, boxes, ypr):
            tracks = tracker.update(boxes, frame.index)
            if smoother is not None:
                ypr = smoother(tracks, ypr, frame.index / fps, tracker.live())
            self._emit_rows(frame, boxes, ypr, tracks)
            img = self._annotated(frame, boxes, ypr)
            if state["writer"] is None:
                os.makedirs(self.out, exist_ok=True)
                h, w = img.shape[:2]
                state["writer"] = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                if not state["writer"].isOpened():
                    raise DataError(f"{out_path}: cannot open a video writer (mp4v)")
            state["writer"].write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            state["faces"] += len(boxes)
            if bar:
                bar.update()

        try:
            n = run_frames(read_video(path, source, self.max_frames), self.est, self.detector, self.batch_size,
                           emit, detect_batch=1 if source.kind == "camera" else 8)
        except KeyboardInterrupt:           # camera: Ctrl-C ends the recording, the file is kept
            n = bar.done if bar else 0
        finally:
            if state["writer"] is not None:
                state["writer"].release()
            if bar:
                bar.close()
        self.done.append({"input": source.path, "kind": source.kind, "frames": n, "faces": state["faces"],
                          "output": out_path})

    def run(self, inputs: Sequence[str]) -> Tuple[List[dict], List[Tuple[str, str]]]:
        sources, failed = expand_inputs(inputs)
        _unique_names(sources)
        self.images([s for s in sources if s.kind == "image"], failed)
        for s in sources:
            if s.kind != "image":
                try:
                    self.video(s)
                except DataError as exc:
                    failed.append((s.path, str(exc)))
        return self.rows, failed


def write_outputs(out: str, rows: List[dict], done: List[dict], failed, meta: dict) -> Tuple[str, str]:
    """``predictions.csv`` and ``predictions.json``, each written whole or not at all."""
    import io

    from hmtl_tf.rundir import write_atomic

    os.makedirs(out, exist_ok=True)
    csv_path, json_path = os.path.join(out, "predictions.csv"), os.path.join(out, "predictions.json")
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else ("" if v is None else v)) for k, v in r.items()})
    write_atomic(csv_path, buf.getvalue())
    write_atomic(json_path, json.dumps({**meta, "outputs": done, "faces": rows,
                                        "failed": [{"input": i, "error": e} for i, e in failed]}, indent=1))
    return csv_path, json_path


def calibration_record(est) -> dict:
    """What predictions.json records of the box-to-crop mapping used."""
    from dataclasses import asdict

    m = est.mapping
    return {"source": est.calibration_source, "mapping": None if m is None else asdict(m)}


def predict(run: str, inputs: Sequence[str], out: str, boxes: Optional[str] = None, detector: str = "mtcnn",
            crop_policy: Optional[str] = None, batch_size: int = 32, max_frames: int = 0, progress: bool = True,
            log=print, calibration: str = "auto", smooth: Optional[OneEuroParams] = None):
    """The command as a function; returns (rows, failed). ``smooth``: One Euro parameters (None = off)."""
    from hmtl_tf.api import HeadPoseEstimator
    from hmtl_tf.detect import DEFAULT_DETECTOR, make_detector

    if os.path.exists(out) and not os.path.isdir(out):
        raise DataError(f"--out={out}: is a file; expected a folder for the outputs")
    name = "boxes" if boxes else (DEFAULT_DETECTOR if detector in (None, "", "auto") else detector)
    det, det_desc = make_detector(detector, boxes)
    if hasattr(det, "check_matches"):
        srcs, _ = expand_inputs(inputs)
        det.check_matches([s.path for s in srcs if s.kind == "image"])
    est = HeadPoseEstimator.load(run, batch_size=batch_size, crop_policy=crop_policy, detector=name,
                                 calibration=calibration)
    if est.mapping is not None and est.mapping.detector != name:
        log(f"note: --calibration={calibration} was fitted for detector {est.mapping.detector!r}, used for {name!r}")
    elif est.mapping is None and est.calibration_source.startswith("none:"):
        log(f"calibration: {est.calibration_source}; crops use the raw box with the {est.crop_policy} policy's "
            "margins")
    p = Predictor(est, det, out, batch_size, max_frames, progress, smooth)
    rows, failed = p.run(inputs)
    meta = {"run": run, "detector": det_desc, "crop_policy": est.crop_policy, "calibration": calibration_record(est),
            "tracking": {"method": "IoU matching (Hungarian, hmtl_tf.tracking)", "min_iou": IoUTracker.min_iou,
                         "max_missed": IoUTracker.max_missed},
            "smoothing": None if smooth is None else {"method": "One Euro filter (Casiez et al. 2012)",
                                                      **vars(smooth)},
            "image_size": est.image_size, "angles": list(est.angles),
            "convention": "degrees; hmtl_tf.angles (3DDFA / HopeNet signs)"}
    csv_path, json_path = write_outputs(out, rows, p.done, failed, meta)
    used = "raw boxes" if est.mapping is None else f"calibration {est.calibration_source}"
    log(f"faces: {len(rows)} in {sum(d['frames'] for d in p.done)} frames of {len(p.done)} inputs "
        f"(detector: {det_desc}; {used}; crop policy {est.crop_policy}"
        f"{'; One Euro smoothing' if smooth else ''}) -> {csv_path}, {json_path}")
    no_face = [d["input"] for d in p.done if d["kind"] == "image" and d["faces"] == 0]
    if no_face:
        log(f"no face found in {len(no_face)} image(s): {', '.join(no_face)}")
    if failed:
        log(f"{len(failed)} input(s) could not be processed:")
        for i, e in failed:
            log(f"  {e}" if e.startswith(str(i)) else f"  {i}: {e}")
    return rows, failed


def define_flags():
    from absl import flags

    flags.DEFINE_string("run", None, "run directory, inference.keras, SavedModel, .tflite or .onnx")
    flags.DEFINE_string("out", None, "output folder")
    flags.DEFINE_string("boxes", None, "face boxes: KD-OE JSON or CSV file,x_min,y_min,x_max,y_max[,score]")
    flags.DEFINE_string("detector", "mtcnn", "face detector when --boxes is not given: mtcnn | haar | none "
                        "(hmtl_tf.detect registry; auto = mtcnn)")
    flags.DEFINE_string("calibration", "auto", "box-to-crop mapping of the detector: auto (<run>/calibration_"
                        "<detector>.json, else the shipped default) | none (raw boxes) | a JSON from hmtl_tf.calibrate")
    flags.DEFINE_enum("crop_policy", None, ["hopenet", "visible", "boxes", "none"], "default: the run's")
    flags.DEFINE_integer("batch_size", 32, "faces per inference batch")
    flags.DEFINE_integer("max_frames", 0, "stop videos / the camera after this many frames (0 = all)")
    flags.DEFINE_boolean("smooth", False, "videos: One Euro filter on each track's angles (Casiez et al. 2012)")
    flags.DEFINE_float("smooth_min_cutoff", OneEuroParams.min_cutoff, "One Euro: cutoff at rest, Hz (lower = steadier)")
    flags.DEFINE_float("smooth_beta", OneEuroParams.beta, "One Euro: cutoff increase per deg/s (higher = less lag)")
    flags.DEFINE_float("smooth_d_cutoff", OneEuroParams.d_cutoff, "One Euro: cutoff of the speed estimate, Hz")
    flags.mark_flags_as_required(["run", "out"])


def main(argv):
    from absl import flags

    F = flags.FLAGS
    if len(argv) < 2:
        print("error: no INPUT given (expected images, folders, videos or a camera index)", file=sys.stderr)
        return 2
    if F.batch_size <= 0:
        print(f"error: --batch_size={F.batch_size}: expected a positive integer", file=sys.stderr)
        return 2
    try:
        smooth = OneEuroParams(F.smooth_min_cutoff, F.smooth_beta, F.smooth_d_cutoff) if F.smooth else None
        _, failed = predict(F.run, argv[1:], F.out, F.boxes, F.detector, F.crop_policy, F.batch_size,
                            F.max_frames, calibration=F.calibration, smooth=smooth)
    except (DataError, FileNotFoundError, ValueError, RuntimeError) as exc:   # DetectorUnavailable too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    from hmtl_tf.cli import run_main   # TensorFlow's native start-up lines go to a log file unless --verbose

    define_flags()
    run_main(main)
