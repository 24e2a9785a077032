"""Issue 16, steady video: IoU track matching (two faces crossing, one disappearing), the One Euro filter against a
NumPy re-statement of Casiez et al. 2012 plus its properties, and a synthetic video through predict (track ids
stable, every frame kept, smoothing off = raw predictions, on = smaller frame-to-frame change)."""
import json

import numpy as np
import pytest

from hmtl_tf.tracking import IoUTracker, OneEuroFilter, OneEuroParams, iou_matrix, match_boxes


# --------------------------------------------------------------------------------------------- tracks
def test_iou_matrix_and_threshold():
    a = [(0, 0, 10, 10), (20, 20, 30, 30)]
    b = [(0, 0, 10, 10, 0.9), (5, 0, 15, 10), (100, 100, 110, 110)]
    m = iou_matrix(a, b)
    assert m.shape == (2, 3) and m[0, 0] == 1.0 and m[0, 1] == pytest.approx(50 / 150) and m[1].max() == 0
    assert iou_matrix([], b).shape == (0, 3)
    assert match_boxes(a, b) == [(0, 0)]
    assert match_boxes([(0, 0, 10, 10)], [(5, 0, 15, 10)], min_iou=0.3) == [(0, 0)]      # IoU 0.333
    assert match_boxes([(0, 0, 10, 10)], [(6, 0, 16, 10)], min_iou=0.3) == []            # IoU 0.25


def test_two_faces_crossing_keep_their_ids():
    """A moves right, B left, crossing with a vertical offset; boxes arrive in either order each frame."""
    tr = IoUTracker()
    first = None
    for f, x in enumerate(range(0, 101, 10)):
        a, b = (x, 0, x + 40, 40), (100 - x, 20, 140 - x, 60)
        if f % 2:
            ids_b, ids_a = tr.update([b, a], f)
        else:
            ids_a, ids_b = tr.update([a, b], f)
        first = first or (ids_a, ids_b)
        assert (ids_a, ids_b) == first == (0, 1)


def test_a_disappearing_face_ends_its_track():
    tr = IoUTracker(max_missed=2)
    a, b = (0, 0, 40, 40), (100, 0, 140, 40)
    assert tr.update([a, b], 0) == [0, 1]
    assert tr.update([a], 1) == [0] and tr.update([a], 2) == [0] and sorted(tr.live()) == [0, 1]
    assert tr.update([a, b], 3) == [0, 1]                                   # back after 2 missed frames: same id
    for f in range(4, 7):
        assert tr.update([a], f) == [0]
    assert sorted(tr.live()) == [0, 1]
    assert tr.update([a], 7) == [0] and tr.live() == [0]                    # a 3rd missed frame: ended
    assert tr.update([a, b], 8) == [0, 2]                                    # a new id, never reused
    assert tr.update([], 9) == [] and tr.update([(300, 300, 340, 340)], 10) == [3]


# ------------------------------------------------------------------------------------------ One Euro
def one_euro_reference(xs, ts, min_cutoff, beta, d_cutoff):
    """Casiez et al. 2012, Algorithm 1, written out on a 1-D signal."""
    def alpha(te, fc):
        return 1.0 / (1.0 + (1.0 / (2 * np.pi * fc)) / te)
    out = [float(xs[0])]
    dx_hat = 0.0
    for i in range(1, len(xs)):
        te = ts[i] - ts[i - 1]
        dx = (xs[i] - out[-1]) / te
        dx_hat = alpha(te, d_cutoff) * dx + (1 - alpha(te, d_cutoff)) * dx_hat
        fc = min_cutoff + beta * abs(dx_hat)
        out.append(alpha(te, fc) * xs[i] + (1 - alpha(te, fc)) * out[-1])
    return np.array(out)


def run_filter(xs, ts, params):
    f = OneEuroFilter(params)
    return np.array([f(x, t) for x, t in zip(xs, ts)])


@pytest.mark.parametrize("params", [OneEuroParams(1.0, 0.0, 1.0), OneEuroParams(0.5, 0.3, 2.0),
                                    OneEuroParams(3.0, 0.01, 1.0)])
def test_one_euro_matches_the_papers_equations(params):
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.02, 0.1, 60))                               # uneven frame times too
    xs = np.stack([np.cumsum(rng.normal(0, 3, 60)), rng.normal(10, 5, 60), np.full(60, -4.0)], 1)
    got = run_filter(xs, ts, params)
    for k in range(3):
        want = one_euro_reference(xs[:, k], ts, params.min_cutoff, params.beta, params.d_cutoff)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-10, atol=1e-10)


