"""export: every format agrees with the Keras model within its stated tolerance (export.TOLERANCE) on
random inputs and on the real AFLW2000 sample crops; no overwrite without --overwrite; failed checks
write nothing."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import make_run_dir

FORMATS = [("keras", "fp32"), ("saved_model", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"),
           ("tflite", "int8"), ("onnx", "fp32")]


@pytest.fixture(scope="module")
def aflw_crops(request):
    """The 16 real AFLW2000 samples cut with HopeNet's test crop (+ central square), or none if absent."""
    from hmtl_tf.data.crops import make_crop_spec
    from hmtl_tf.export import load_images

    try:
        realdata = request.getfixturevalue("realdata")
    except pytest.skip.Exception:
        return []
    import scipy.io

    out = []
    for img, mat in zip(load_images(str(realdata / "AFLW2000")),
                        sorted((realdata / "AFLW2000").glob("*.mat"))):
        pt2d = scipy.io.loadmat(str(mat))["pt2d"].T
        x0, y0, x1, y1 = make_crop_spec("hopenet", "aflw2000", "test", pt2d=pt2d).box()
        pad = np.zeros((img.shape[0] + 400, img.shape[1] + 400, 3), np.uint8)   # PIL crop: outside black
        pad[200:200 + img.shape[0], 200:200 + img.shape[1]] = img
        out.append(pad[y0 + 200:y1 + 200, x0 + 200:x1 + 200])
    return out


@pytest.mark.parametrize("fmt, quant", FORMATS)
def test_export_parity(run_dir, aflw_crops, fmt, quant, tmp_path):
    from hmtl_tf import HeadPoseEstimator
    from hmtl_tf import export as E

    logs = []
    res = E.export(run_dir, fmt, quant, out=str(tmp_path), check_images=aflw_crops, log=logs.append)
    assert os.path.exists(res["path"]) and res["max_diff"] <= E.TOLERANCE[E.tolerance_key(fmt, quant)]
    assert res["n_checked"] == 8 + len(aflw_crops)
    assert "max |angle - keras|" in logs[0]
    # The exported file is usable through the API and gives the Keras model's angles on a real-sized image.
    ref, exported = HeadPoseEstimator.load(run_dir), HeadPoseEstimator.load(res["path"])
    img = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    np.testing.assert_allclose(exported.predict(img, (10, 20, 80, 100)), ref.predict(img, (10, 20, 80, 100)),
                               atol=res["tolerance"])


def test_no_overwrite_and_failed_check_writes_nothing(run_dir, tmp_path, monkeypatch):
    from hmtl_tf import export as E

    first = E.export(run_dir, "tflite", "fp32", out=str(tmp_path), log=lambda *_: None)
    stamp = os.path.getmtime(first["path"])
    with pytest.raises(E.ExportError, match="already exists; pass --overwrite"):
        E.export(run_dir, "tflite", "fp32", out=str(tmp_path), log=lambda *_: None)
    monkeypatch.setitem(E.TOLERANCE, "tflite_fp16", 0.0)   # fp16 weights always change the angles a bit
    with pytest.raises(E.ExportError, match="exceeds the tolerance 0 deg"):
        E.export(run_dir, "tflite", "fp16", out=str(tmp_path), log=lambda *_: None)
    assert sorted(os.listdir(tmp_path)) == ["inference_fp32.tflite"] and os.path.getmtime(first["path"]) == stamp


def test_out_of_space_is_one_line_and_rerun_matches(run_dir, tmp_path, monkeypatch):
    """Issue 14.7 (export): ENOSPC while the file is written -> one line naming the path, nothing left in --out;
    the re-run after "freeing space" writes the same file as an export that never failed."""
    import errno

    from hmtl_tf import export as E
    from hmtl_tf.rundir import DiskFullError

    real = E.write_tflite

    def full(model, path, quant):
        with open(path, "wb") as f:
            f.write(b"TFL3 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(E, "write_tflite", full)
    out = tmp_path / "out"
    with pytest.raises(DiskFullError) as e:
        E.export(run_dir, "tflite", "fp32", out=str(out), log=lambda *_: None)
    msg = str(e.value)
    assert "no space left on device writing" in msg and "inference_fp32.tflite" in msg and "\n" not in msg
    assert os.listdir(out) == []
    monkeypatch.setattr(E, "write_tflite", real)
    again = E.export(run_dir, "tflite", "fp32", out=str(out), log=lambda *_: None)
    ref = E.export(run_dir, "tflite", "fp32", out=str(tmp_path / "ref"), log=lambda *_: None)
    assert open(again["path"], "rb").read() == open(ref["path"], "rb").read()
    assert os.listdir(out) == ["inference_fp32.tflite"]


def test_cli(run_dir, tmp_path):
    cmd = [sys.executable, "-m", "hmtl_tf.export", f"--run={run_dir}", "--format=saved_model", f"--out={tmp_path}"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "saved_model: max |angle - keras|" in ok.stdout, ok.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = subprocess.run(cmd[:3] + ["--format=pdf"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "pdf" in bad.stderr


@pytest.mark.slow
def test_export_parity_resnet50_real_crops(aflw_crops, tmp_path):
    """The real 64-px ResNet50 inference model (random weights), every format, AFLW2000 crops."""
    from hmtl_tf import export as E

    run_dir, _ = make_run_dir(tmp_path / "r50", real=True)
    for fmt, quant in FORMATS:
        res = E.export(run_dir, fmt, quant, check_images=aflw_crops, log=print)
        assert res["max_diff"] <= res["tolerance"]
