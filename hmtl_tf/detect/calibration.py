"""Box-to-crop calibration (issue 16): maps a detector's face box to the crop the model was trained on.

A detector box (centre (cx, cy), size (w, h)) becomes the crop box with centre ``(cx + ox*w, cy + oy*h)`` and size
``(sx*w, sy*h)``; for the square policies (``hopenet``/``visible``: HopeNet's Scale + CenterCrop) the side is the
mean of the two. The four numbers are fitted per axis by least squares (closed form: ``ox = sum(w*dx)/sum(w^2)``,
``sx = sum(w*W)/sum(w^2)``) against the reference crops of a dataset with landmarks: the policy's test crop (the
landmark box with HopeNet's k = 0.2 margins, ``hmtl_tf.data.crops``, then its central square). Each mapping is
stored as JSON with the detector's name, the policy, the data it was fitted on and its IoUs (raw box, fitted,
leave-one-out). Shipped defaults: ``defaults/<detector>.json``; ``hmtl_tf.calibrate`` writes
``<run>/calibration_<detector>.json``, which predict / evaluate prefer.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

DEFAULTS_DIR = os.path.join(os.path.dirname(__file__), "defaults")
SQUARE_POLICIES = ("hopenet", "visible")


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (one cell of ``tracking.iou_matrix``)."""
    from hmtl_tf.tracking import iou_matrix

    return float(iou_matrix([a], [b])[0, 0])


def _cwh(boxes) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    b = np.reshape(np.asarray(boxes, np.float64)[..., :4], (-1, 4))
    return (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]


def fit_offsets(det_boxes, ref_boxes) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """Least-squares ((ox, oy), (sx, sy)): ref centre = det centre + o*size, ref size = s*size, per axis."""
    dcx, dcy, dw, dh = _cwh(det_boxes)
    rcx, rcy, rw, rh = _cwh(ref_boxes)
    if len(dw) == 0:
        raise ValueError("calibration: no detector box matched a reference crop")
    ox = float(np.sum(dw * (rcx - dcx)) / np.sum(dw * dw))
    oy = float(np.sum(dh * (rcy - dcy)) / np.sum(dh * dh))
    sx = float(np.sum(dw * rw) / np.sum(dw * dw))
    sy = float(np.sum(dh * rh) / np.sum(dh * dh))
    return (ox, oy), (sx, sy)


def map_box(box, offset, scale, square: bool) -> Tuple[float, float, float, float]:
    cx, cy, w, h = (float(v[0]) for v in _cwh([box]))
    cx, cy = cx + offset[0] * w, cy + offset[1] * h
    w2, h2 = scale[0] * w, scale[1] * h
    if square:
        w2 = h2 = (w2 + h2) / 2
    return (cx - w2 / 2, cy - h2 / 2, cx + w2 / 2, cy + h2 / 2)


