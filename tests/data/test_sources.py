"""Dataset readers, box files and image loading against the real sample files (DATA_FACTS 1-3, 5)."""
import collections
import json
import shutil

import h5py
import numpy as np
import pytest
import scipy.io

from hmtl_tf.bins import hopenet_bins
from hmtl_tf.data.crops import make_crop_spec
from hmtl_tf.data.sample import DataError
from hmtl_tf.data.sources import DATASETS, aflw2000, biwi, eth_xgaze, get_reader, w300lp
from hmtl_tf.data.sources.boxes import load_boxes
from hmtl_tf.data.sources.images import decode_rgb, encode_jpeg, load_rgb

# DATA_FACTS section 5: HopeNet AFLW2000 test crop (k = 0.2), [yaw, pitch, roll] degrees, bins.
AFLW2000_REF = {
    "image00050": ((48, 104, 434, 410), (0.939, -4.664, 5.636), (33, 31, 34)),
    "image00081": ((-136, 106, 528, 493), (17.907, 4.465, -0.689), (38, 34, 32)),
    "image00251": ((-105, 106, 407, 493), (-54.685, 6.995, -14.579), (14, 35, 28)),
    "image00430": ((43, 97, 455, 397), (4.687, 34.449, 7.246), (34, 44, 35)),
    "image00475": ((-136, 103, 528, 493), (65.621, 39.959, 19.990), (54, 46, 39)),
    "image00514": ((28, 95, 432, 385), (-5.273, 30.661, 6.331), (31, 43, 35)),
    "image00516": ((-111, 83, 431, 496), (-35.709, -0.990, 5.617), (21, 32, 34)),
    "image01038": ((54, 101, 449, 393), (11.065, 35.902, -6.224), (36, 44, 30)),
    "image01322": ((-114, 66, 441, 498), (-5.382, -13.587, -1.683), (31, 28, 32)),
    "image02283": ((-115, 78, 445, 496), (-14.137, 2.529, 2.068), (28, 33, 33)),
    "image02420": ((-136, 111, 528, 492), (70.899, -10.324, -8.707), (56, 29, 30)),
    "image02545": ((-136, 97, 527, 494), (10.969, -30.968, -8.815), (36, 22, 30)),
    "image02616": ((-136, 91, 527, 495), (37.968, -13.466, -13.107), (45, 28, 28)),
    "image03324": ((-113, 100, 438, 494), (-10.937, 17.309, -0.868), (29, 38, 32)),
    "image03614": ((-135, 94, 522, 494), (17.553, 0.350, -3.433), (38, 33, 31)),
    "image04331": ((-136, 97, 526, 494), (45.451, 12.326, -1.589), (48, 37, 32)),
}
# DATA_FACTS section 5: HopeNet 300W-LP train crop at k = 0.2 and k = 0.4.
W300LP_REF = {
    "AFW/AFW_1051618982_1_0": ((115, 148, 340, 412), (94, 80, 369, 456), (0.240, -5.037, 1.523), (33, 31, 33)),
    "AFW/AFW_56054945_1_0": ((139, 137, 315, 419), (122, 65, 338, 466), (-4.960, 9.165, 7.378), (31, 36, 35)),
    "IBUG/IBUG_image_008_1_0": ((115, 143, 340, 414), (93, 74, 370, 460), (-44.009, -7.584, 3.208), (18, 30, 34)),
}
BIWI_TEST_SEQUENCES = {"06", "07", "10", "13", "15", "18", "21", "22"}


@pytest.fixture(scope="module")
def aflw(realdata):
    return {s.source_id: s for s in aflw2000.iter_samples(realdata)}


@pytest.fixture(scope="module")
def lp(realdata):
    return {s.source_id: s for s in w300lp.iter_samples(realdata, on_error=lambda *a: None)}


# ----------------------------------------------------------------------------- AFLW2000 / 300W-LP vectors

