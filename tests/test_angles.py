"""Angle conventions: rotation round trips, BIWI vs 3DDFA, conversions to other code (docs/ANGLES.md)."""
import numpy as np
import pytest

from hmtl_tf import angles as A

RNG = np.random.default_rng(0)
# The valid range: |yaw|, |pitch| < 90 (the unique Euler branch), |roll| <= 180; dataset labels lie in +-99.
GRID = [(y, p, r) for y in (-89, -60, -15, 0, 30, 89) for p in (-89, -45, 0, 20, 89) for r in (-179, -99, 0, 45, 179)]
RANDOM = list(RNG.uniform([-89.9, -89.9, -180], [89.9, 89.9, 180], size=(200, 3)))


def _is_rotation(r):
    return np.allclose(r @ r.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(r), 1.0)


@pytest.mark.parametrize("ypr", GRID + RANDOM[:50])
def test_rotation_round_trip(ypr):
    r = A.rotation_from_ypr(ypr)
    assert _is_rotation(r)
    np.testing.assert_allclose(A.ypr_from_rotation(r), ypr, atol=1e-9)


def test_rotation_is_transpose_of_standard_zyx():
    """DATA_FACTS 1.4: R_3ddfa = (Rz(r) Ry(y) Rx(p))^T with standard matrices (= 6DRepNet get_R transposed)."""
    for yaw, pitch, roll in RANDOM:
        std = A.euler_zyx(*np.radians([pitch, yaw, roll]))
        np.testing.assert_allclose(A.rotation_from_ypr([yaw, pitch, roll]), std.T, atol=1e-12)


@pytest.mark.parametrize("ypr", GRID + RANDOM[:50])
def test_biwi_formula_and_3ddfa_matrix_agree(ypr):
    """A BIWI-file rotation built two ways from known angles: ZYX with negated yaw/roll, and the 3DDFA
    matrix in the camera frame; HopeNet's BIWI formula returns the angles."""
    r_file = A.ypr_to_biwi_rotation(ypr)
    c = np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(r_file, c @ A.rotation_from_ypr(ypr) @ c, atol=1e-12)
    assert _is_rotation(r_file)
    np.testing.assert_allclose(A.biwi_rotation_to_ypr(r_file), ypr, atol=1e-9)


def test_biwi_real_frame_round_trip():
    """BIWI 01/frame_00003_pose.txt (DATA_FACTS 5): HopeNet -> (3.291, 7.607, -1.567); rebuilding the file
    rotation from those angles gives the file back (up to its 6-digit rounding)."""
    r_file = np.array([[0.997978, 0.0272944, 0.0574071], [-0.0346956, 0.990621, 0.132163],
                       [-0.0532613, -0.133887, 0.989564]])
    ypr = A.biwi_rotation_to_ypr(r_file)
    np.testing.assert_allclose(ypr, [3.291, 7.607, -1.567], atol=1e-3)
    np.testing.assert_allclose(A.ypr_to_biwi_rotation(ypr), r_file, atol=2e-5)
    # KD-OE's BIWI labels (scipy as_euler('XYZ') of the file matrix) = our pitch negated (DATA_FACTS 4).
    np.testing.assert_allclose(A.ypr_to_kdoe(ypr), [-7.607, 3.291, -1.567], atol=1e-3)


def test_kdoe_matches_scipy_xyz_euler():
    """KD-OE reads BIWI as Rotation.from_matrix(R_file).as_euler('XYZ'): equal to ypr_to_kdoe."""
    from scipy.spatial.transform import Rotation
    for ypr in RANDOM[:40]:
        ypr = np.array(ypr) * np.array([0.9, 0.9, 0.45])     # |angles| within the +-99 range of the datasets
        kd = Rotation.from_matrix(A.ypr_to_biwi_rotation(ypr)).as_euler("XYZ", degrees=True)
        np.testing.assert_allclose(kd, A.ypr_to_kdoe(ypr), atol=1e-8)


@pytest.mark.parametrize("to, back, n", [
    (A.ypr_to_hopenet, A.hopenet_to_ypr, 3),
    (A.ypr_to_sixdrepnet_euler, A.sixdrepnet_euler_to_ypr, 3),
    (A.ypr_to_kdoe, A.kdoe_to_ypr, 3),
    (A.ypr_to_xgaze, A.xgaze_to_ypr, 2),
])
def test_conversions_round_trip_batched(to, back, n):
    a = np.array(RANDOM)[:, :n]
    np.testing.assert_allclose(back(to(a)), a, atol=1e-12)
    np.testing.assert_allclose(back(to(a[0])), a[0], atol=1e-12)


def test_reference_values():
    np.testing.assert_allclose(A.ypr_to_kdoe([10, 20, 30]), [-20, 10, 30])
    np.testing.assert_allclose(A.ypr_to_sixdrepnet_euler([90, 180, 0]), [np.pi, np.pi / 2, 0])
    np.testing.assert_allclose(A.ypr_to_xgaze([45, -90, 5]), [-np.pi / 2, np.pi / 4])
    np.testing.assert_allclose(A.xgaze_to_ypr([0.1, -0.2]), np.degrees([-0.2, 0.1]))


@pytest.mark.parametrize("ypr", RANDOM[:30])
def test_sixdrepnet_rotation(ypr):
    """6DRepNet's matrix is get_R(pitch, yaw, roll) = our matrix transposed; its Euler read-out
    (compute_euler_angles_from_rotation_matrices: x=atan2(R21,R22), y=atan2(-R20, sy), z=atan2(R10,R00))
    returns (pitch, yaw, roll) = ypr_to_sixdrepnet_euler."""
    r = A.sixdrepnet_rotation_from_ypr(ypr)
    np.testing.assert_allclose(r, A.rotation_from_ypr(ypr).T, atol=1e-12)
    np.testing.assert_allclose(A.ypr_from_sixdrepnet_rotation(r), ypr, atol=1e-9)
    sy = np.hypot(r[0, 0], r[1, 0])
    euler = np.array([np.arctan2(r[2, 1], r[2, 2]), np.arctan2(-r[2, 0], sy), np.arctan2(r[1, 0], r[0, 0])])
    np.testing.assert_allclose(euler, A.ypr_to_sixdrepnet_euler(ypr), atol=1e-9)


def test_flip_is_mirror_conjugation():
    """DATA_FACTS 1.5: mirroring x conjugates R by diag(-1,1,1); flip_ypr gives the same matrix."""
    d = np.diag([-1.0, 1.0, 1.0])
    for ypr in RANDOM[:30]:
        np.testing.assert_allclose(A.rotation_from_ypr(A.flip_ypr(ypr)), d @ A.rotation_from_ypr(ypr) @ d,
                                   atol=1e-12)


def test_bad_shape_is_one_line_error():
    with pytest.raises(ValueError, match="last axis of size 3"):
        A.ypr_to_kdoe([1.0, 2.0])
