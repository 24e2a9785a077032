"""Angle conventions: the one internal convention and the conversions to it (DATA_FACTS 1.2, 1.4, 1.5, 2.7).

Internal convention everywhere in hmtl_tf: **degrees**, order **(yaw, pitch, roll)**, the 3DDFA / HopeNet
signs: +yaw = face turned toward image-left, +pitch = face looking up, +roll = clockwise in the image.

Rotation matrix: the 3DDFA one (face3d ``angle2matrix_3ddfa``), ``R = Rx(p) Ry(y) Rz(r)`` with the
transposed elementary matrices written below, which equals ``(Rz(r) Ry(y) Rx(p))^T`` with standard
right-handed matrices. Rendering: ``V = s * R @ X + t`` (X in the BFM frame: x right, y up, z toward the
camera), orthographic projection, image ``y = h + 1 - V_y``.
"""
from __future__ import annotations

import numpy as np

YPR = ("yaw", "pitch", "roll")


def pose_para_to_ypr(pose_para) -> np.ndarray:
    """300W-LP / AFLW2000 ``Pose_Para`` ([pitch, yaw, roll, tx, ty, tz, s], radians) -> (yaw, pitch, roll) deg.

    HopeNet datasets.py:115-140: ``pitch = pose[0]*180/pi; yaw = pose[1]*180/pi; roll = pose[2]*180/pi``.
    Computed in float64 from the stored float32 values.
    """
    p = np.asarray(pose_para, dtype=np.float64).reshape(-1)
    if p.size < 3:
        raise ValueError(f"Pose_Para: expected at least 3 values [pitch, yaw, roll], got {p.size}")
    pitch, yaw, roll = p[0], p[1], p[2]
    return np.degrees(np.array([yaw, pitch, roll], dtype=np.float64))


