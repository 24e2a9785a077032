"""BIWI Kinect head-pose reader (DATA_FACTS 2.7, 2.11, 4, 5): raw ``hpdb/NN/frame_XXXXX_{rgb.png,pose.txt}``.

Labels: the pose file's rotation -> (yaw, pitch, roll) with HopeNet's formula (angles.biwi_rotation_to_ypr).
BIWI has no landmarks: crops come from a face-box mapping keyed ``NN/frame_XXXXX_rgb.png`` (KD-OE JSON,
Dockerface folder, CSV; boxes.py). Frames without a box are yielded with ``box=None``. The split is the box
file's KD-OE protocol-3 ``type`` (train/test) when present, else ``test``.
FSA-Net's pre-cropped ``BIWI_noTrack.npz`` (``image`` (N, H, W, 3) BGR, ``pose`` (N, 3) [yaw, pitch, roll]
degrees) is read by :func:`iter_npz`.
"""
from __future__ import annotations

import pathlib
import re
from typing import Iterator, Optional

import numpy as np

from ... import angles
from ..sample import DataError, RawSample
from . import _common
from .images import bgr_to_rgb, load_rgb

NAME = "biwi"
_FRAME = re.compile(r"^frame_(\d+)_rgb\.png$")
# rgb.cal: K (3 rows), distortion (1 row of 4), extrinsic R (3 rows), t (1 row), image size (1 row of 2).
_CAL_ROWS = (3, 3, 3, 4, 3, 3, 3, 3, 2)


def _is_hpdb(path: pathlib.Path) -> bool:
    return any(d.is_dir() and d.name.isdigit() and next(d.glob("frame_*_rgb.png"), None) is not None
               for d in path.iterdir())


def find_root(root) -> Optional[pathlib.Path]:
    """The ``hpdb`` folder: ``root/hpdb``, ``root`` itself, ``root/kinect_head_pose_db/hpdb`` or under ``root/BIWI``."""
    return _common.find_dir(root, ("hpdb", "", "kinect_head_pose_db/hpdb", "BIWI/hpdb",
                                   "BIWI/kinect_head_pose_db/hpdb"), _is_hpdb)


def _numeric_rows(path, expected: str):
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file missing (expected {expected})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); expected {expected}") from None
    try:
        return [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    except ValueError:
        raise DataError(f"{path}: non-numeric content; expected {expected}") from None


def read_pose(path):
    """``frame_XXXXX_pose.txt`` -> (R (3, 3) as stored, head centre T (3,) mm); blank lines allowed."""
    expected = "3 rows of the rotation matrix then 1 row with the head centre, 3 numbers each"
    rows = _numeric_rows(path, expected)
    if len(rows) != 4 or any(len(r) != 3 for r in rows):
        raise DataError(f"{path}: got {len(rows)} non-empty lines of lengths {[len(r) for r in rows]}; "
                        f"expected {expected}")
    arr = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{path}: non-finite values; expected {expected}")
    return arr[:3], arr[3]


def read_calibration(path) -> dict:
    """``rgb.cal`` -> {"K" (3, 3), "dist" (4,), "R" (3, 3), "t" (3,), "size" (w, h)} (DATA_FACTS 5)."""
    expected = "K (3 rows), distortion (4 numbers), R (3 rows), t (3 numbers), size (w h)"
    rows = _numeric_rows(path, expected)
    if tuple(len(r) for r in rows) != _CAL_ROWS:
        raise DataError(f"{path}: rows of lengths {[len(r) for r in rows]}; expected {expected}")
    return {"K": np.asarray(rows[0:3]), "dist": np.asarray(rows[3]), "R": np.asarray(rows[4:7]),
            "t": np.asarray(rows[7]), "size": (int(rows[8][0]), int(rows[8][1]))}


def iter_samples(root, *, split: Optional[str] = None, boxes=None,
                 on_error: Optional[_common.OnError] = None) -> Iterator[RawSample]:
    """BIWI frames in sorted (sequence, frame) order; ``split`` filters on the protocol-3 type (train/test)."""
    hpdb = find_root(root)
    if hpdb is None:
        raise DataError(f"{root}: no BIWI hpdb folder (expected hpdb/NN/frame_XXXXX_rgb.png + _pose.txt)")
    for seq in sorted(d for d in hpdb.iterdir() if d.is_dir() and d.name.isdigit()):
        calib = None
        if (seq / "rgb.cal").is_file():
            try:
                calib = read_calibration(seq / "rgb.cal")
            except DataError as exc:
                _common.report(on_error, str(seq / "rgb.cal"), "bad_calibration", exc, fatal=False)
        for png in sorted(p for p in seq.iterdir() if _FRAME.match(p.name)):
            pose_path = seq / png.name.replace("_rgb.png", "_pose.txt")
            try:
                r_file, centre = read_pose(pose_path)
            except DataError as exc:
                _common.report(on_error, str(pose_path), "bad_label", exc)
                continue
            key = f"{seq.name}/{png.name}"
            box, box_type = _common.lookup_box(boxes, key)
            sample_split = box_type if box_type in ("train", "test") else "test"
            if split is not None and sample_split != split:
                continue
            extra = {"rotation": r_file, "head_center_mm": centre}
            if calib is not None:
                extra["rgb_cal"] = calib
            if box_type is not None:
                extra["protocol3"] = box_type
            yield RawSample(source_id=f"{seq.name}/{png.name[:-len('_rgb.png')]}", dataset=NAME,
                            ypr=angles.biwi_rotation_to_ypr(r_file), load_image=lambda p=png: load_rgb(p),
                            split=sample_split, subject=seq.name, box=box, image_path=str(png), extra=extra)


def iter_npz(path, *, bgr: bool = True) -> Iterator[RawSample]:
    """FSA-Net style npz (``image`` (N, H, W, 3), ``pose`` (N, 3) [yaw, pitch, roll] deg): pre-cropped faces.

    FSA-Net wrote the images with ``cv2.imread`` (BGR); ``bgr=False`` for an RGB file.
    """
    path = pathlib.Path(path)
    try:
        data = np.load(path)
        images, pose = data["image"], np.asarray(data["pose"], dtype=np.float64)
    except Exception as exc:
        raise DataError(f"{path}: not a readable FSA-Net npz ({type(exc).__name__}: {exc}); "
                        f"expected keys image (N, H, W, 3) and pose (N, 3)") from None
    if images.ndim != 4 or images.shape[-1] != 3 or pose.shape != (images.shape[0], 3):
        raise DataError(f"{path}: image {images.shape} / pose {pose.shape}; expected (N, H, W, 3) and (N, 3)")
    convert = bgr_to_rgb if bgr else np.ascontiguousarray
    for i in range(images.shape[0]):
        yield RawSample(source_id=f"{path.stem}/{i:05d}", dataset=NAME, ypr=pose[i].copy(),
                        load_image=lambda i=i: convert(np.asarray(images[i], dtype=np.uint8)),
                        split="test", subject="", image_path=f"{path}[{i}]", extra={"npz": True})
