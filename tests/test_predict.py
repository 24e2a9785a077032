"""predict: synthetic video -> annotated video (same frame count) + CSV equal to the API; images, box
files, unreadable inputs listed while the rest are processed; detectors."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import read_csv, read_video, write_video

N_FRAMES = 7


def rendered_frames(n=N_FRAMES, size=(96, 80)):
    """Synthetic heads turning (hmtl_tf.data.synthetic.render_head) or, if absent, drawn axes."""
    try:
        from hmtl_tf.data.synthetic import render_head, sample_head
    except ImportError:
        render_head = None
    frames = []
    params = sample_head(np.random.default_rng(0)) if render_head else None
    for i in range(n):
        ypr = (-40 + 80 * i / max(1, n - 1), 10.0, 5.0)
        if render_head:
            frames.append(render_head(params, ypr, size=size)[0])
        else:
            from hmtl_tf import viz
            frames.append(viz.draw_axis(np.full((size[1], size[0], 3), 90, np.uint8), *ypr))
    return frames


def test_video_frame_count_and_csv_match_api(run_dir, tmp_path):
    from hmtl_tf import HeadPoseEstimator
    from hmtl_tf.predict import predict

    video = tmp_path / "clip.mp4"
    write_video(video, rendered_frames())
    rows, failed = predict(run_dir, [str(video)], str(tmp_path / "out"), detector="none", batch_size=3,
                           progress=False, log=lambda *_: None)
    assert failed == []
    out_video = tmp_path / "out" / "clip_annotated.mp4"
    assert len(read_video(out_video)) == len(read_video(video)) == N_FRAMES
    table = read_csv(tmp_path / "out" / "predictions.csv")
    assert [int(r["frame"]) for r in table] == list(range(N_FRAMES))
    got = np.array([[float(r[a]) for a in ("yaw", "pitch", "roll")] for r in table])
    want = HeadPoseEstimator.load(run_dir).predict(read_video(video))       # the same frames, one batch
    np.testing.assert_allclose(got, want, atol=2e-3)
    meta = json.load(open(tmp_path / "out" / "predictions.json"))
    assert meta["outputs"][0]["frames"] == N_FRAMES and len(meta["faces"]) == N_FRAMES


def test_images_boxes_and_unreadable_inputs(run_dir, tmp_path):
    """A folder with two good images and a corrupt one, a missing path, and a box CSV with a box for one
    image only: failures listed, every good image annotated, one CSV row per face (boxes via the API)."""
    from hmtl_tf import HeadPoseEstimator
    from hmtl_tf.predict import predict

    folder = tmp_path / "imgs"
    folder.mkdir()
    frames = rendered_frames(2)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("file,x_min,y_min,x_max,y_max\nimgs/f0.png,10,8,60,70\n")
    rows, failed = predict(run_dir, [str(folder), str(tmp_path / "missing.jpg")], str(tmp_path / "out"),
                           boxes=str(boxes), progress=False, log=lambda *_: None)
    assert sorted(os.path.basename(p) for p, _ in failed) == ["broken.jpg", "missing.jpg"]
    assert all(e for _, e in failed)
    assert [(os.path.basename(r["input"]), r["face"]) for r in rows] == [("f0.png", 0)]
    want = HeadPoseEstimator.load(run_dir).predict(frames[0], boxes=(10, 8, 60, 70))
    np.testing.assert_allclose([[r[a] for a in ("yaw", "pitch", "roll")] for r in rows], want, atol=1e-3)
    assert sorted(os.listdir(tmp_path / "out" / "annotated")) == ["imgs__f0.png", "imgs__f1.png"]
    meta = json.load(open(tmp_path / "out" / "predictions.json"))
    assert {os.path.basename(f["input"]) for f in meta["failed"]} == {"broken.jpg", "missing.jpg"}


def test_cli_exit_codes(run_dir, tmp_path):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.full((40, 40, 3), 100, np.uint8))
    cmd = [sys.executable, "-m", "hmtl_tf.predict", f"--run={run_dir}", f"--out={tmp_path / 'o'}",
           "--detector=none", str(img), str(tmp_path / "nope.mp4")]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert res.returncode == 1, res.stderr
    assert "nope.mp4: no such file or folder" in res.stdout
    assert len(read_csv(tmp_path / "o" / "predictions.csv")) == 1
    bad = subprocess.run(cmd[:5] + ["--boxes=/nonexistent.json", str(img)], capture_output=True, text=True)
    assert bad.returncode == 2 and "error: --boxes: /nonexistent.json: box file not found" in bad.stderr


# ------------------------------------------------------------------------------------------ detectors
def test_box_file_lookup(tmp_path):
    from hmtl_tf.data.sample import DataError
    from hmtl_tf.detect import BoxFileDetector

    js = tmp_path / "b.json"
    js.write_text(json.dumps({"01/frame_00004_rgb.png": [{"bbox": [1.5, 2, 30, 40]}],
                              "image00002.jpg": [{"bbox": [5, 6, 7, 8]}]}))
    det = BoxFileDetector(str(js))
    assert det.detect(None, "/data/BIWI/hpdb/01/frame_00004_rgb.png") == [(1.5, 2.0, 30.0, 40.0, 1.0)]
    assert det.detect(None, "AFLW2000/image00002.jpg") == [(5.0, 6.0, 7.0, 8.0, 1.0)]
    assert det.detect(None, "02/frame_00004_rgb.png") == [] and det.detect(None, "other.jpg") == []
    bad = tmp_path / "bad.csv"
    bad.write_text("name,a,b\nx,1,2\n")
    with pytest.raises(DataError, match="--boxes: .*bad.csv: CSV header"):
        BoxFileDetector(str(bad))


def test_kdoe_published_boxes(realdata):
    """The published KD-OE AFLW2000.json (DATA_FACTS 4) loads and is keyed by the image names."""
    from hmtl_tf.detect import BoxFileDetector

    det = BoxFileDetector(str(realdata / "bboxes_kd_oe_hpe" / "AFLW2000.json"))
    assert len(det.boxes) == 2000
    x0, y0, x1, y1, _ = det.detect(None, str(realdata / "AFLW2000" / "image00050.jpg"))[0]
    assert 0 <= x0 < x1 <= 450 and 0 <= y0 < y1 <= 450


def test_haar_detector_or_clear_error():
    """OpenCV 5 ships no Haar cascade: the detector says so in one line."""
    from hmtl_tf.detect import DetectorUnavailable, OpenCVHaarDetector, WholeImageDetector, make_detector

    try:
        det = OpenCVHaarDetector()
    except DetectorUnavailable as exc:
        assert "--detector=haar" in str(exc) and "\n" not in str(exc)
        assert make_detector("none")[0] is not None
        return
    face = cv2.cvtColor(rendered_frames(1, size=(200, 200))[0], cv2.COLOR_RGB2BGR)
    boxes = det.detect(cv2.cvtColor(face, cv2.COLOR_BGR2RGB))
    assert all(len(b) == 5 and b[2] > b[0] for b in boxes)