def rotation_3ddfa(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """face3d ``angle2matrix_3ddfa`` (radians): ``R = Rx @ Ry @ Rz`` with the matrices of DATA_FACTS 1.4."""
    x, y, z = float(pitch), float(yaw), float(roll)
    rx = np.array([[1, 0, 0], [0, np.cos(x), np.sin(x)], [0, -np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), np.sin(z), 0], [-np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rx @ ry @ rz


def rotation_from_ypr(ypr_deg) -> np.ndarray:
    """(yaw, pitch, roll) degrees -> the 3DDFA rotation matrix."""
    yaw, pitch, roll = np.radians(np.asarray(ypr_deg, dtype=np.float64))
    return rotation_3ddfa(pitch, yaw, roll)


def ypr_from_rotation(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rotation_from_ypr` for |pitch|, |yaw| < 90 (the unique branch with cos(yaw) > 0).

    With ``R = (Rz Ry Rx)^T``: ``R[0,2] = -sin(yaw)``, ``R[1,2]/R[2,2] = tan(pitch)``, ``R[0,1]/R[0,0] = tan(roll)``.
    """
    r = np.asarray(r, dtype=np.float64)
    yaw = np.arcsin(np.clip(-r[0, 2], -1.0, 1.0))
    pitch = np.arctan2(r[1, 2], r[2, 2])
    roll = np.arctan2(r[0, 1], r[0, 0])
    return np.degrees(np.array([yaw, pitch, roll]))


def biwi_rotation_to_ypr(r_file: np.ndarray) -> np.ndarray:
    """BIWI ``frame_XXXXX_pose.txt`` rotation -> (yaw, pitch, roll) degrees, HopeNet's formula (DATA_FACTS 2.7).

    ``R = R_file.T; roll = -atan2(R10, R00); yaw = -atan2(-R20, sqrt(R21^2 + R22^2)); pitch = atan2(R21, R22)``.
    """
    r = np.asarray(r_file, dtype=np.float64).T
    roll = -np.arctan2(r[1, 0], r[0, 0])
    yaw = -np.arctan2(-r[2, 0], np.sqrt(r[2, 1] ** 2 + r[2, 2] ** 2))
    pitch = np.arctan2(r[2, 1], r[2, 2])
    return np.degrees(np.array([yaw, pitch, roll]))


def flip_ypr(ypr) -> np.ndarray:
    """Horizontal mirror of the image: (yaw, pitch, roll) -> (-yaw, pitch, -roll) (DATA_FACTS 1.5, exact)."""
    a = np.asarray(ypr, dtype=np.float64)
    return a * np.array([-1.0, 1.0, -1.0])[: a.shape[-1]]


def within_limit(ypr, limit: float = 99.0) -> bool:
    """The +-99 degree filter of HopeNet / 6DRepNet / FSA-Net / KD-OE (DATA_FACTS 2.6): all |angle| <= limit."""
    a = np.asarray(ypr, dtype=np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(np.abs(a) <= limit))


# ---------------------------------------------------------------------------------------------------
# Conversions to and from the conventions of other public code (docs/ANGLES.md). Angle arrays may be
# (3,) or (N, 3) (ETH-XGaze: (2,) / (N, 2)); rotation matrices are one (3, 3) at a time.

def _last(a, n: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape[-1:] != (n,):
        raise ValueError(f"expected angles with last axis of size {n}, got shape {a.shape}")
    return a


def euler_zyx(x: float, y: float, z: float) -> np.ndarray:
    """Standard right-handed ``Rz(z) @ Ry(y) @ Rx(x)`` (radians): 6DRepNet ``get_R`` (utils.py), the
    ZYX Euler matrix that HopeNet's BIWI formula decomposes."""
    return _std_rz(float(z)) @ _std_ry(float(y)) @ _std_rx(float(x))


def ypr_to_hopenet(ypr) -> np.ndarray:
    """HopeNet (deep-head-pose) predicts (yaw, pitch, roll) degrees with our signs: the identity."""
    return _last(ypr, 3).copy()


def hopenet_to_ypr(hopenet) -> np.ndarray:
    """Inverse of :func:`ypr_to_hopenet` (identity)."""
    return _last(hopenet, 3).copy()


def ypr_to_sixdrepnet_euler(ypr) -> np.ndarray:
    """(yaw, pitch, roll) deg -> 6DRepNet's Euler output (pitch, yaw, roll) **radians**, same signs
    (its ``compute_euler_angles_from_rotation_matrices`` x, y, z of ``get_R(pitch, yaw, roll)``)."""
    a = _last(ypr, 3)
    return np.radians(a[..., [1, 0, 2]])


def sixdrepnet_euler_to_ypr(pyr_rad) -> np.ndarray:
    """6DRepNet (pitch, yaw, roll) radians -> (yaw, pitch, roll) degrees."""
    a = _last(pyr_rad, 3)
    return np.degrees(a[..., [1, 0, 2]])


def sixdrepnet_rotation_from_ypr(ypr_deg) -> np.ndarray:
    """The matrix 6DRepNet regresses: ``get_R(pitch, yaw, roll)`` = the transpose of our 3DDFA matrix."""
    yaw, pitch, roll = np.radians(_last(ypr_deg, 3))
    return euler_zyx(pitch, yaw, roll)


def ypr_from_sixdrepnet_rotation(r) -> np.ndarray:
    """A 6DRepNet rotation matrix -> (yaw, pitch, roll) degrees (|pitch|, |yaw| < 90)."""
    return ypr_from_rotation(np.asarray(r, dtype=np.float64).T)


def ypr_to_kdoe(ypr) -> np.ndarray:
    """(yaw, pitch, roll) -> KD-OE's (pitch, yaw, roll) degrees with pitch negated (DATA_FACTS 4)."""
    a = _last(ypr, 3)
    return a[..., [1, 0, 2]] * np.array([-1.0, 1.0, 1.0])


def kdoe_to_ypr(kdoe) -> np.ndarray:
    """KD-OE (-pitch, yaw, roll) degrees -> (yaw, pitch, roll)."""
    a = _last(kdoe, 3) * np.array([-1.0, 1.0, 1.0])
    return a[..., [1, 0, 2]]


def ypr_to_xgaze(yp) -> np.ndarray:
    """(yaw, pitch[, roll]) degrees -> ETH-XGaze ``face_head_pose`` (pitch, yaw) radians, same signs
    (DATA_FACTS 3); roll, if given, is dropped (ETH-XGaze normalisation removes it)."""
    a = np.asarray(yp, dtype=np.float64)
    if a.shape[-1] not in (2, 3):
        raise ValueError(f"expected (yaw, pitch[, roll]) angles, got shape {a.shape}")
    return np.radians(a[..., [1, 0]])


def xgaze_to_ypr(pitch_yaw_rad) -> np.ndarray:
    """ETH-XGaze (pitch, yaw) radians -> (yaw, pitch) degrees (2-angle models have no roll)."""
    a = _last(pitch_yaw_rad, 2)
    return np.degrees(a[..., [1, 0]])


def _std_rx(a: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _std_ry(a: float) -> np.ndarray:
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _std_rz(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def ypr_to_biwi_rotation(ypr_deg) -> np.ndarray:
    """(yaw, pitch, roll) degrees -> a BIWI ``pose.txt`` rotation; exact inverse of :func:`biwi_rotation_to_ypr`.

    HopeNet's formula is the ZYX decomposition of ``R_file.T = Rz(-roll) Ry(-yaw) Rx(pitch)`` (standard
    right-handed matrices), so ``R_file = (Rz(-roll) Ry(-yaw) Rx(pitch)).T`` (valid for |yaw| < 90).
    """
    yaw, pitch, roll = np.radians(np.asarray(ypr_deg, dtype=np.float64))
    return (_std_rz(-roll) @ _std_ry(-yaw) @ _std_rx(pitch)).T


def eth_head_rotation(pitch: float, yaw: float) -> np.ndarray:
    """ETH-XGaze normalised head pose [pitch, yaw] (radians) -> rotation in the 3DDFA frame (``V = s R X + t``).

    ETH (DATA_FACTS 3): ``Zv = M[:, 2]; pitch = asin(Zv[1]); yaw = atan2(Zv[0], Zv[2])`` in its frame (x right,
    y down, z into the head / scene); normalisation leaves the head x axis horizontal (no roll). In our frame
    (y up, z toward the camera) that is ``R = Ry(-yaw) Rx(-pitch)`` (standard matrices): forward axis
    ``R e_z = (-cos p sin y, sin p, cos p cos y)``, ``R e_x`` with zero vertical component. Not the 3DDFA Euler
    angles (yaw and pitch are applied in the other order), which coincide only when one of them is 0.
    """
    return _std_ry(-float(yaw)) @ _std_rx(-float(pitch))


def eth_pitchyaw_from_rotation(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`eth_head_rotation` on the forward axis: ``[asin(f_y), atan2(-f_x, f_z)]`` radians."""
    f = np.asarray(r, dtype=np.float64)[:, 2]
    return np.array([np.arcsin(np.clip(f[1], -1.0, 1.0)), np.arctan2(-f[0], f[2])])
