"""KD-OE Eq. 5: offset set sizes (their Table 2) and shifted boxes on fixed examples."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.kdoe.offsets import offset_set, parse_ensemble, shifted_boxes_np, shifted_boxes_tf


@pytest.mark.parametrize("K,d,S", [(15, 5, 49), (8, 1, 289), (15, 15, 9), (9, 3, 49), (15, 1, 961), (0, 1, 1),
                                   (4, 5, 1)])
def test_offset_set_size_matches_table2(K, d, S):
    off = offset_set(K, d)
    assert off.shape == (S, 2)
    assert np.all(np.abs(off * d) <= K) and len({tuple(o) for o in off}) == S
    assert tuple(off[S // 2]) == (0, 0)


def test_offset_set_is_complete():
    off = {tuple(o) for o in offset_set(15, 5)}
    assert off == {(i, j) for i in range(-3, 4) for j in range(-3, 4)}


@pytest.mark.parametrize("bad", [(-1, 5), (15, 0), (1.5, 1)])
def test_offset_set_rejects_bad_parameters(bad):
    with pytest.raises(ValueError):
        offset_set(*bad)


def test_parse_ensemble():
    assert parse_ensemble("15,5") == (15, 5)
    with pytest.raises(ValueError, match="--ensemble"):
        parse_ensemble("15")


# box (x1, y1, x2, y2) = (100, 50, 212, 274) at input 224: s_x = 0.5, s_y = 1.0.
CASES = [((1, 0), 5, (102.5, 50, 214.5, 274)), ((0, -1), 5, (100, 45, 212, 269)),
         ((-3, 3), 5, (92.5, 65, 204.5, 289)), ((2, -2), 1, (101, 48, 213, 272))]


@pytest.mark.parametrize("ij,d,expected", CASES)
def test_shifted_boxes_equal_eq5(ij, d, expected):
    box = (100.0, 50.0, 212.0, 274.0)
    out = shifted_boxes_np(box, np.array([ij]), d, 224)
    np.testing.assert_allclose(out[0], expected)
    out_tf = shifted_boxes_tf(np.array([box]), np.array([ij]), d, 224)
    np.testing.assert_allclose(out_tf.numpy()[0, 0], expected, rtol=1e-6)


def test_shifted_boxes_non_square_input_and_batch():
    boxes = np.array([[0.0, 0.0, 64.0, 32.0], [10.0, 20.0, 42.0, 84.0]])
    off = offset_set(2, 1)
    ref = shifted_boxes_np(boxes, off, 1, (32, 64))  # (h, w): s_x = w_box / 64, s_y = h_box / 32
    assert ref.shape == (2, 25, 4)
    np.testing.assert_allclose(ref[0, -1], [2.0, 2.0, 66.0, 34.0])
    np.testing.assert_allclose(ref[1, 0], [9.0, 16.0, 41.0, 80.0])
    ds = tf.data.Dataset.from_tensors(boxes.astype(np.float32)).map(lambda b: shifted_boxes_tf(b, off, 1, (32, 64)))
    np.testing.assert_allclose(next(iter(ds)).numpy(), ref, rtol=1e-6)