@pytest.mark.parametrize("name", sorted(AFLW2000_REF))
def test_aflw2000_reference_vectors(aflw, name):
    crop, ypr, bins = AFLW2000_REF[name]
    s = aflw[name]
    np.testing.assert_allclose(s.ypr, ypr, atol=1e-3)
    assert tuple(hopenet_bins(3).index_np(s.ypr)) == bins
    assert make_crop_spec("hopenet", "aflw2000", s.split, pt2d=s.pt2d).box() == crop
    assert s.split == "test" and s.dataset == "aflw2000" and s.pt2d.shape == (21, 2)


def test_aflw2000_sentinels_kept_and_landmarks_from_pt3d(aflw, realdata):
    with_sentinel = [n for n, s in aflw.items() if np.any((s.pt2d[:, 0] == -1) & (s.pt2d[:, 1] == 452))]
    assert len(with_sentinel) == 12          # DATA_FACTS 1.3: 12 of 16 samples hold (-1, 452)
    names = sorted(json.loads((realdata / "bboxes_kd_oe_hpe" / "AFLW2000.json").read_text()))
    pts68 = np.load(realdata / "AFLW2000_label_arrays_3DDFA" / "AFLW2000-3D.pts68.npy")
    for name, s in aflw.items():
        np.testing.assert_allclose(s.landmarks68, pts68[names.index(name + ".jpg")][:2].T, atol=1e-4)


def test_aflw2000_yaw_equals_3ddfa_array(aflw, realdata):
    """Row i of 3DDFA's AFLW2000-3D.pose.npy = signed yaw of the i-th sorted name (DATA_FACTS 1.3)."""
    names = sorted(json.loads((realdata / "bboxes_kd_oe_hpe" / "AFLW2000.json").read_text()))
    yaw = np.load(realdata / "AFLW2000_label_arrays_3DDFA" / "AFLW2000-3D.pose.npy")
    assert len(names) == yaw.shape[0] == 2000
    for name, s in aflw.items():
        assert s.ypr[0] == pytest.approx(float(yaw[names.index(name + ".jpg")]), abs=1e-4)


@pytest.mark.parametrize("name", sorted(W300LP_REF))
def test_300w_lp_reference_vectors(lp, name):
    box_lo, box_hi, ypr, bins = W300LP_REF[name]
    s = lp[name]
    np.testing.assert_allclose(s.ypr, ypr, atol=1e-3)
    assert tuple(hopenet_bins(3).index_np(s.ypr)) == bins
    spec = make_crop_spec("hopenet", "300w_lp", s.split, pt2d=s.pt2d)
    assert (spec.box(0.2), spec.box(0.4)) == (box_lo, box_hi)
    assert s.split == "train" and s.subject == name.split("/")[0]
    assert s.pt2d.shape == (68, 2) and np.array_equal(s.landmarks68, s.pt2d)


def test_300w_lp_order_and_missing_subsets(realdata):
    notes = []
    ids = [s.source_id for s in w300lp.iter_samples(realdata / "300W_LP", on_error=lambda *a: notes.append(a))]
    assert ids == sorted(W300LP_REF)
    assert sorted(n[1] for n in notes) == ["missing_subset"] * 6          # only AFW and IBUG are present
    assert {n[0].rsplit("/", 1)[-1] for n in notes} == set(w300lp.SUBSETS) - {"AFW", "IBUG"}
    assert len(list(w300lp.iter_samples(realdata))) == 3                   # not fatal without a callback
    assert list(w300lp.iter_samples(realdata, split="test")) == []


