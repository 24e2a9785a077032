"""Drawing head-pose axes (HopeNet's ``draw_axis``, DATA_FACTS 2.8), annotated images and contact sheets.

Pure NumPy / OpenCV. Images are RGB uint8 (H, W, 3); every function returns a new image (inputs untouched).
Angles are the internal convention (hmtl_tf.angles): degrees, (yaw, pitch, roll).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
from hmtl_tf.data.synthetic import render_head, sample_head

# RGB colours of HopeNet's axes (its BGR (0,0,255), (0,255,0), (255,0,0)): X red, Y green, Z blue.
AXIS_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
TRUE_COLOURS = ((255, 160, 160), (160, 255, 160), (160, 160, 255))


def axis_endpoints(yaw, pitch, roll, tdx: float, tdy: float, size: float) -> np.ndarray:
    """The three axis tips (X, Y, Z) in image pixels, HopeNet utils.py:86-117 (DATA_FACTS 2.8). Returns (3, 2)."""
    p = np.radians(float(pitch))
    y = -np.radians(float(yaw))
    r = np.radians(float(roll))
    x1 = size * (np.cos(y) * np.cos(r)) + tdx
    y1 = size * (np.cos(p) * np.sin(r) + np.cos(r) * np.sin(p) * np.sin(y)) + tdy
    x2 = size * (-np.cos(y) * np.sin(r)) + tdx
    y2 = size * (np.cos(p) * np.cos(r) - np.sin(p) * np.sin(y) * np.sin(r)) + tdy
    x3 = size * np.sin(y) + tdx
    y3 = size * (-np.cos(y) * np.sin(p)) + tdy
    return np.array([[x1, y1], [x2, y2], [x3, y3]], dtype=np.float64)


def _as_rgb_u8(img) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ValueError(f"image: expected (H, W, 3) RGB, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float64)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a[..., :3]).copy()


def _thickness(size: float, scale: float = 1.0) -> int:
    return max(1, int(round(scale * size / 35.0)))


def _dashed_line(img, p0, p1, colour, thickness, dash: float):
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    length = float(np.hypot(*(p1 - p0)))
    n = max(1, int(length // dash))
    for i in range(0, n, 2):
        a = p0 + (p1 - p0) * (i / n)
        b = p0 + (p1 - p0) * (min(i + 1, n) / n)
        cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, thickness, cv2.LINE_AA)


def _draw(img, ypr, tdx, tdy, size, colours, dashed: bool, thin: bool):
    tips = axis_endpoints(ypr[0], ypr[1], ypr[2] if len(ypr) > 2 else 0.0, tdx, tdy, size)
    base = _thickness(size, 0.6 if thin else 1.0)
    for i, (tip, colour) in enumerate(zip(tips, colours)):
        t = max(1, base - 1) if i == 2 else base       # HopeNet: X, Y width 3, Z width 2
        if dashed:
            _dashed_line(img, (tdx, tdy), tip, colour, t, dash=max(3.0, size / 10.0))
        else:
            cv2.line(img, (int(tdx), int(tdy)), (int(tip[0]), int(tip[1])), colour, t, cv2.LINE_AA)
    return img


def draw_axis(img, yaw, pitch, roll, tdx=None, tdy=None, size=None) -> np.ndarray:
    """HopeNet's ``draw_axis`` on a copy of ``img`` (RGB): X red, Y green, Z blue (out of the face).

    Origin defaults to the image centre; ``size`` to half the smaller image side (HopeNet's test script
    uses half the face box height)."""
    out = _as_rgb_u8(img)
    h, w = out.shape[:2]
    tdx = w / 2 if tdx is None else tdx
    tdy = h / 2 if tdy is None else tdy
    size = min(h, w) / 2 if size is None else size
    return _draw(out, (yaw, pitch, roll), tdx, tdy, size, AXIS_COLOURS, dashed=False, thin=False)


def _put_text(img, text, org, scale, colour=(255, 255, 255)):
    """Text on a dark box (legible on any background; OpenCV 5 text width depends on stroke thickness)."""
    th = max(1, int(round(scale * 1.5)))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    x, y = org
    cv2.rectangle(img, (x - 1, y - tht - 2), (x + tw + 1, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, th, cv2.LINE_AA)


def text_layout(texts: Sequence[str], anchor, image_wh, scale: float, above: bool = True) -> list:
    """Baseline origins of stacked text lines at ``anchor`` (a box's top-left): above the box when it fits,
    else inside it, and shifted so every line with its dark background (:func:`_put_text`) stays inside the
    image (a face at the right or bottom edge keeps its angles readable)."""
    w, h = image_wh
    th_ = max(1, int(round(scale * 1.5)))
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, th_) for t in texts]
    tht = max(s[0][1] for s in sizes)
    base = max(s[1] for s in sizes)
    step = tht + base + 3
    x0, y0 = float(anchor[0]), float(anchor[1])
    block = step * (len(texts) - 1)
    ty = int(y0) - block - base - 2 if above and y0 - step * len(texts) >= 0 else int(max(y0, 0)) + tht + 2
    ty = max(tht + 2, min(ty, h - 1 - base - block))
    widest = max(s[0][0] for s in sizes)
    tx = max(1, min(int(max(x0, 0)) + 2, w - 2 - widest))
    return [(tx, ty + i * step) for i in range(len(texts))]


def angle_text(ypr) -> str:
    """``"y 12.3 p -4.5 r 0.7"`` (roll left out for 2-angle predictions)."""
    names = ("y", "p", "r")
    return " ".join(f"{n} {float(v):.1f}" for n, v in zip(names, np.ravel(ypr)))


def annotate(img, ypr_pred, ypr_true=None, box=None) -> np.ndarray:
    """Predicted axes (solid) and, if given, true axes (dashed, thinner, paler) with the angles as text.

    One face: ``ypr_pred`` (2|3,), ``box`` (x0, y0, x1, y1[, score]) or None (whole image). Several faces:
    ``ypr_pred`` (N, 2|3) with ``box`` (N, 4|5) (and ``ypr_true`` (N, ...)). Axes start at the box centre
    with size half the box height; the box is drawn in white."""
    out = _as_rgb_u8(img)
    pred = np.asarray(ypr_pred, dtype=np.float64)
    if pred.ndim == 2:
        boxes = [None] * len(pred) if box is None else list(box)
        trues = [None] * len(pred) if ypr_true is None else list(ypr_true)
        if len(boxes) != len(pred) or len(trues) != len(pred):
            raise ValueError(f"annotate: {len(pred)} predictions but {len(boxes)} boxes / {len(trues)} labels")
        for p, t, b in zip(pred, trues, boxes):
            out = annotate(out, p, t, b)
        return out
    h, w = out.shape[:2]
    if box is None:
        x0, y0, x1, y1 = 0.0, 0.0, float(w), float(h)
    else:
        x0, y0, x1, y1 = (float(v) for v in list(box)[:4])
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), (255, 255, 255), 1)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    size = max(4.0, min(abs(y1 - y0), abs(x1 - x0)) / 2)
    if ypr_true is not None:
        _draw(out, np.asarray(ypr_true, np.float64), cx, cy, size, TRUE_COLOURS, dashed=True, thin=True)
    _draw(out, pred, cx, cy, size, AXIS_COLOURS, dashed=False, thin=False)
    scale = max(0.3, min(w, h) / 600.0)
    lines = [(angle_text(pred), (255, 255, 255))]
    if ypr_true is not None:
        lines.append(("gt " + angle_text(ypr_true), (200, 200, 200)))
    origins = text_layout([t for t, _ in lines], (x0, y0), (w, h), scale, above=box is not None)
    for (text, colour), org in zip(lines, origins):
        _put_text(out, text, org, scale, colour)
    return out


def contact_sheet(images: Sequence[np.ndarray], preds, trues=None, cols: int = 8,
                  tile: Optional[int] = None) -> np.ndarray:
    """A grid of annotated images (each resized to ``tile`` px, default the first image's height)."""
    if len(images) == 0:
        raise ValueError("contact_sheet: no images")
    preds = np.asarray(preds, np.float64)
    if len(preds) != len(images):
        raise ValueError(f"contact_sheet: {len(images)} images but {len(preds)} predictions")
    tile = int(tile or max(64, np.asarray(images[0]).shape[0]))
    cols = max(1, min(cols, len(images)))
    rows = (len(images) + cols - 1) // cols
    sheet = np.zeros((rows * tile, cols * tile, 3), np.uint8)
    for i, img in enumerate(images):
        im = cv2.resize(_as_rgb_u8(img), (tile, tile), interpolation=cv2.INTER_AREA)
        im = annotate(im, preds[i], None if trues is None else trues[i])
        r, c = divmod(i, cols)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = im
    return sheet


def save_png(path: str, img) -> str:
    """Writes an RGB image as PNG (creating folders); error naming the path if it cannot be written."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(_as_rgb_u8(img), cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG (expected a writable path ending in .png)")
    return path


def convention_image(ypr, size: int = 200, seed: int = 3) -> np.ndarray:
    """A synthetic head (hmtl_tf.data.synthetic) at ``ypr`` with its axes and angles drawn: the pictures of
    docs/ANGLES.md (``python -m hmtl_tf.viz docs/img``). Drawn axes on a grey canvas if the renderer is absent."""
    try:
        img = render_head(sample_head(np.random.default_rng(seed)), ypr, size=(size, size))[0]
    except ImportError:
        img = np.full((size, size, 3), 128, np.uint8)
    return annotate(img, ypr)


CONVENTION_PICTURES = {"neutral": (0, 0, 0), "yaw_plus30": (30, 0, 0), "yaw_minus30": (-30, 0, 0),
                       "pitch_plus25": (0, 25, 0), "pitch_minus25": (0, -25, 0), "roll_plus25": (0, 0, 25),
                       "roll_minus25": (0, 0, -25), "yaw30_pitch20_roll10": (30, 20, 10)}


if __name__ == "__main__":
    import sys

    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("docs", "img")
    for name, angles in CONVENTION_PICTURES.items():
        save_png(os.path.join(out_dir, f"{name}.png"), convention_image(angles))
    names = list(CONVENTION_PICTURES)
    save_png(os.path.join(out_dir, "conventions.png"),
             np.concatenate([convention_image(CONVENTION_PICTURES[n], 160) for n in names[:7]], axis=1))
    print(f"wrote {len(names) + 1} pictures to {out_dir}")
