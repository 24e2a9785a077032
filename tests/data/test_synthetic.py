"""Synthetic heads (hmtl_tf.data.synthetic): conventions, labels, layouts, determinism (DATA_FACTS 1-5)."""
import dataclasses
import filecmp
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.io as sio

from hmtl_tf import angles
from hmtl_tf.data import synthetic as S
from hmtl_tf.data.sample import DataError
from tests.helpers import REPO

SMALL = dict(n_300wlp=3, n_aflw2000=2, biwi_sequences=2, biwi_frames=2, xgaze_subjects=[0, 1],
             xgaze_per_subject=2, progress=False)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return root, S.write_datasets(str(root), seed=3, **SMALL)


def _files(root):
    return sorted(p.relative_to(root) for p in pathlib.Path(root).rglob("*") if p.is_file())


def _head(seed=0, **kw):
    return dataclasses.replace(S.sample_head(np.random.default_rng(seed)), **kw)


# --- determinism and resumability -------------------------------------------------------------------------

def test_same_seed_same_bytes(written, tmp_path):
    root, _ = written
    S.write_datasets(str(tmp_path), seed=3, **SMALL)
    files = _files(root)
    assert files == _files(tmp_path) and len(files) > 20
    mismatch = [str(f) for f in files if not filecmp.cmp(root / f, tmp_path / f, shallow=False)]
    assert mismatch == []


def test_render_deterministic_and_seed_sensitive():
    a = S.render_head(_head(1), (20, 5, -3), size=(96, 96), rng=np.random.default_rng(7))[0]
    b = S.render_head(_head(1), (20, 5, -3), size=(96, 96), rng=np.random.default_rng(7))[0]
    c = S.render_head(_head(2), (20, 5, -3), size=(96, 96), rng=np.random.default_rng(8))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_resume_fills_missing_and_keeps_user_files(tmp_path):
    kw = dict(SMALL, n_aflw2000=0, biwi_sequences=0, xgaze_subjects=0)
    gt = S.write_datasets(str(tmp_path), seed=1, **kw)
    first = sorted(gt["300w_lp"])[0]
    jpg = tmp_path / "300W_LP" / (first + ".jpg")
    mat = tmp_path / "300W_LP" / (first + ".mat")
    original = mat.read_bytes()
    jpg.write_bytes(b"user file")                      # a file the user wrote: never overwritten
    mat.unlink()                                       # a missing file: filled in, identically
    gt2 = S.write_datasets(str(tmp_path), seed=1, **kw)
    assert jpg.read_bytes() == b"user file" and mat.read_bytes() == original
    assert np.array_equal(gt2["300w_lp"][first]["landmarks68"], gt["300w_lp"][first]["landmarks68"])


def test_conflicting_index_file_is_refused(tmp_path):
    (tmp_path / "BIWI").mkdir()
    (tmp_path / "BIWI" / "BIWI.json").write_text(json.dumps({"01/frame_00003_rgb.png": [{"bbox": [0, 0, 1, 1]}]}))
    with pytest.raises(DataError, match="BIWI.json"):
        S.write_datasets(str(tmp_path), seed=0, **dict(SMALL, n_300wlp=0, n_aflw2000=0, biwi_sequences=1,
                                                         xgaze_subjects=0))


# --- formats against the real files -----------------------------------------------------------------------

def _layout(path):
    m = sio.loadmat(path)
    return {k: (v.shape, v.dtype.str) for k, v in m.items() if not k.startswith("__")}


def test_300wlp_mat_matches_real(written, realdata):
    root, gt = written
    real = _layout(realdata / "300W_LP" / "AFW" / "AFW_1051618982_1_0.mat")
    for sid in gt["300w_lp"]:
        assert _layout(root / "300W_LP" / (sid + ".mat")) == real, sid
    assert {p.parent.name for p in (root / "300W_LP").rglob("*.jpg")} <= {
        s + f for s in S.W300LP_SUBSETS for f in ("", "_Flip")}


