"""Issue 16, detector sensitivity: ``evaluate --crops`` on a tiny synthetic AFLW2000-layout set, with a
CallableDetector that knows the faces but misses two (one with no box, one with a box elsewhere), a calibration for
it beside the run, originals that are gone, an unknown detector name."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hmtl_tf import config as C

N = 6
MISS_EMPTY, MISS_FAR = 1, 4          # indices (sorted names) of the faces the detector misses
SHRINK = 0.7                         # the detector's box: the reference crop shrunk about its centre


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """(raw folder, shard dir) of N synthetic AFLW2000 images prepared with the visible policy."""
    from data_prep.prepare import prepare_dataset
    from hmtl_tf.data.synthetic import write_datasets

    raw = tmp_path_factory.mktemp("raw")
    write_datasets(str(raw), seed=3, n_300wlp=0, n_aflw2000=N, biwi_sequences=0, biwi_frames=0, xgaze_subjects=0,
                   xgaze_per_subject=0, progress=False)
    shards = tmp_path_factory.mktemp("shards")
    prepare_dataset("aflw2000", str(raw), str(shards), progress=False, crop_policy="visible", max_angle=0)
    return raw, shards / "aflw2000"


def _digest(img):
    return hashlib.md5(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def oracle(dataset):
    """A CallableDetector (image -> boxes, scores) that finds each face by its pixels, except two."""
    from hmtl_tf.detect import CallableDetector, register_detector
    from hmtl_tf.reference_crops import from_raw

    raw, _ = dataset
    refs = list(from_raw(str(raw / "AFLW2000"), "visible"))
    assert len(refs) == N
    boxes = {}
    for i, r in enumerate(refs):
        x0, y0, x1, y1 = r.ref_box
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * SHRINK, (y1 - y0) * SHRINK
        box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        if i == MISS_FAR:
            box = [0.0, 0.0, 8.0, 8.0]                              # a detection, but not of this face
        boxes[_digest(r.image)] = [] if i == MISS_EMPTY else [box]

    def fn(img):
        b = boxes.get(_digest(img), [])
        return np.reshape(np.asarray(b, np.float64), (-1, 4)), np.full(len(b), 0.95)
    register_detector("oracle", lambda: CallableDetector(fn), "test oracle")
    return [r.source_id for r in refs]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.helpers import make_run_dir

    return make_run_dir(tmp_path_factory.mktemp("run") / "r", crop_policy="visible")[0]


def row(result, crop):
    return next(r for r in result["rows"] if r["crop"] == crop)


def test_detector_table_with_misses_and_calibration(run, dataset, oracle):
    from hmtl_tf.crop_eval import evaluate_crops
    from hmtl_tf.detect.calibration import BoxMapping, run_calibration_path

    _, shards = dataset
    BoxMapping("oracle", "visible", (0.0, 0.0), (1 / SHRINK, 1 / SHRINK), "test: the inverse of the shrink", N) \
        .save(run_calibration_path(run, "oracle"))
    lines = []
    res = evaluate_crops(run, str(shards), "detector:oracle", log=lines.append)
    assert res["images"] == N and res["found"] == N - 2 and res["missed"] == 2
    assert res["miss_rate"] == pytest.approx(2 / N, abs=1e-4)
    assert sorted(res["missed_ids"]) == sorted([oracle[MISS_EMPTY], oracle[MISS_FAR]])
    crops = [r["crop"] for r in res["rows"]]
    assert crops == ["reference", "reference, faces the detector found", "oracle calibrated", "oracle raw"]
    ref_found, cal, raw = row(res, crops[1]), row(res, "oracle calibrated"), row(res, "oracle raw")
    assert cal["faces"] == raw["faces"] == ref_found["faces"] == N - 2 and cal["missed"] == raw["missed"] == 2
    assert cal["iou"] > 0.99 > raw["iou"]                               # the calibration undoes the shrink
    for a in ("yaw", "pitch", "roll", "mean"):                          # so its crops are the reference crops
        assert cal[a] == pytest.approx(ref_found[a], abs=0.05)
        assert raw[a] is not None and row(res, "reference")[a] is not None
    table = "\n".join(lines)
    assert "| oracle calibrated | 4 | 2 (33.3%) |" in table and "| oracle raw | 4 | 2 (33.3%) |" in table
    assert any(l.startswith("missed faces (2 of 6, 33.3%)") for l in lines)
    out = os.path.join(run, "crops_aflw2000_oracle.json")
    with open(out) as f:
        assert json.load(f)["calibration"]["mapping"]["scale"] == pytest.approx([1 / SHRINK] * 2)
    assert not [f for f in os.listdir(run) if ".tmp" in f]


def test_reference_only_and_no_calibration(run, dataset, oracle):
    """--crops=reference: one row (equal to the reference row of a detector evaluation); calibration=none: the
    calibrated row says why it is empty."""
    from hmtl_tf.crop_eval import evaluate_crops

    _, shards = dataset
    ref = evaluate_crops(run, str(shards), "reference", log=lambda *_: None)
    assert [r["crop"] for r in ref["rows"]] == ["reference"] and "missed" not in ref
    assert os.path.isfile(os.path.join(run, "crops_aflw2000_reference.json"))
    res = evaluate_crops(run, str(shards), "detector:oracle", calibration="none", log=lambda *_: None)
    assert row(res, "reference")["mean"] == pytest.approx(ref["rows"][0]["mean"])
    cal = row(res, "oracle calibrated")
    assert cal["faces"] == 0 and cal["mean"] is None and cal["note"] == "none (--calibration=none)"


def test_one_line_errors(run, dataset, oracle, tmp_path):
    from hmtl_tf.crop_eval import evaluate_crops
    from hmtl_tf.data.sample import DataError

    raw, shards = dataset
    with pytest.raises(C.ConfigError, match=r"^--crops=detector:nosuch: unknown detector 'nosuch'; expected one"):
        evaluate_crops(run, str(shards), "detector:nosuch")
    with pytest.raises(C.ConfigError, match=r"^--crops='boxes': expected reference, detector or detector:NAME"):
        evaluate_crops(run, str(shards), "boxes")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(C.ConfigError, match=r"^--calibration=.*bad.json: not a box calibration"):
        evaluate_crops(run, str(shards), "detector:oracle", calibration=str(bad))
    moved = shutil.copytree(shards, tmp_path / "aflw2000")            # shards whose raw folder is gone
    summary = json.loads((moved / "summary.json").read_text())
    summary["root"] = str(tmp_path / "gone")
    (moved / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match=r"need the full original images, but the raw aflw2000 folder .*gone.* is "
                                        r"not there") as exc:
        evaluate_crops(run, str(moved), "detector:none")
    assert "\n" not in str(exc.value)
    res = subprocess.run([sys.executable, "-m", "hmtl_tf.evaluate", f"--run={run}", f"--dataset={shards}",
                          "--crops=detector:nosuch"], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        res.stderr.strip().splitlines()[0]] and "--crops=detector:nosuch: unknown detector" in res.stderr
