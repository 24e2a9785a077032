"""data_prep.prepare on tmp copies of the real sample files: counts, manifest, shards, resumability."""
import csv
import json
import math
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from hmtl_tf.data import convert as prepare
from hmtl_tf.data import records
from hmtl_tf.data.crops import CropSpec
from hmtl_tf.data.sample import DataError
from hmtl_tf.data.sources import aflw2000
from tests.data.test_sources import AFLW2000_REF, _write_subject
from tests.helpers import REPO

SHARD = 6


def _opts(root, out, **kw):
    kw.setdefault("shard_size", SHARD)
    return prepare.Options(dataset=kw.pop("dataset", "aflw2000"), root=str(root), out=str(out),
                           log=lambda m: None, **kw)


@pytest.fixture(scope="module")
def raw(realdata, tmp_path_factory):
    """The 16 real AFLW2000 pairs + one truncated JPEG, one yaw = 120 deg copy, one .mat without Pose_Para."""
    root = tmp_path_factory.mktemp("raw")
    folder = root / "AFLW2000"
    shutil.copytree(realdata / "AFLW2000", folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    src = folder / "image00050"
    data = src.with_suffix(".jpg").read_bytes()
    (folder / "image09997.jpg").write_bytes(data[: len(data) // 2])            # truncated
    shutil.copy(src.with_suffix(".mat"), folder / "image09997.mat")
    mat = {k: v for k, v in scipy.io.loadmat(src.with_suffix(".mat")).items() if not k.startswith("__")}
    shutil.copy(src.with_suffix(".jpg"), folder / "image09998.jpg")            # |yaw| > 99
    pose = mat["Pose_Para"].copy()
    pose[0, 1] = np.radians(120.0)
    scipy.io.savemat(folder / "image09998.mat", dict(mat, Pose_Para=pose))
    shutil.copy(src.with_suffix(".jpg"), folder / "image09999.jpg")            # no Pose_Para
    scipy.io.savemat(folder / "image09999.mat", {k: v for k, v in mat.items() if k != "Pose_Para"})
    return root


@pytest.fixture(scope="module")
def converted(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    summary = prepare.run(_opts(raw, out))
    return out / "aflw2000", summary


def _mtimes(folder):
    return {f: os.stat(os.path.join(folder, f)).st_mtime_ns for f in sorted(os.listdir(folder))}


def _bytes(folder):
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))
            if f.endswith(".tfrecord")}


def test_summary_counts_and_corrupt_files(converted):
    out, summary = converted
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["listed"] == 18 and summary["crop_policy"] == "hopenet"
    assert summary["splits"]["test"]["kept"] == 16
    assert summary["splits"]["test"]["skipped"] == {"corrupt_image": 1, "out_of_range": 1}
    assert summary["splits"]["test_full"]["kept"] == 17
    assert summary["splits"]["test_full"]["skipped"] == {"corrupt_image": 1}
    assert summary["skipped"] == {"bad_label": 1, "corrupt_image": 1, "out_of_range": 1}
    assert summary["corrupt_files"] == ["image09997.jpg", "image09999.mat"]
    assert "truncated" in summary["errors"]["image09997.jpg"] and "Pose_Para" in summary["errors"]["image09999.mat"]
    assert summary["splits"]["test"]["shards"] == [records.shard_name("test", j, 3) for j in range(3)]


def test_manifest_rows(converted):
    out, _ = converted
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert tuple(rows[0]) == prepare.MANIFEST_COLUMNS
    assert len(rows) == 2 * 18 + 1
    by = {(r["file"], r["split"]): r for r in rows}
    for name, (crop, ypr, _) in AFLW2000_REF.items():
        for split in ("test", "test_full"):
            r = by[(name + ".jpg", split)]
            assert r["kept"] == "1" and r["reason"] == ""
            assert tuple(int(r[c]) for c in ("x0", "y0", "x1", "y1")) == crop
            np.testing.assert_allclose([float(r[a]) for a in ("yaw", "pitch", "roll")], ypr, atol=1e-3)
    assert by[("image09998.jpg", "test")]["reason"] == "out_of_range"
    assert by[("image09998.jpg", "test_full")]["kept"] == "1"
    assert by[("image09997.jpg", "test")]["reason"] == "corrupt_image"
    assert by[("image09999.mat", "")]["reason"] == "bad_label"


def test_shards_parse_back(converted, raw):
    out, _ = converted
    ref = {s.source_id: s for s in aflw2000.iter_samples(raw, on_error=lambda *a: None)}
    files = records.shard_files(str(out), "test")
    eager = [records.parse_example(r) for r in tf.data.TFRecordDataset(files)]
    mapped = list(tf.data.TFRecordDataset(files).map(records.parse_example))
    assert [e["source/id"].numpy().decode() for e in eager] == sorted(AFLW2000_REF)
    for ex, ex_m in zip(eager, mapped):
        name = ex["source/id"].numpy().decode()
        np.testing.assert_array_equal(ex["pose/ypr"].numpy(), ex_m["pose/ypr"].numpy())
        np.testing.assert_allclose(ex["pose/ypr"].numpy(), ref[name].ypr, atol=1e-4)
        spec = CropSpec(ex["crop/policy"].numpy().decode(), tuple(ex["crop/base"].numpy()),
                        tuple(ex["crop/coef"].numpy()), tuple(ex["crop/k_range"].numpy()),
                        bool(ex["crop/square"].numpy()))
        assert spec.box() == AFLW2000_REF[name][0]
        x0, y0 = ex["image/origin"].numpy()
        ob = spec.outer_box()
        assert (x0, y0) == (max(0, ob[0]), max(0, ob[1]))
        img = tf.io.decode_jpeg(ex["image/encoded"]).numpy()
        assert img.shape == (min(450, ob[3]) - y0, min(450, ob[2]) - x0, 3)
        src = ref[name].load_image()[y0:y0 + img.shape[0], x0:x0 + img.shape[1]].astype(float)
        assert np.abs(img - src).mean() < 3.0                   # JPEG q95 of the stored region
        assert ex["split"].numpy() == b"test" and ex["landmarks/present"].numpy() == 1
        np.testing.assert_allclose(ex["landmarks/xy"].numpy(), ref[name].landmarks68, atol=1e-3)
    sidecar = json.loads(open(files[0] + ".ids.json").read())
    assert sidecar["ids"] == sorted(AFLW2000_REF)[:SHARD]


def test_rerun_writes_nothing_and_rewrites_only_a_deleted_shard(converted, raw):
    out, _ = converted
    before, content = _mtimes(out), _bytes(out)
    prepare.run(_opts(raw, out.parent))
    assert _mtimes(out) == before
    victim = records.shard_name("test_full", 1, 3)
    os.remove(out / victim)
    prepare.run(_opts(raw, out.parent))
    after = _mtimes(out)
    changed = {f for f in after if after[f] != before.get(f)}
    assert changed == {victim, victim + ".ids.json"}
    assert _bytes(out) == content


def test_identical_bytes_in_a_fresh_directory(converted, raw, tmp_path):
    out, _ = converted
    prepare.run(_opts(raw, tmp_path))
    assert _bytes(tmp_path / "aflw2000") == _bytes(out)
    for f in ("manifest.csv", "summary.json"):
        assert (tmp_path / "aflw2000" / f).read_bytes() == (out / f).read_bytes()


def test_other_configuration_needs_overwrite(raw, tmp_path):
    prepare.run(_opts(raw, tmp_path, limit=2))
    with pytest.raises(DataError, match=r"different configuration \(shard_size differ\).*--overwrite"):
        prepare.run(_opts(raw, tmp_path, limit=2, shard_size=1))
    summary = prepare.run(_opts(raw, tmp_path, limit=2, shard_size=1, overwrite=True))
    assert summary["splits"]["test"]["shards"] == [records.shard_name("test", j, 2) for j in range(2)]
    assert sorted(f for f in os.listdir(tmp_path / "aflw2000") if f.endswith(".tfrecord")) == sorted(
        [records.shard_name(s, j, 2) for s in ("test", "test_full") for j in range(2)])


def test_visible_policy_under_its_own_name(converted, raw, tmp_path):
    """``--crop_policy=visible --name=aflw2000_visible``: a second copy of the test set whose boxes ignore the
    (-1, 452) sentinels (so they are never larger than the reference boxes), found by its dataset name."""
    import pandas as pd

    from hmtl_tf.data.locate import resolve

    prepare.run(_opts(raw, tmp_path, crop_policy="visible", name="aflw2000_visible"))
    assert sorted(os.listdir(tmp_path)) == ["aflw2000_visible"]
    vis = pd.read_csv(tmp_path / "aflw2000_visible" / "manifest.csv").set_index("file")
    ref = pd.read_csv(converted[0] / "manifest.csv").set_index("file")
    kept = ref.index[ref["kept"] == 1]
    width = lambda m: (m.loc[kept, "x1"] - m.loc[kept, "x0"]).to_numpy()  # noqa: E731
    assert (width(vis) <= width(ref)).all() and (width(vis) < width(ref)).any()
    assert resolve("aflw2000_visible", str(tmp_path), training=False) == (str(tmp_path / "aflw2000_visible"), "test")


def test_300w_lp_train_split(realdata, tmp_path):
    summary = prepare.run(_opts(realdata, tmp_path, dataset="300w_lp", shard_size=2))
    assert summary["splits"]["train"]["kept"] == 3 and len(summary["notes"]) == 6
    assert summary["splits"]["train"]["subsets"] == {"AFW": 2, "IBUG": 1}  # the --w300lp_subsets counts
    ex = [records.parse_example(r) for r in tf.data.TFRecordDataset(records.shard_files(str(tmp_path / "300w_lp")))]
    assert [e["source/id"].numpy().decode() for e in ex] == ["AFW/AFW_1051618982_1_0", "AFW/AFW_56054945_1_0",
                                                             "IBUG/IBUG_image_008_1_0"]
    np.testing.assert_allclose(ex[0]["crop/k_range"].numpy(), (0.2, 0.4))


def test_biwi_boxes_splits_and_no_box(realdata, tmp_path):
    with pytest.raises(DataError, match="BIWI needs face boxes: --boxes="):
        prepare.run(_opts(realdata / "BIWI", tmp_path, dataset="biwi"))
    boxes = tmp_path / "b.csv"
    boxes.write_text("file,x_min,y_min,x_max,y_max,type\n01/frame_00003_rgb.png,290,216,397,325,test\n")
    summary = prepare.run(_opts(realdata / "BIWI", tmp_path / "a", dataset="biwi", boxes=str(boxes)))
    assert {s: v["kept"] for s, v in summary["splits"].items()} == {"test": 1, "p3_test": 1}
    (ex,) = [records.parse_example(r) for r in
             tf.data.TFRecordDataset(records.shard_files(str(tmp_path / "a" / "biwi"), "test"))]
    np.testing.assert_allclose(ex["pose/ypr"].numpy(), (3.291, 7.607, -1.567), atol=1e-3)
    np.testing.assert_allclose(ex["crop/k_range"].numpy(), (0.35, 0.35))
    seq = tmp_path / "raw" / "hpdb" / "01"
    shutil.copytree(realdata / "BIWI" / "hpdb" / "01", seq)
    shutil.copy(seq / "frame_00003_rgb.png", seq / "frame_00004_rgb.png")
    (seq / "frame_00004_pose.txt").write_text("0.99 0.02 0.05\n-0.03 0.99 0.13\n")   # two lines
    kd_oe = realdata / "bboxes_kd_oe_hpe" / "BIWI.json"   # has no box for frame 3: no sample matches (issue 14.6)
    with pytest.raises(DataError, match=r"--boxes=.*BIWI\.json: no biwi sample has a box there .*box keys e\.g\. "
                                        r"'\d\d/frame_\d+_rgb\.png'.*sample keys e\.g\. '01/frame_00003_rgb\.png'"):
        prepare.run(_opts(tmp_path / "raw", tmp_path / "b", dataset="biwi", boxes=str(kd_oe)))
    assert not (tmp_path / "b").exists()  # refused before the output folder is touched
    shutil.copy(seq / "frame_00003_rgb.png", seq / "frame_00005_rgb.png")
    shutil.copy(seq / "frame_00003_pose.txt", seq / "frame_00005_pose.txt")
    boxes5 = tmp_path / "b5.csv"
    boxes5.write_text("file,x_min,y_min,x_max,y_max,type\n01/frame_00005_rgb.png,290,216,397,325,test\n")
    summary = prepare.run(_opts(tmp_path / "raw", tmp_path / "b", dataset="biwi", boxes=str(boxes5)))
    assert summary["kept"] == 2 and summary["skipped"] == {"bad_label": 1, "no_box": 1}
    assert summary["corrupt_files"] == ["01/frame_00004_pose.txt"]
    assert "2 non-empty lines" in summary["errors"]["01/frame_00004_pose.txt"]


def test_eth_xgaze_splits_policy_none(tmp_path):
    base = tmp_path / "raw" / "xgaze_224"
    (base / "train").mkdir(parents=True)
    (base / "test").mkdir()
    _write_subject(base / "train" / "subject0000.h5", 3, 0)
    _write_subject(base / "train" / "subject0109.h5", 2, 1)
    _write_subject(base / "test" / "subject0001.h5", 1, 2)
    summary = prepare.run(_opts(tmp_path / "raw", tmp_path / "out", dataset="eth_xgaze"))
    assert summary["crop_policy"] == "none"
    assert {s: v["kept"] for s, v in summary["splits"].items()} == {"train": 3, "val": 2, "test": 1}
    (ex,) = [records.parse_example(r) for r in
             tf.data.TFRecordDataset(records.shard_files(str(tmp_path / "out" / "eth_xgaze"), "test"))]
    assert ex["pose/has_roll"].numpy() == 0 and tuple(ex["image/origin"].numpy()) == (0, 0)
    assert tf.io.decode_jpeg(ex["image/encoded"]).shape == (8, 8, 3)
    with h5py.File(base / "test" / "subject0001.h5", "r") as h5:
        pitch, yaw = h5["face_head_pose"][0]
    np.testing.assert_allclose(ex["pose/ypr"].numpy(), (math.degrees(yaw), math.degrees(pitch), 0), atol=1e-4)
    with pytest.raises(DataError, match="crop_policy=hopenet.*already face crops"):
        prepare.run(_opts(tmp_path / "raw", tmp_path / "out2", dataset="eth_xgaze", crop_policy="hopenet"))


def test_biwi_npz_policy_none(tmp_path):
    img = np.zeros((3, 16, 16, 3), np.uint8)
    np.savez(tmp_path / "BIWI_noTrack.npz", image=img, pose=np.array([[1, 2, 3], [120, 0, 0], [-4, 5, -6.0]]))
    summary = prepare.run(_opts(tmp_path / "BIWI_noTrack.npz", tmp_path / "out", dataset="biwi"))
    assert summary["crop_policy"] == "none" and summary["splits"]["test"]["kept"] == 2
    assert summary["skipped"] == {"out_of_range": 1}


def _cli(*args):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-m", "data_prep.prepare", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_unknown_dataset_and_skip_missing(tmp_path):
    res = _cli("--dataset=foo", f"--root={tmp_path}", f"--out={tmp_path / 'o'}")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert lines == ["error: unknown dataset 'foo': expected one of 300w_lp, aflw2000, biwi, eth_xgaze"]
    res = _cli("--dataset=biwi", f"--root={tmp_path}", f"--out={tmp_path / 'o'}", "--skip_missing")
    assert res.returncode == 0 and "not found" in res.stdout and not (tmp_path / "o").exists()
    res = _cli("--dataset=biwi", f"--root={tmp_path}", f"--out={tmp_path / 'o'}")
    assert res.returncode == 2 and "error: --root=" in res.stderr


# ----------------------------------------------------------------------------- 300W-LP subsets (issue 12 item 6)
W300LP_PAPER = ["AFW", "HELEN", "IBUG", "LFPW"]


@pytest.fixture(scope="module")
def synthetic_lp(tmp_path_factory):
    """A tiny synthetic 300W-LP (8 faces + their ``_Flip`` copies) prepared as ``make data`` does."""
    from hmtl_tf.data.synthetic import write_datasets

    root = tmp_path_factory.mktemp("lp")
    write_datasets(str(root / "raw"), seed=0, n_300wlp=8, n_aflw2000=0, biwi_sequences=0, xgaze_subjects=0,
                   progress=False)
    summary = prepare.prepare_dataset("300w_lp", str(root / "raw"), str(root / "shards"), progress=False,
                                      shard_size=5)
    return root / "shards", summary


def test_300w_lp_summary_counts_each_subset_folder(synthetic_lp):
    _, summary = synthetic_lp
    train = summary["splits"]["train"]
    subsets = train["subsets"]
    assert sum(subsets.values()) == train["kept"] == 16
    assert set(subsets) <= set(prepare.get_reader("300w_lp").SUBSETS)
    for name in W300LP_PAPER:  # the generator writes a mirror copy of every face
        assert subsets.get(name, 0) == subsets.get(f"{name}_Flip", 0)


def test_default_300w_lp_training_is_the_61225_protocol_and_recorded(synthetic_lp, tmp_path, monkeypatch, capsys):
    """HMTL Sec. 3.4 "300W-LP contains 61225 images": by default training reads the four original folders (half
    the shards here); ``--w300lp_subsets=all`` the eight (122,450 on the real set). steps/epoch follow the count,
    from summary.json's per-subset counts or counted, and the run's config.json records the choice."""
    from hmtl_tf import train as T
    from hmtl_tf.config import ConfigError, make_config
    from hmtl_tf.data import pipeline

    shards, summary = synthetic_lp
    lp = str(shards / "300w_lp")
    cfg = make_config("smoke", {"data.data_root": str(shards), "data.val": "", "batch_size": 4})
    assert list(cfg.data.w300lp_subsets) == W300LP_PAPER
    originals = sum(summary["splits"]["train"]["subsets"].get(n, 0) for n in W300LP_PAPER)
    assert originals == 8
    assert pipeline.train_record_count(lp, cfg, "train") == 8 and pipeline.steps_per_epoch(lp, cfg) == 2
    files = records.shard_files(lp, "train")  # the same count without summary.json (an explicit file list)
    tmp_files = []
    for f in files:
        shutil.copy(f, tmp_path / os.path.basename(f))
        tmp_files.append(str(tmp_path / os.path.basename(f)))
    assert pipeline.train_record_count(tmp_files, cfg, "train") == 8
    ds = pipeline.make_dataset(lp, cfg, training=True, with_ids=True).take(pipeline.steps_per_epoch(lp, cfg))
    ids = [i.decode() for _, t in ds for i in t["source_id"].numpy()]
    assert len(ids) == len(set(ids)) == 8 and not any("_Flip/" in i for i in ids)
    everything = make_config("smoke", {"data.w300lp_subsets": ("all",), "batch_size": 4})
    assert pipeline.train_record_count(lp, everything, "train") == 16 == pipeline.count_records(lp, "train")
    with pytest.raises(ConfigError, match="--w300lp_subsets"):
        make_config("smoke", {"data.w300lp_subsets": ("AFW", "Code")}).validate()

    class Stop(Exception):
        pass

    def stop(_cfg):
        raise Stop()
    monkeypatch.setattr("hmtl_tf.families.get_family", stop)
    cfg.run = str(tmp_path / "run")
    with pytest.raises(Stop):  # config.json is written and steps/epoch resolved before any model is built
        T.run(cfg, verbose=0)
    with open(tmp_path / "run" / "config.json") as f:
        assert json.load(f)["data"]["w300lp_subsets"] == W300LP_PAPER
    assert "steps/epoch=2 " in capsys.readouterr().out