def test_aflw2000_mat_matches_real(written, realdata):
    root, gt = written
    real = _layout(realdata / "AFLW2000" / "image00050.mat")
    for sid in gt["aflw2000"]:
        assert _layout(root / "AFLW2000" / (sid + ".mat")) == real, sid
        pt2d = sio.loadmat(root / "AFLW2000" / (sid + ".mat"))["pt2d"].T
        np.testing.assert_array_equal(pt2d, gt["aflw2000"][sid]["pt2d"])
        sentinel = np.all(pt2d == S.AFLW_SENTINEL, axis=1)      # invisible points stored as (-1, 452)
        from68 = S.AFLW21_FROM_73 < 68
        vis = gt["aflw2000"][sid]["visibility68"][S.AFLW21_FROM_73[from68]]
        np.testing.assert_array_equal(sentinel[from68], vis == 0)


def test_images_sizes(written):
    import cv2
    root, gt = written
    sid = sorted(gt["300w_lp"])[0]
    assert cv2.imread(str(root / "300W_LP" / (sid + ".jpg"))).shape == (450, 450, 3)
    sid = sorted(gt["aflw2000"])[0]
    assert cv2.imread(str(root / "AFLW2000" / (sid + ".jpg"))).shape == (450, 450, 3)
    sid = sorted(gt["biwi"])[0]
    assert cv2.imread(str(root / "BIWI" / "hpdb" / (sid + "_rgb.png"))).shape == (480, 640, 3)


def test_aflw2000_extreme_angles_and_ids():
    ypr17 = S._aflw_sample(0, 17)[2]
    assert max(abs(a) for a in ypr17) > 99                      # 1 in 50 exercises the +-99 filter
    assert all(max(abs(a) for a in S._aflw_sample(0, i)[2]) <= 99 for i in range(5))
    names = [S._aflw_sample(0, i)[0] for i in range(6)]
    assert names == sorted(set(names)) and all(len(n) == len("image00002") for n in names)


def test_aflw2000_poses_follow_the_training_layout():
    """The test layout's poses (outliers aside) lie inside the training layout's range and follow its distribution:
    the two-sample Kolmogorov-Smirnov test of each angle does not reject at 1 %, and the ranges match."""
    from scipy.stats import ks_2samp

    train = np.array([view[0] for f in range(700) for view in S._w300lp_face(0, f)[3]])
    test = np.array([S._aflw_sample(0, i)[2] for i in range(800) if i % 50 != 17])
    assert len(train) > 1000 and len(test) == 784
    for j, (name, limit) in enumerate((("yaw", 92), ("pitch", 40), ("roll", 30))):
        assert np.abs(test[:, j]).max() <= limit and np.abs(train[:, j]).max() <= limit, name
        assert ks_2samp(train[:, j], test[:, j]).pvalue > 0.01, name
    # the profiled views put a tail of large yaws in both (the layout's point): a share of |yaw| > 60 alike
    share = [float(np.mean(np.abs(a[:, 0]) > 60)) for a in (train, test)]
    assert share[0] > 0.05 and abs(share[0] - share[1]) < 0.04, share


def test_biwi_layout_and_pose_roundtrip(written, realdata):
    root, gt = written
    hp = root / "BIWI" / "hpdb"
    for cal in ("rgb.cal", "depth.cal"):
        assert (hp / "01" / cal).read_text() == (realdata / "BIWI" / "hpdb" / "01" / cal).read_text()
    shape = [(ln.endswith(" "), ln == "") for ln in (realdata / "BIWI/hpdb/01/frame_00003_pose.txt").read_text()
             .split("\n")]
    boxes = json.loads((root / "BIWI" / "BIWI.json").read_text())
    for sid, g in gt["biwi"].items():
        text = (hp / (sid + "_pose.txt")).read_text()
        assert [(ln.endswith(" "), ln == "") for ln in text.split("\n")] == shape
        rows = [list(map(float, ln.split())) for ln in text.splitlines() if ln.strip()]
        ypr = angles.biwi_rotation_to_ypr(np.array(rows[:3]))
        np.testing.assert_allclose(ypr, g["ypr"], atol=1e-3)
        entry = boxes[sid + "_rgb.png"][0]
        assert entry["type"] == ("test" if int(sid[:2]) in S.BIWI_KDOE_TEST else "train")
        x0, y0, x1, y1 = entry["bbox"]
        assert 0 <= x0 < x1 < 640 and 0 <= y0 < y1 < 480
    assert {e[0]["type"] for e in boxes.values()} == {"train", "test"}      # sequences 01 and 06