def test_300w_lp_subset_names_shared_with_the_config():
    from hmtl_tf import config as C

    assert w300lp.SUBSETS == C.W300LP_SUBSETS and w300lp.ORIGINALS == C.W300LP_ORIGINALS
    assert set(C.W300LP_SUBSETS) == set(C.W300LP_ORIGINALS) | {f"{s}_Flip" for s in C.W300LP_ORIGINALS}
    assert C.DataConfig().w300lp_subsets == C.W300LP_ORIGINALS  # HMTL Sec. 3.4: 61,225 images
    assert C.w300lp_subsets(C.DataConfig(w300lp_subsets=("all",))) == C.W300LP_SUBSETS
    assert C.w300lp_subsets(C.DataConfig(w300lp_subsets=("LFPW_Flip", "AFW"))) == ("AFW", "LFPW_Flip")
    with pytest.raises(C.ConfigError, match="unknown: afw"):
        C.w300lp_subsets(C.DataConfig(w300lp_subsets=("afw",)))


def test_image_loads_lazily_as_rgb(aflw):
    img = aflw["image00050"].load_image()
    assert img.shape == (450, 450, 3) and img.dtype == np.uint8


# ----------------------------------------------------------------------------- bad input

def test_mat_without_pose_para_names_file(tmp_path, realdata):
    folder = tmp_path / "AFLW2000"
    folder.mkdir()
    shutil.copy(realdata / "AFLW2000" / "image00050.jpg", folder / "image00050.jpg")
    mat = scipy.io.loadmat(realdata / "AFLW2000" / "image00050.mat")
    scipy.io.savemat(folder / "image00050.mat", {k: v for k, v in mat.items()
                                                 if not k.startswith("__") and k != "Pose_Para"})
    with pytest.raises(DataError, match=r"image00050\.mat.*Pose_Para"):
        list(aflw2000.iter_samples(tmp_path))
    errors = []
    assert list(aflw2000.iter_samples(tmp_path, on_error=lambda *a: errors.append(a))) == []
    assert errors[0][0].endswith("image00050.mat") and errors[0][1] == "bad_label"


@pytest.mark.parametrize("name,cut", [("AFLW2000/image00050.jpg", 0.5), ("AFLW2000/image00050.jpg", 0.999),
                                      ("BIWI/hpdb/01/frame_00003_rgb.png", 0.9)])
def test_truncated_image_raises_naming_file(tmp_path, realdata, name, cut):
    data = (realdata / name).read_bytes()
    bad = tmp_path / ("cut_" + name.rsplit("/", 1)[-1])
    bad.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(DataError, match=bad.name):
        load_rgb(bad)


def test_image_decode_and_errors(tmp_path):
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[..., 0] = 200
    back = decode_rgb(encode_jpeg(rgb, 95), "x.jpg")
    assert back.shape == (8, 12, 3) and abs(int(back[..., 0].mean()) - 200) <= 2 and back[..., 2].max() < 10
    (tmp_path / "notimg.jpg").write_bytes(b"hello")
    with pytest.raises(DataError, match="notimg.jpg"):
        load_rgb(tmp_path / "notimg.jpg")
    with pytest.raises(DataError, match="missing.png"):
        load_rgb(tmp_path / "missing.png")


def test_unknown_dataset_lists_valid_names():
    assert set(DATASETS) == {"300w_lp", "aflw2000", "biwi", "eth_xgaze"}
    with pytest.raises(DataError, match="unknown dataset 'foo'.*300w_lp, aflw2000, biwi, eth_xgaze"):
        get_reader("foo")


# ----------------------------------------------------------------------------- BIWI

def test_biwi_frame_angles_and_calibration(realdata):
    (s,) = list(biwi.iter_samples(realdata))
    assert s.source_id == "01/frame_00003" and s.subject == "01" and s.split == "test" and s.box is None
    np.testing.assert_allclose(s.ypr, (3.291, 7.607, -1.567), atol=1e-3)
    np.testing.assert_allclose(s.extra["head_center_mm"], (51.9358, 38.2631, 881.756))
    cal = s.extra["rgb_cal"]
    np.testing.assert_allclose(cal["K"], [[517.679, 0, 320], [0, 517.679, 240.5], [0, 0, 1]])
    np.testing.assert_allclose(cal["R"][0], (0.999947, 0.00432361, 0.00929419))
    np.testing.assert_allclose(cal["t"], (-24.0198, 5.8896, -13.2308))
    assert cal["size"] == (640, 480) and np.array_equal(cal["dist"], np.zeros(4))
    assert s.load_image().shape == (480, 640, 3)


