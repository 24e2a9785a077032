"""Drawing: HopeNet draw_axis endpoints (DATA_FACTS 2.8), annotate, contact sheet, PNG round trip."""
import cv2
import numpy as np
import pytest

from hmtl_tf import viz


def hopenet_tips(yaw, pitch, roll, tdx, tdy, size):
    """deep-head-pose utils.py:86-117, re-stated literally."""
    pitch = pitch * np.pi / 180
    yaw = -(yaw * np.pi / 180)
    roll = roll * np.pi / 180
    x1 = size * (np.cos(yaw) * np.cos(roll)) + tdx
    y1 = size * (np.cos(pitch) * np.sin(roll) + np.cos(roll) * np.sin(pitch) * np.sin(yaw)) + tdy
    x2 = size * (-np.cos(yaw) * np.sin(roll)) + tdx
    y2 = size * (np.cos(pitch) * np.cos(roll) - np.sin(pitch) * np.sin(yaw) * np.sin(roll)) + tdy
    x3 = size * (np.sin(yaw)) + tdx
    y3 = size * (-np.cos(yaw) * np.sin(pitch)) + tdy
    return [(x1, y1), (x2, y2), (x3, y3)]


@pytest.mark.parametrize("ypr", [(0, 0, 0), (30, 0, 0), (0, 25, 0), (0, 0, 40), (-70, 35, -20), (80, -60, 90)])
def test_axis_endpoints_match_hopenet(ypr):
    np.testing.assert_allclose(viz.axis_endpoints(*ypr, 50.0, 40.0, 30.0), hopenet_tips(*ypr, 50.0, 40.0, 30.0),
                               atol=1e-9)


def test_signs_of_the_convention():
    """+yaw: nose (Z) points image-left; +pitch: Z points up; +roll: X axis turns clockwise (down on screen)."""
    o = 100.0
    assert viz.axis_endpoints(30, 0, 0, o, o, 50)[2, 0] < o
    assert viz.axis_endpoints(0, 30, 0, o, o, 50)[2, 1] < o
    assert viz.axis_endpoints(0, 0, 30, o, o, 50)[0, 1] > o


def _colour_mask(img, rgb):
    return np.all(np.abs(img.astype(int) - np.array(rgb)) < 60, axis=-1)


def test_draw_axis_pixels_at_tips_and_input_untouched():
    img = np.zeros((64, 64, 3), np.uint8)
    out = viz.draw_axis(img, 20, -10, 15)
    assert img.sum() == 0 and out.shape == img.shape and out.dtype == np.uint8
    tips = viz.axis_endpoints(20, -10, 15, 32, 32, 32)
    for (x, y), colour in zip(tips, viz.AXIS_COLOURS):
        xi, yi = int(np.clip(x, 0, 63)), int(np.clip(y, 0, 63))
        mid = (int((x + 32) / 2), int((y + 32) / 2))    # the half-way point lies on the line
        assert _colour_mask(out, colour)[mid[1] - 1:mid[1] + 2, mid[0] - 1:mid[0] + 2].any()
        assert _colour_mask(out, colour)[max(0, yi - 2):yi + 3, max(0, xi - 2):xi + 3].any()


def test_annotate_one_and_many_faces():
    img = np.full((120, 160, 3), 40, np.uint8)
    one = viz.annotate(img, [10, 5, -3], [12, 4, 0], box=(20, 30, 80, 100, 0.9))
    assert one.shape == img.shape and not np.array_equal(one, img)
    assert _colour_mask(one, viz.AXIS_COLOURS[2]).any() and _colour_mask(one, viz.TRUE_COLOURS[2]).any()
    many = viz.annotate(img, np.array([[10, 5, -3], [0, 0, 0]]), box=[(0, 0, 60, 60), (80, 40, 150, 110)])
    assert _colour_mask(many[40:110, 80:150], viz.AXIS_COLOURS[0]).any()
    two_angle = viz.annotate(img, [10, 5])
    assert two_angle.shape == img.shape
    with pytest.raises(ValueError, match="2 predictions but 1 boxes"):
        viz.annotate(img, np.zeros((2, 3)), box=[(0, 0, 5, 5)])


def test_contact_sheet_grid_and_png_round_trip(tmp_path):
    imgs = [np.full((64, 64, 3), 20 * i, np.uint8) for i in range(5)]
    sheet = viz.contact_sheet(imgs, np.zeros((5, 3)), trues=np.ones((5, 3)), cols=3)
    assert sheet.shape == (128, 192, 3)
    path = viz.save_png(str(tmp_path / "a" / "sheet.png"), sheet)
    back = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, sheet)
    with pytest.raises(ValueError, match="5 images but 2 predictions"):
        viz.contact_sheet(imgs, np.zeros((2, 3)))


@pytest.mark.parametrize("box", [(150, 100, 200, 150), (0, 0, 40, 30), (170, 5, 199, 149), (-30, 120, 20, 170)])
def test_angle_text_stays_inside_the_image(box):
    """A face at an edge keeps its whole angle text (and its dark background) inside the image (issue 16)."""
    import cv2

    from hmtl_tf.viz import annotate, angle_text, text_layout

    w, h = 200, 150
    pred, true = (35.1, -12.4, 101.7), (-80.0, 20.0, 5.0)
    texts = [angle_text(pred), "gt " + angle_text(true)]
    scale = max(0.3, min(w, h) / 600.0)
    th = max(1, int(round(scale * 1.5)))
    for text, (x, y) in zip(texts, text_layout(texts, box[:2], (w, h), scale)):
        (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
        assert x - 1 >= 0 and y - tht - 2 >= 0 and x + tw + 1 <= w - 1 and y + base <= h - 1, (text, x, y)
    # On a white image the text background is the only black: as wide as the widest line.
    out = annotate(np.full((h, w, 3), 255, np.uint8), pred, true, box=box)
    ys, xs = np.nonzero(np.all(out == 0, axis=-1))
    widest = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, th)[0][0] for t in texts)
    assert xs.max() - xs.min() + 1 == widest + 3                     # not cut at the edge
