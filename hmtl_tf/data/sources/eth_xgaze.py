"""ETH-XGaze reader (DATA_FACTS 3): ``xgaze_224/{train,test}/subjectNNNN.h5`` + ``train_test_split.json``.

``face_patch`` (N, 224, 224, 3) is BGR -> RGB; ``face_head_pose`` (N, 2) = [pitch, yaw] radians ->
(yaw, pitch, 0) degrees with ``has_roll=False`` (normalisation removes roll). Splits: ``train``, ``val`` =
subjects 0108, 0109, 0111 taken out of train (HMTL Sec. 4.1 / 5.2, SPEC 2), ``test``
(and ``test_person_specific`` when the split json lists such files). Images are read lazily, one open
h5 handle per subject (a small LRU pool), never one open per image.
"""
from __future__ import annotations

import collections
import json
import pathlib
import re
from typing import Iterable, Iterator, Optional

import numpy as np

from ..sample import DataError, RawSample
from . import _common
from .images import bgr_to_rgb

NAME = "eth_xgaze"
VAL_SUBJECTS = ("subject0108", "subject0109", "subject0111")
SPLIT_FILE = "train_test_split.json"
_SUBJECT = re.compile(r"^subject(\d+)\.h5$")


def find_root(root) -> Optional[pathlib.Path]:
    """The ``xgaze_224`` folder: ``root/xgaze_224``, ``root`` itself or ``root/xgaze/xgaze_224``."""
    return _common.find_dir(root, ("xgaze_224", "", "xgaze/xgaze_224"),
                            lambda p: (p / SPLIT_FILE).is_file() or (
                                (p / "train").is_dir() and next((p / "train").glob("subject*.h5"), None) is not None))


def subject_name(value) -> str:
    """``108``, ``"0108"``, ``"subject0108"`` or ``"subject0108.h5"`` -> ``"subject0108"``."""
    text = str(value).strip()
    text = text[:-3] if text.endswith(".h5") else text
    digits = text[len("subject"):] if text.startswith("subject") else text
    if not digits.isdigit():
        raise DataError(f"ETH-XGaze subject {value!r}: expected a number or subjectNNNN")
    return f"subject{int(digits):04d}"


class H5Pool:
    """Open h5 files by path, at most ``size`` at once (least recently used closed first)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._open = collections.OrderedDict()

    def get(self, path):
        import h5py

        path = str(path)
        if path in self._open:
            self._open.move_to_end(path)
            return self._open[path]
        try:
            handle = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(f"{path}: unreadable h5 file ({exc})") from None
        self._open[path] = handle
        while len(self._open) > self.size:
            self._open.popitem(last=False)[1].close()
        return handle

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


_POOL = H5Pool()


def _load_patch(path: str, index: int) -> np.ndarray:
    try:
        patch = _POOL.get(path)["face_patch"][index]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read face_patch[{index}] ({type(exc).__name__}: {exc})") from None
    patch = np.asarray(patch)
    if patch.ndim != 3 or patch.shape[2] != 3:
        raise DataError(f"{path}: face_patch[{index}] has shape {patch.shape}, expected (H, W, 3)")
    return bgr_to_rgb(patch.astype(np.uint8))


def _subject_files(base: pathlib.Path, on_error):
    """[(split, subject, path)] sorted by split then subject, from the split json or the folders."""
    listing = []
    split_json = base / SPLIT_FILE
    if split_json.is_file():
        try:
            table = json.loads(split_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{split_json}: unreadable ({exc}); expected {{\"train\": [...], \"test\": [...]}}") \
                from None
        for key, folder in (("train", "train"), ("test", "test"), ("test_person_specific", "test")):
            for fname in table.get(key, []):
                path = base / folder / fname
                if not path.is_file():
                    if key != "test_person_specific":
                        _common.report(on_error, str(path), "missing_file",
                                       DataError(f"{path}: listed in {SPLIT_FILE} but missing"), fatal=False)
                    continue
                listing.append((key, subject_name(fname), path))
    else:
        for folder in ("train", "test"):
            for path in sorted((base / folder).glob("subject*.h5")):
                if _SUBJECT.match(path.name):
                    listing.append((folder, subject_name(path.name), path))
    out = []
    for split, subject, path in listing:
        if split == "train" and subject in VAL_SUBJECTS:
            split = "val"
        out.append((split, subject, path))
    return sorted(out, key=lambda t: (t[0], t[1]))


def _head_pose(path: pathlib.Path) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            if "face_head_pose" not in h5:
                raise DataError(f"{path}: no face_head_pose dataset (expected (N, 2) [pitch, yaw] radians)")
            pose = np.asarray(h5["face_head_pose"], dtype=np.float64)
            n_patch = h5["face_patch"].shape[0] if "face_patch" in h5 else -1
    except OSError as exc:
        raise DataError(f"{path}: unreadable h5 file ({exc})") from None
    if pose.ndim != 2 or pose.shape[1] != 2 or pose.shape[0] != n_patch:
        raise DataError(f"{path}: face_head_pose {pose.shape} vs face_patch count {n_patch}; "
                        f"expected (N, 2) with N face patches")
    return pose


def iter_samples(root, *, split: Optional[str] = None, boxes=None, subjects: Iterable = (),
                 on_error: Optional[_common.OnError] = None) -> Iterator[RawSample]:
    """Face patches in sorted (split, subject, index) order; ``subjects`` filters (e.g. ``("0108",)``)."""
    del boxes  # patches are already face crops
    base = find_root(root)
    if base is None:
        raise DataError(f"{root}: no ETH-XGaze xgaze_224 folder (expected {SPLIT_FILE} and train/subjectNNNN.h5)")
    wanted = {subject_name(s) for s in subjects}
    for sub_split, subject, path in _subject_files(base, on_error):
        if (split is not None and sub_split != split) or (wanted and subject not in wanted):
            continue
        try:
            pose = _head_pose(path)
        except DataError as exc:
            _common.report(on_error, str(path), "bad_label", exc)
            continue
        ypr = np.zeros((pose.shape[0], 3))
        ypr[:, 0], ypr[:, 1] = np.degrees(pose[:, 1]), np.degrees(pose[:, 0])
        for i in range(pose.shape[0]):
            yield RawSample(source_id=f"{subject}/{i:06d}", dataset=NAME, ypr=ypr[i],
                            load_image=lambda p=str(path), i=i: _load_patch(p, i), split=sub_split,
                            subject=subject, has_roll=False, image_path=f"{path}[{i}]")
