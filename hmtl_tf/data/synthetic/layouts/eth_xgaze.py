"""Synthetic ETH-XGaze (DATA_FACTS 3): ``xgaze_224/{train,test}/subjectNNNN.h5`` of 224x224 BGR face patches.

Per subject one person under varying head pose (``angles.eth_head_rotation``), gaze and light; the HDF5 keys of the
released files (``face_patch``, ``face_head_pose``, ``face_gaze`` (train only), ``face_mat_norm``, ``cam_index``,
``frame_index``), the validation subjects 108, 109, 111 and the real test subject numbers.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import List, Sequence, Union

import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.geometry import _geometry
from hmtl_tf.data.synthetic.head import _t, sample_head
from hmtl_tf.data.synthetic.layouts.samples import _Progress, _rng
from hmtl_tf.data.synthetic.raster import _centre_for, make_background, render_rotation


XGAZE_VAL = (108, 109, 111)                         # HMTL's validation subjects (DATA_FACTS 3)
# subject order for a requested count: one train subject, the validation three, then test / train alternately
_XGAZE_ORDER = (0, 108, 109, 111, 1, 3, 2, 4, 20, 5, 23, 6)
_XGAZE_TEST = (1, 2, 20, 23, 37, 49, 64, 68, 70, 82, 87, 91, 112, 114, 118)


def xgaze_subject_ids(subjects: Union[int, Sequence[int]]) -> List[int]:
    """Subject numbers: an explicit sequence, or a count (>= 4 includes the validation subjects 108, 109, 111)."""
    if not isinstance(subjects, (int, np.integer)):
        return [int(v) for v in subjects]
    n = int(subjects)
    extra = [v for v in range(120) if v not in _XGAZE_ORDER]
    return (list(_XGAZE_ORDER) + extra)[:n]


def _xgaze_split(sid: int) -> str:
    return "test" if sid in _XGAZE_TEST else "train"


def _write_xgaze_subject(path: str, seed: int, sid: int, n: int, split: str, draw: bool) -> dict:
    import h5py

    gt, size = {}, (224, 224)
    srng = _rng(seed, "eth_xgaze", sid, 0)
    person = sample_head(srng)
    arrays = {"cam_index": np.zeros((n, 1), np.int64), "frame_index": np.zeros((n, 1), np.int64),
              "face_gaze": np.zeros((n, 2)), "face_head_pose": np.zeros((n, 2)), "face_mat_norm": np.zeros((n, 3, 3))}
    patches = np.zeros((n, 224, 224, 3), np.uint8) if draw else None
    for j in range(n):
        rng = _rng(seed, "eth_xgaze", sid, 1 + j)
        pitch, yaw = np.radians([rng.uniform(-40, 40), rng.uniform(-70, 70)])
        gp, gy = np.clip(rng.normal(0, 0.25, 2), -0.5, 0.5)
        params = dataclasses.replace(person, gaze=(float(gp), float(gy)),
                                     light=_t(np.array(person.light) + rng.normal(0, 0.1, 3)))
        rot = angles.eth_head_rotation(pitch, yaw)
        scale = rng.uniform(80, 95)
        out = render_rotation(params, rot, size, scale, _centre_for(rot, scale, size),
                              background=make_background(rng, size) if draw else None, draw=draw)
        f = rot @ _geometry(params).gaze_dir
        arrays["face_gaze"][j] = (np.arcsin(f[1]), np.arctan2(-f[0], f[2]))
        arrays["face_head_pose"][j] = (pitch, yaw)
        arrays["face_mat_norm"][j] = angles.rotation_3ddfa(*rng.uniform(-0.4, 0.4, 3))
        arrays["cam_index"][j], arrays["frame_index"][j] = j % 18, j // 18
        if draw:
            patches[j] = out.image[:, :, ::-1]                  # BGR, as released (DATA_FACTS 3)
        gt[f"subject{sid:04d}/{j:06d}"] = {"ypr": np.degrees([yaw, pitch, 0.0]), "split": split,
                                            "face_head_pose": arrays["face_head_pose"][j].copy()}
    if draw:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_", suffix=".h5")
        os.close(fd)
        with h5py.File(tmp, "w") as h5:
            for key, arr in arrays.items():
                if key == "face_gaze" and split == "test":
                    continue                                    # test files carry no gaze labels
                h5.create_dataset(key, data=arr, chunks=(1,) + arr.shape[1:])
            h5.create_dataset("face_patch", data=patches, chunks=(1, 224, 224, 3), compression="lzf")
        os.replace(tmp, path)
    return gt


def _write_xgaze(root: str, seed: int, subjects, per_subject: int, progress: bool):
    gt, split = {}, {"train": [], "test": [], "test_person_specific": []}
    ids = xgaze_subject_ids(subjects)
    prog = _Progress("xgaze_224", len(ids), progress)
    for sid in ids:
        name = f"subject{sid:04d}.h5"
        sp = _xgaze_split(sid)
        path = os.path.join(root, sp, name)
        draw = not os.path.exists(path)
        gt.update(_write_xgaze_subject(path, seed, sid, per_subject, sp, draw))
        split[sp].append(name)
        prog.step(draw)
    return gt, split