def test_one_euro_properties():
    ts = np.arange(40) / 25.0
    const = np.full((40, 3), 12.5)
    np.testing.assert_allclose(run_filter(const, ts, OneEuroParams()), const)           # constant stays constant
    step = np.where(np.arange(40) < 10, 0.0, 30.0)[:, None]
    slow = run_filter(step, ts, OneEuroParams(1.0, 0.0, 1.0))[:, 0]
    fast = run_filter(step, ts, OneEuroParams(1.0, 0.5, 1.0))[:, 0]
    assert np.all(slow[:10] == 0) and 0 < slow[10] < 30 and np.all(np.diff(slow[10:]) > 0)   # smoothed, monotone
    assert slow[-1] == pytest.approx(30, abs=1.0)
    assert np.all(fast[10:] >= slow[10:]) and fast[12] - slow[12] > 1.0                   # beta: less lag
    with pytest.raises(ValueError, match="min_cutoff=0"):
        OneEuroParams(0.0)


# ------------------------------------------------------------------------------------- through predict
def test_video_tracks_and_smoothing(tmp_path):
    """A static synthetic head with added noise and two empty frames: one track id, every frame in the annotated
    video, smoothing off = the API's raw predictions, on = smaller frame-to-frame change."""
    from hmtl_tf import HeadPoseEstimator
    from hmtl_tf.data.synthetic import render_head, sample_head
    from hmtl_tf.detect import CallableDetector, register_detector
    from hmtl_tf.predict import predict
    from tests.helpers import make_run_dir, read_csv, read_video, write_video

    run = make_run_dir(tmp_path / "r")[0]
    head = render_head(sample_head(np.random.default_rng(0)), (20.0, -10.0, 5.0), size=(96, 80))[0]
    rng = np.random.default_rng(1)
    frames = [np.clip(head + rng.normal(0, 25, head.shape), 0, 255).astype(np.uint8) for _ in range(14)]
    frames[5] = frames[6] = np.zeros_like(head)                       # no face in these two
    video = tmp_path / "still.mp4"
    write_video(video, frames, fps=10)
    box = (10.0, 5.0, 86.0, 78.0)
    register_detector("still_face", lambda: CallableDetector(
        lambda im: (([box], [0.99]) if im.mean() > 10 else (np.zeros((0, 4)), np.zeros(0)))))

    def run_predict(out, **kw):
        rows, failed = predict(run, [str(video)], str(tmp_path / out), detector="still_face", progress=False,
                               log=lambda *_: None, **kw)
        assert failed == []
        return rows

    raw = run_predict("raw")
    decoded = read_video(video)
    assert len(read_video(tmp_path / "raw" / "still_annotated.mp4")) == len(decoded) == 14   # every frame kept
    assert [r["frame"] for r in raw] == [i for i in range(14) if i not in (5, 6)]
    assert {r["track"] for r in raw} == {0}
    assert {r["track"] for r in read_csv(tmp_path / "raw" / "predictions.csv")} == {"0"}
    est = HeadPoseEstimator.load(run, detector="still_face")
    want = est.predict([decoded[r["frame"]] for r in raw], [box] * len(raw), calibrated=True)
    got = np.array([[r[a] for a in ("yaw", "pitch", "roll")] for r in raw])
    np.testing.assert_allclose(got, want, atol=1e-3)                  # off: the raw predictions
    smooth = run_predict("smooth", smooth=OneEuroParams(min_cutoff=0.5, beta=0.0))
    sm = np.array([[r[a] for a in ("yaw", "pitch", "roll")] for r in smooth])
    jitter = lambda a: np.abs(np.diff(a, axis=0)).mean()             # noqa: E731
    print("frame-to-frame change, raw / smoothed:", jitter(got), jitter(sm))
    assert jitter(got) > 0 and jitter(sm) < 0.7 * jitter(got)
    np.testing.assert_allclose(sm[0], got[0])                          # the first sample passes through
    meta = json.load(open(tmp_path / "smooth" / "predictions.json"))
    assert meta["smoothing"]["min_cutoff"] == 0.5 and meta["tracking"]["min_iou"] == 0.3