@pytest.mark.parametrize("ypr", [(0, 0, 0), (60, -20, 15), (-75, 30, -25), (5, 80, 40)])
def test_ypr_to_biwi_rotation_inverts_hopenet_formula(ypr):
    r = angles.ypr_to_biwi_rotation(ypr)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(angles.biwi_rotation_to_ypr(r), ypr, atol=1e-9)


def test_xgaze_h5_layout(written):
    import h5py
    root, gt = written
    split = json.loads((root / "xgaze_224" / "train_test_split.json").read_text())
    assert split == {"train": ["subject0000.h5"], "test": ["subject0001.h5"], "test_person_specific": []}
    with h5py.File(root / "xgaze_224" / "train" / "subject0000.h5", "r") as h5:
        got = {k: (h5[k].shape, h5[k].dtype.kind) for k in h5}
        pose = h5["face_head_pose"][:]
    assert got == {"cam_index": ((2, 1), "i"), "frame_index": ((2, 1), "i"), "face_gaze": ((2, 2), "f"),
                   "face_head_pose": ((2, 2), "f"), "face_mat_norm": ((2, 3, 3), "f"),
                   "face_patch": ((2, 224, 224, 3), "u")}
    for j in range(2):
        p, y = pose[j]
        np.testing.assert_allclose(gt["eth_xgaze"][f"subject0000/{j:06d}"]["ypr"], np.degrees([y, p, 0]))
    with h5py.File(root / "xgaze_224" / "test" / "subject0001.h5", "r") as h5:
        assert "face_gaze" not in h5 and h5["face_patch"].shape == (2, 224, 224, 3)


def test_xgaze_subject_ids_include_validation():
    assert set(S.XGAZE_VAL) <= set(S.xgaze_subject_ids(4))
    assert len(set(S.xgaze_subject_ids(30))) == 30


def test_eth_head_rotation_matches_eth_formula():
    s = np.diag([1.0, -1.0, -1.0])                      # our frame <-> ETH (y down, z into the scene)
    for p, y in [(0.3, -0.8), (-0.5, 1.1), (0.0, 0.4)]:
        zv = (s @ angles.eth_head_rotation(p, y) @ s)[:, 2]
        np.testing.assert_allclose([np.arcsin(zv[1]), np.arctan2(zv[0], zv[2])], [p, y], atol=1e-12)


# --- geometry, conventions, landmarks ---------------------------------------------------------------------

def test_pt2d_is_the_3ddfa_projection_of_the_3d_landmarks(written):
    root, gt = written
    for f, k, subset, name, params, _ in S._w300lp_plan(3, 3):
        x3d = S.head_landmarks_3d(params)
        mat = sio.loadmat(root / "300W_LP" / subset / (name + ".mat"))
        proj = S.project_pose_para(x3d, mat["Pose_Para"], 450)[:, :2]
        np.testing.assert_allclose(proj, mat["pt2d"].T, atol=1e-3)
        # the _Flip copy is the projection of the mirrored head with its own Pose_Para
        fmat = sio.loadmat(root / "300W_LP" / (subset + "_Flip") / (name + ".mat"))
        mirrored = (x3d * [-1, 1, 1])[S.FLIP_68]
        np.testing.assert_allclose(S.project_pose_para(mirrored, fmat["Pose_Para"], 450)[:, :2], fmat["pt2d"].T,
                                   atol=1e-3)
        np.testing.assert_allclose(angles.pose_para_to_ypr(fmat["Pose_Para"]),
                                   angles.flip_ypr(angles.pose_para_to_ypr(mat["Pose_Para"])), atol=1e-5)


def test_aflw_pt3d_68_is_the_projection(written):
    root, gt = written
    for i in range(2):
        name, params, *_ = S._aflw_sample(3, i)
        mat = sio.loadmat(root / "AFLW2000" / (name + ".mat"))
        proj = S.project_pose_para(S.head_landmarks_3d(params), mat["Pose_Para"], 450)
        np.testing.assert_allclose(proj, mat["pt3d_68"].T, atol=2e-3)


