"""Synthetic BIWI (DATA_FACTS 2.7, 5): ``hpdb/NN/frame_XXXXX_{rgb.png,pose.txt}``, ``rgb.cal``, ``depth.cal``; 640x480.

Sequences of a smoothly turning head, the pose files in the real text format (DATA_FACTS 5; T in mm from the RGB
camera's intrinsics), and KD-OE's face boxes with their train / test sequence types (BIWI.json, DATA_FACTS 4).
"""
from __future__ import annotations

import os
from typing import List

import numpy as np

from hmtl_tf import angles
from hmtl_tf.data.synthetic.geometry import UNIT_MM
from hmtl_tf.data.synthetic.head import sample_head
from hmtl_tf.data.synthetic.layouts.files import _png, _write
from hmtl_tf.data.synthetic.layouts.samples import _gt, _Progress, _rng, face_box
from hmtl_tf.data.synthetic.raster import _centre_for, make_background, render_rotation


BIWI_KDOE_TEST = (6, 7, 10, 13, 15, 18, 21, 22)     # KD-OE BIWI.json "test" sequences (DATA_FACTS 4)


BIWI_RGB_CAL = ("517.679 0 320 \n0 517.679 240.5 \n0 0 1 \n\n0 0 0 0 \n\n0.999947 0.00432361 0.00929419 \n"
                "-0.00446314 0.999877 0.0150443 \n-0.009228 -0.015085 0.999844 \n\n-24.0198 5.8896 -13.2308 \n\n"
                "640 480\n")
BIWI_DEPTH_CAL = "575.816 0 320 \n0 575.816 240 \n0 0 1 \n\n0 0 0 0 \n\n1 0 0 \n0 1 0 \n0 0 1 \n\n0 0 0 \n\n640 480\n"
_BIWI_F, _BIWI_C = 517.679, (320.0, 240.5)


def biwi_sequence_ids(n: int) -> List[int]:
    """Sequence numbers used for ``n`` sequences: KD-OE train and test sequences alternately (so both types
    exist from n = 2), then the remaining real numbers, then 25, 26, ..."""
    train = [s for s in range(1, 25) if s not in BIWI_KDOE_TEST]
    order = [v for pair in zip(train, BIWI_KDOE_TEST) for v in pair] + train[len(BIWI_KDOE_TEST):]
    return (order + list(range(25, 25 + max(n - 24, 0))))[:n]


def format_biwi_pose(r_file: np.ndarray, t_mm) -> str:
    """The text of a BIWI ``frame_XXXXX_pose.txt`` (DATA_FACTS 5): 3 rows of R, blank, T in mm, blank;
    6 significant digits and a trailing space per row, as in the real files."""
    rows = [" ".join(f"{v:g}" for v in row) + " " for row in np.asarray(r_file)]
    return "\n".join(rows) + "\n\n" + " ".join(f"{v:g}" for v in t_mm) + " \n\n"


def _write_biwi(root: str, seed: int, n_seq: int, n_frames: int, progress: bool) -> dict:
    gt, size, boxes = {}, (640, 480), {}
    prog = _Progress("BIWI", n_seq * n_frames, progress)
    for s in biwi_sequence_ids(n_seq):
        seq = f"{s:02d}"
        srng = _rng(seed, "biwi", s, 0)
        params = sample_head(srng)
        amp = srng.uniform([35, 20, 12], [75, 45, 30])
        freq = srng.uniform(0.6, 1.6, 3) * 2 * np.pi / max(n_frames, 1)
        phase = srng.uniform(0, 2 * np.pi, 3)
        mean = srng.normal(0, [8, 6, 4])
        base_c = np.array([320.0, 250.0]) + srng.normal(0, [50, 30])
        scale0 = srng.uniform(60, 78)
        seq_dir = os.path.join(root, seq)
        for cal, text in (("rgb.cal", BIWI_RGB_CAL), ("depth.cal", BIWI_DEPTH_CAL)):
            _write(os.path.join(seq_dir, cal), text)
        bg = None
        for j in range(n_frames):
            frng = _rng(seed, "biwi", s, 1 + j)
            ypr = np.clip(mean + amp * np.sin(freq * j + phase) + frng.normal(0, 1.5, 3), [-80, -60, -50], [80, 60, 50])
            frame = f"frame_{3 + j:05d}"
            paths = [os.path.join(seq_dir, frame + suffix) for suffix in ("_rgb.png", "_pose.txt")]
            draw = not all(os.path.exists(q) for q in paths)
            if draw and bg is None:
                bg = make_background(_rng(seed, "biwi", s, 10 ** 6), size)
            scale = scale0 * (1 + 0.03 * np.sin(0.3 * j))
            yaw, pitch, roll = np.radians(ypr)
            rot = angles.rotation_3ddfa(pitch, yaw, roll)
            centre = _centre_for(rot, scale, size, tuple(base_c + frng.normal(0, 3, 2)))
            out = render_rotation(params, rot, size, scale, centre, background=bg, draw=draw)
            out.pose_para[:3] = (pitch, yaw, roll)
            z_mm = _BIWI_F * UNIT_MM / scale
            t_mm = [(centre[0] - 1 - _BIWI_C[0]) * z_mm / _BIWI_F, (centre[1] - 1 - _BIWI_C[1]) * z_mm / _BIWI_F, z_mm]
            written = False
            if draw:
                written |= _write(paths[0], _png(out.image))
                written |= _write(paths[1], format_biwi_pose(angles.ypr_to_biwi_rotation(ypr), t_mm))
            box = face_box(out, size)
            boxes[f"{seq}/{frame}_rgb.png"] = [{"bbox": box, "type": "test" if s in BIWI_KDOE_TEST else "train"}]
            gt[f"{seq}/{frame}"] = dict(_gt(out, ypr), box=np.array(box))
            prog.step(written)
    return gt, boxes