@pytest.mark.parametrize("layout", ["", "BIWI", "BIWI/hpdb", "kinect"])
def test_biwi_root_layouts(tmp_path, realdata, layout):
    if layout == "kinect":
        shutil.copytree(realdata / "BIWI" / "hpdb", tmp_path / "kinect_head_pose_db" / "hpdb")
        root = tmp_path
    else:
        root = realdata / layout if layout else realdata
    assert [s.source_id for s in biwi.iter_samples(root)] == ["01/frame_00003"]


def test_biwi_pose_file_with_two_lines(tmp_path, realdata):
    seq = tmp_path / "hpdb" / "01"
    shutil.copytree(realdata / "BIWI" / "hpdb" / "01", seq)
    pose = seq / "frame_00003_pose.txt"
    pose.chmod(0o644)
    pose.write_text("0.99 0.02 0.05\n-0.03 0.99 0.13\n")
    with pytest.raises(DataError, match=r"frame_00003_pose\.txt.*2 non-empty lines"):
        list(biwi.iter_samples(tmp_path))
    errors = []
    assert list(biwi.iter_samples(tmp_path, on_error=lambda *a: errors.append(a))) == []
    assert errors[0][1] == "bad_label" and errors[0][0].endswith("frame_00003_pose.txt")


def test_biwi_boxes_and_protocol3_split(tmp_path, realdata):
    csv_path = tmp_path / "boxes.csv"
    csv_path.write_text("file,x_min,y_min,x_max,y_max,type\n01/frame_00003_rgb.png,290.5,216,397.5,325,train\n")
    (s,) = list(biwi.iter_samples(realdata, boxes=load_boxes(csv_path)))
    np.testing.assert_allclose(s.box, (290.5, 216, 397.5, 325))
    assert s.split == "train" and s.extra["protocol3"] == "train"
    assert list(biwi.iter_samples(realdata, boxes=load_boxes(csv_path), split="test")) == []


def test_biwi_npz_bgr_to_rgb(tmp_path):
    img = np.zeros((2, 4, 4, 3), np.uint8)
    img[..., 0] = 7                                   # blue channel in BGR
    np.savez(tmp_path / "BIWI_noTrack.npz", image=img, pose=np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]]))
    samples = list(biwi.iter_npz(tmp_path / "BIWI_noTrack.npz"))
    assert [s.source_id for s in samples] == ["BIWI_noTrack/00000", "BIWI_noTrack/00001"]
    np.testing.assert_allclose(samples[1].ypr, (-4.0, 5.0, -6.0))
    assert samples[0].load_image()[..., 2].max() == 7 and samples[0].load_image()[..., 0].max() == 0
    np.savez(tmp_path / "bad.npz", image=img)
    with pytest.raises(DataError, match="bad.npz"):
        list(biwi.iter_npz(tmp_path / "bad.npz"))


# ----------------------------------------------------------------------------- box files

def test_kdoe_json_counts_and_types(realdata):
    aflw_boxes = load_boxes(realdata / "bboxes_kd_oe_hpe" / "AFLW2000.json")
    assert len(aflw_boxes) == 2000 and aflw_boxes.format == "kdoe_json" and not aflw_boxes.types
    np.testing.assert_allclose(aflw_boxes["image00002.jpg"][:2], (74.54021327197552, 107.72637370973825))
    bw = load_boxes(realdata / "bboxes_kd_oe_hpe" / "BIWI.json")
    assert len(bw) == 15677 and "01/frame_00003_rgb.png" not in bw and "01/frame_00004_rgb.png" in bw
    assert collections.Counter(bw.types.values()) == {"train": 10612, "test": 5065}
    assert {k[:2] for k, t in bw.types.items() if t == "test"} == BIWI_TEST_SEQUENCES
    assert all(b.shape == (4,) and b[2] > b[0] and b[3] > b[1] for b in bw.values())