def _lm(ypr, seed=0):
    return S.render_head(_head(seed), ypr, size=(200, 200), background=np.zeros((200, 200, 3), np.uint8))


@pytest.mark.parametrize("seed", [0, 1])
def test_sign_conventions(seed):
    """+yaw: nose toward image-left; +pitch: nose moves up; +roll: eye line clockwise (DATA_FACTS 1.4)."""
    def nose_minus_eyes(lm):
        return lm[30] - (lm[36] + lm[45]) / 2
    assert nose_minus_eyes(_lm((30, 0, 0), seed)[1])[0] < 0 < nose_minus_eyes(_lm((-30, 0, 0), seed)[1])[0]
    up, flat, down = (nose_minus_eyes(_lm((0, p, 0), seed)[1])[1] for p in (20, 0, -20))
    assert up < flat < down
    lm = _lm((0, 0, 20), seed)[1]
    d = lm[45] - lm[36]
    np.testing.assert_allclose(np.degrees(np.arctan2(d[1], d[0])), 20, atol=0.5)


@pytest.mark.parametrize("yaw", [70, -70])
def test_visibility_follows_yaw(yaw):
    vis = _lm((yaw, 0, 0))[2]
    far, near = (range(0, 6), range(11, 17)) if yaw > 0 else (range(11, 17), range(0, 6))
    assert vis[list(far)].sum() <= 1 and vis[list(near)].sum() >= 5
    assert _lm((0, 0, 0))[2][27:68].all()                     # frontal: the inner face is visible
    assert _lm((180, 0, 0))[2][17:68].sum() == 0             # from behind: nothing of the face


def test_flip_consistency():
    """Mirror of a render at (y, p, r) vs the same head at (-y, p, -r), head origin mirrored (x -> W + 1 - x).

    Lateral asymmetric detail off (symmetric=True: no parting / fringe; light and gaze on the symmetry plane).
    Metric: silhouette IoU > 0.99 and mean |difference| < 1 grey level over the union of the silhouettes;
    landmarks (mirrored, iBUG re-paired) equal to 1e-6 px and visibility identical."""
    p = dataclasses.replace(S.sample_head(np.random.default_rng(5), symmetric=True), light=(0.0, 0.6, 0.8),
                            gaze=(0.1, 0.0))
    size, bg = (160, 160), np.full((160, 160, 3), 90, np.uint8)
    a = S.render_ypr(p, (35, 12, -18), size=size, center=(70.3, 90.0), background=bg)
    b = S.render_ypr(p, (-35, 12, 18), size=size, center=(161 - 70.3, 90.0), background=bg)
    m = a.mask[:, ::-1]
    union = m | b.mask
    assert (m & b.mask).sum() / union.sum() > 0.99
    assert np.abs(a.image[:, ::-1].astype(float) - b.image)[union].mean() < 1.0
    flip_lm = a.landmarks[:68][S.FLIP_68] * [-1, 1] + [161, 0]
    np.testing.assert_allclose(flip_lm, b.landmarks[:68], atol=1e-6)
    assert np.array_equal(a.visibility[:68][S.FLIP_68], b.visibility[:68])


def test_mirror_params_renders_the_flipped_image_of_an_asymmetric_head():
    p = S.sample_head(np.random.default_rng(6))
    assert p.parting != 0
    bg = np.full((128, 128, 3), 30, np.uint8)
    a = S.render_ypr(p, (-20, 5, 10), size=(128, 128), center=(60.0, 70.0), background=bg)
    b = S.render_ypr(S.mirror_params(p), (20, 5, -10), size=(128, 128), center=(69.0, 70.0), background=bg)
    assert np.abs(a.image[:, ::-1].astype(float) - b.image).mean() < 0.5
    c = S.render_ypr(p, (20, 5, -10), size=(128, 128), center=(69.0, 70.0), background=bg)
    assert np.abs(a.image[:, ::-1].astype(float) - c.image).mean() > 1.0     # the parting side is visible


