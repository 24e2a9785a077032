"""``hmtl_tf.pretext_eval``: the SSL heads scored on held-out images, every one transformed (issue 13 item 2)."""
import numpy as np
import tensorflow as tf

from hmtl_tf.pretext_eval import pretext_accuracy_on, ssl_test_set

GRID, TILE = 3, 16
SIZE = GRID * TILE  # 48 px: the 3x3 grid divides it, so tiles move without any resampling


def tile_coded_images(n):
    """Images whose original tile j (row-major) is filled with the value 10 * (j + 1) (+ a tenth of the image index)."""
    out = np.zeros((n, SIZE, SIZE, 3), np.float32)
    for i in range(n):
        for j in range(GRID * GRID):
            r, c = divmod(j, GRID)
            out[i, r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = 10.0 * (j + 1) + 0.1 * i
    return out


class TileReader:
    """A stand-in network that solves the 3x3 puzzle exactly: it reads which original tile sits at each position
    from the tile's value; ``uniform=True`` returns equal logits instead (no information)."""

    def __init__(self, uniform=False):
        self.uniform = uniform
        self.output = {f"puzzle_{i}": tf.zeros((1, GRID * GRID)) for i in range(GRID * GRID)}

    def __call__(self, x, training=False):
        out = {}
        for i in range(GRID * GRID):
            r, c = divmod(i, GRID)
            value = x[:, r * TILE + TILE // 2, c * TILE + TILE // 2, 0]
            j = tf.cast(tf.floor(value / 10.0) - 1, tf.int32)  # the image index adds < 10 (n < 100)
            out[f"puzzle_{i}"] = (tf.zeros((tf.shape(x)[0], GRID * GRID)) if self.uniform
                                  else tf.one_hot(j, GRID * GRID) * 10.0)
        return out


def images_ds(n=20):
    return tf.data.Dataset.from_tensor_slices(tile_coded_images(n))


HEADS = [f"puzzle_{i}" for i in range(GRID * GRID)]


def test_every_image_is_puzzled_deterministically_and_the_labels_say_where_each_tile_went():
    a = [(x.numpy(), {k: v.numpy() for k, v in y.items()}) for x, y in ssl_test_set(images_ds(), "puzzle3x3")]
    b = [(x.numpy(), {k: v.numpy() for k, v in y.items()}) for x, y in ssl_test_set(images_ds(), "puzzle3x3")]
    np.testing.assert_array_equal(a[0][0], b[0][0])
    labels = np.stack([a[0][1][h] for h in HEADS], 1)  # (B, 9): original tile at each position
    assert (labels != np.arange(9)).any(axis=1).all()  # prob 1: no identity (1 in 9! by chance)
    originals = tile_coded_images(20)
    for i, perm in enumerate(labels):  # position p holds original tile perm[p]
        for p, j in enumerate(perm):
            r, c = divmod(p, GRID)
            rj, cj = divmod(j, GRID)
            np.testing.assert_array_equal(a[0][0][i, r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE],
                                          originals[i, rj * TILE:(rj + 1) * TILE, cj * TILE:(cj + 1) * TILE])


def test_a_perfect_head_scores_one_and_a_uniform_head_scores_chance():
    perfect = pretext_accuracy_on(TileReader(), images_ds(), "puzzle3x3", HEADS)
    assert perfect["n"] == 20 and perfect["ssl_acc"] == 1.0 and all(v == 1.0 for v in perfect["heads"].values())
    uniform = pretext_accuracy_on(TileReader(uniform=True), images_ds(), "puzzle3x3", HEADS)
    np.testing.assert_allclose(uniform["ssl_acc"], 1 / 9, rtol=1e-6)
    np.testing.assert_allclose(uniform["ssl_chance"], 1 / 9, rtol=1e-6)


def test_an_empty_set_gives_nothing():
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, SIZE, SIZE, 3), np.float32))
    assert pretext_accuracy_on(TileReader(), empty, "puzzle3x3", HEADS) == {}