def test_dockerface_folder(tmp_path):
    (tmp_path / "01").mkdir()
    (tmp_path / "01" / "dockerface-frame_00003_rgb.txt").write_text("1 290 216 397 325 0.99\n")
    (tmp_path / "01" / "dockerface-00004_rgb.txt").write_text("2 291 217 398 326 0.98\n")
    (tmp_path / "01" / "dockerface-frame_00005_rgb.txt").write_text("\n")      # no detection
    bf = load_boxes(tmp_path)
    assert bf.format == "dockerface" and sorted(bf) == ["01/frame_00003_rgb.png", "01/frame_00004_rgb.png"]
    np.testing.assert_allclose(bf["01/frame_00003_rgb.png"], (290, 216, 397, 325))


@pytest.mark.parametrize("content,match", [
    ('{"a.jpg": [{"box": [1, 2, 3, 4]}]}', "no bbox"),
    ('{"a.jpg": [{"bbox": [5, 2, 3, 4]}]}', "bad box"),
    ("name,x,y\na.jpg,1,2\n", "CSV header"),
    ("{not json", "not a readable JSON"),
])
def test_bad_box_file_one_line_error(tmp_path, content, match):
    path = tmp_path / "boxes.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as err:
        load_boxes(path)
    assert "boxes.txt" in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- ETH-XGaze

def _write_subject(path, n, seed):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:
        h5["face_patch"] = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
        h5["face_head_pose"] = rng.uniform(-0.5, 0.5, (n, 2))
        h5["face_gaze"] = rng.uniform(-0.5, 0.5, (n, 2))


@pytest.fixture()
def xgaze(tmp_path):
    base = tmp_path / "xgaze_224"
    (base / "train").mkdir(parents=True)
    (base / "test").mkdir()
    for i, sub in enumerate(("0000", "0108", "0111")):
        _write_subject(base / "train" / f"subject{sub}.h5", 3, i)
    _write_subject(base / "test" / "subject0001.h5", 2, 9)
    (base / eth_xgaze.SPLIT_FILE).write_text(json.dumps(
        {"train": ["subject0000.h5", "subject0108.h5", "subject0111.h5"], "test": ["subject0001.h5"],
         "test_person_specific": []}))
    return tmp_path


def test_eth_xgaze_splits_labels_and_bgr(xgaze):
    samples = list(eth_xgaze.iter_samples(xgaze))
    assert collections.Counter(s.split for s in samples) == {"train": 3, "val": 6, "test": 2}
    s = next(x for x in samples if x.subject == "subject0108")
    path = xgaze / "xgaze_224" / "train" / "subject0108.h5"
    with h5py.File(path, "r") as h5:
        pose, patch = h5["face_head_pose"][0], h5["face_patch"][0]
    np.testing.assert_allclose(s.ypr, (np.degrees(pose[1]), np.degrees(pose[0]), 0.0))
    assert s.has_roll is False and s.source_id == "subject0108/000000"
    np.testing.assert_array_equal(s.load_image(), patch[..., ::-1])
    keys = [(x.split, x.source_id) for x in samples]
    assert keys == sorted(keys)
    for x in samples:
        x.load_image()
    assert len(eth_xgaze._POOL._open) <= eth_xgaze._POOL.size


def test_eth_xgaze_subject_filter_and_no_json(xgaze):
    assert {s.subject for s in eth_xgaze.iter_samples(xgaze, subjects=(108, "subject0111"))} == \
        {"subject0108", "subject0111"}
    (xgaze / "xgaze_224" / eth_xgaze.SPLIT_FILE).unlink()
    assert len(list(eth_xgaze.iter_samples(xgaze / "xgaze_224", split="val"))) == 6
    with pytest.raises(DataError, match="subject"):
        eth_xgaze.subject_name("abc")