def test_head_is_asymmetric_front_back_and_up_down():
    """A front/back (up/down) symmetric head would render its back view (pitch -p view) as the horizontal
    (vertical) mirror of the front view (pitch +p view) when the head origin is the image centre."""
    p, size = _head(3), (96, 96)
    kw = dict(size=size, center=(48.5, 48.5), background=np.zeros((96, 96, 3), np.uint8))
    front, back = (S.render_ypr(p, (y, 0, 0), **kw).image.astype(float) for y in (0, 180))
    up, down = (S.render_ypr(p, (0, q, 0), **kw).image.astype(float) for q in (30, -30))
    assert np.abs(front - back[:, ::-1]).mean() > 10
    assert np.abs(up - down[::-1]).mean() > 10


def test_cli_writes_layout(tmp_path):
    cmd = [sys.executable, "-m", "data_prep.make_synthetic", f"--out={tmp_path}", "--n_300wlp=1",
           "--n_aflw2000=1", "--biwi_sequences=1", "--biwi_frames=1", "--xgaze_subjects=0"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "AFLW2000").is_dir() and (tmp_path / "BIWI" / "BIWI.json").is_file()
    bad = subprocess.run(cmd[:4] + ["--n_aflw2000=-2"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "error: --n_aflw2000" in bad.stderr


def test_readers_round_trip(written):
    """write_datasets -> hmtl_tf.data.sources readers: same ids, angles (1e-3 deg after float32), landmarks, boxes."""
    from hmtl_tf.data.sources import aflw2000, biwi, boxes, eth_xgaze, w300lp
    root, gt = written
    read = {
        "300w_lp": list(w300lp.iter_samples(root)),
        "aflw2000": list(aflw2000.iter_samples(root)),
        "biwi": list(biwi.iter_samples(root / "BIWI", boxes=boxes.load_boxes(root / "BIWI" / "BIWI.json"))),
        "eth_xgaze": list(eth_xgaze.iter_samples(root)),
    }
    for name, samples in read.items():
        assert {s.source_id for s in samples} == set(gt[name]), name
        for s in samples:
            g = gt[name][s.source_id]
            np.testing.assert_allclose(s.ypr, g["ypr"], atol=1e-3, err_msg=f"{name} {s.source_id}")
            if name == "300w_lp":
                np.testing.assert_allclose(s.landmarks68, g["landmarks68"], atol=1e-9)
            if name == "aflw2000":
                np.testing.assert_allclose(s.landmarks68, g["landmarks68"], atol=1e-3)
                np.testing.assert_array_equal(s.pt2d, g["pt2d"])
            if name == "biwi":
                np.testing.assert_allclose(s.box, g["box"], atol=1e-6)
                assert s.split == ("test" if int(s.subject) in S.BIWI_KDOE_TEST else "train")
            if name == "eth_xgaze":
                assert s.has_roll is False and s.split == g["split"]
    img = read["eth_xgaze"][0].load_image()                  # BGR in the h5 -> RGB from the reader
    assert img.shape == (224, 224, 3) and img.dtype == np.uint8


def test_parallel_rendering_writes_the_same_bytes_as_one_process(tmp_path, monkeypatch):
    """300W-LP samples rendered by a process pool (large sets) are byte-identical to one process, ground truth
    included, in the same order: every sample is a pure function of (seed, index)."""
    monkeypatch.setenv("HMTL_RENDER_WORKERS", "1")
    one = S._write_300wlp(str(tmp_path / "one"), 5, 6, False)
    monkeypatch.setenv("HMTL_RENDER_WORKERS", "2")
    two = S._write_300wlp(str(tmp_path / "two"), 5, 6, False)
    assert list(one) == list(two) and len(one) == 12
    for k in one:
        np.testing.assert_array_equal(one[k]["ypr"], two[k]["ypr"])
        np.testing.assert_array_equal(one[k]["landmarks68"], two[k]["landmarks68"])
    files = _files(tmp_path / "one")
    assert files == _files(tmp_path / "two") and len(files) == 24
    assert all(filecmp.cmp(tmp_path / "one" / f, tmp_path / "two" / f, shallow=False) for f in files)


def test_render_workers_one_process_for_small_sets(monkeypatch):
    monkeypatch.delenv("HMTL_RENDER_WORKERS", raising=False)
    assert S.render_workers(10) == 1 and S.render_workers(5000) >= 1
    monkeypatch.setenv("HMTL_RENDER_WORKERS", "3")
    assert S.render_workers(10) == 3