@dataclass
class BoxMapping:
    """One detector's box -> training-crop mapping (module docstring)."""

    detector: str
    policy: str                                  # the crop convention it targets: visible | hopenet
    offset: Tuple[float, float] = (0.0, 0.0)     # centre shift, fractions of the box (w, h)
    scale: Tuple[float, float] = (1.0, 1.0)      # crop size / box size per axis
    fitted_on: str = ""                          # the data: path/name and number of faces
    n: int = 0
    stats: dict = field(default_factory=dict)    # mean/min IoU: raw, fitted, leave-one-out; faces missed

    def apply(self, box) -> Tuple[float, float, float, float]:
        return map_box(box, self.offset, self.scale, self.policy in SQUARE_POLICIES)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "calibration") -> "BoxMapping":
        try:
            d = json.loads(text)
            m = cls(**d)
            m.offset, m.scale = tuple(float(v) for v in m.offset), tuple(float(v) for v in m.scale)
            if len(m.offset) != 2 or len(m.scale) != 2 or min(m.scale) <= 0:
                raise ValueError("offset/scale must be 2 numbers, scale > 0")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: not a box calibration ({exc}); expected the JSON hmtl_tf.calibrate "
                             "writes") from None
        return m

    def save(self, path: str) -> str:
        """Written to a temporary name, then renamed."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(self.to_json() + "\n")
        os.replace(tmp, path)
        return path


def load_mapping(path: str, label: Optional[str] = None) -> BoxMapping:
    """The mapping in ``path``; one-line errors start with ``label`` (default ``--calibration=<path>``)."""
    label = label or f"--calibration={path}"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{label}: no such file (expected a JSON from hmtl_tf.calibrate)")
    with open(path) as f:
        return BoxMapping.from_json(f.read(), label)


def run_calibration_path(run_dir: str, detector: str) -> str:
    return os.path.join(run_dir, f"calibration_{detector}.json")


def default_path(detector: str) -> str:
    """The shipped default of ``detector`` (it may not exist)."""
    return os.path.join(DEFAULTS_DIR, f"{detector}.json")


def resolve_mapping(detector: str, run: Optional[str] = None,
                    calibration: str = "auto") -> Tuple[Optional[BoxMapping], str]:
    """(mapping or None, where it came from). ``calibration``: ``auto`` (the run's own
    ``calibration_<detector>.json``, else the shipped default, else None), ``none`` (raw boxes), ``default`` (the
    shipped one) or a JSON path. The second item is the file or, for None, the reason."""
    calibration = calibration or "auto"
    if calibration == "none":
        return None, "none (--calibration=none)"
    if calibration not in ("auto", "default"):
        return load_mapping(calibration), os.path.normpath(calibration)
    looked = []
    if calibration == "auto" and run:
        d = run if os.path.isdir(run) else os.path.dirname(os.path.abspath(run))
        p = run_calibration_path(d, detector)
        if os.path.isfile(p):
            return load_mapping(p, f"--calibration=auto: {p}"), p
        looked.append(f"no {p}")
    p = default_path(detector)
    if os.path.isfile(p):
        return load_mapping(p, f"--calibration={calibration}: {p}"), f"shipped default detect/defaults/{detector}.json"
    looked.append("no shipped default")
    return None, f"none: no calibration for detector {detector!r} ({', '.join(looked)})"


def find_mapping(detector: str, run: Optional[str] = None, calibration: str = "auto") -> Optional[BoxMapping]:
    """:func:`resolve_mapping` without the source."""
    return resolve_mapping(detector, run, calibration)[0]


# -------------------------------------------------------------------------------------------- fitting
def match(boxes: Sequence, ref, min_iou: float = 0.1) -> Optional[tuple]:
    """The detection overlapping the reference crop most (None: the face was missed)."""
    best = max(boxes, key=lambda b: iou(b, ref), default=None)
    return best if best is not None and iou(best, ref) >= min_iou else None


def fit_mapping(detector: str, policy: str, det_boxes, ref_boxes, fitted_on: str, missed: int = 0) -> BoxMapping:
    """Fits the mapping and records its IoUs: raw box, fitted (in-sample) and leave-one-out (each face mapped
    by the mapping fitted on the others)."""
    det = np.reshape(np.asarray(det_boxes, np.float64)[..., :4], (-1, 4))
    ref = np.reshape(np.asarray(ref_boxes, np.float64), (-1, 4))
    offset, scale = fit_offsets(det, ref)
    square = policy in SQUARE_POLICIES
    raw = [iou(d, r) for d, r in zip(det, ref)]
    fit = [iou(map_box(d, offset, scale, square), r) for d, r in zip(det, ref)]
    loo = []
    for i in range(len(det)):
        if len(det) < 2:
            break
        keep = np.arange(len(det)) != i
        o, s = fit_offsets(det[keep], ref[keep])
        loo.append(iou(map_box(det[i], o, s, square), ref[i]))

    def summary(v):
        return {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4)} if v else {}
    stats = {"iou_raw": summary(raw), "iou_fitted": summary(fit), "iou_leave_one_out": summary(loo),
             "faces_matched": int(len(det)), "faces_missed": int(missed)}
    return BoxMapping(detector, policy, offset, scale, fitted_on, int(len(det)), stats)
