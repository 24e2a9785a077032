"""SSL transforms (paper Sec. 3.1, SPEC 4): NumPy re-statements, inverses, labels, eager == Dataset.map."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf.data import ssl_tasks as st
from tests.helpers import run_in_map


def _image(size, seed=0):
    return tf.constant(np.random.RandomState(seed).randint(0, 256, (size, size, 3)).astype(np.float32))


def _np_tiles(x, g):
    t = x.shape[0] // g
    return [x[r * t:(r + 1) * t, c * t:(c + 1) * t] for r in range(g) for c in range(g)]


def _np_assemble(tiles, g):
    return np.concatenate([np.concatenate(tiles[r * g:(r + 1) * g], axis=1) for r in range(g)], axis=0)


@pytest.mark.parametrize("grid,size", [(2, 64), (3, 48), (2, 6)])
def test_puzzle_matches_numpy_and_unpuzzle_is_exact(grid, size):
    x = _image(size)
    y, labels = st.random_puzzle(x, grid, tf.constant([5, 7]))
    labels = labels.numpy()
    assert sorted(labels.tolist()) == list(range(grid * grid))  # a permutation
    tiles = _np_tiles(x.numpy(), grid)
    expected = _np_assemble([tiles[labels[i]] for i in range(grid * grid)], grid)  # position i <- tile perm[i]
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(st.unpuzzle(y, grid, labels).numpy(), x.numpy())


def test_puzzle_224_3x3_resamples_through_225():
    """224 with 3x3: resized to 225 (75-px tiles), shuffled, resized back. Exact: the 225-px tile step
    (puzzle at 224 == resize(puzzle_225(resize(x, 225)), 224)); the 224 round trip is exact up to resampling."""
    x = tf.image.resize(_image(28)[None], (224, 224))[0]  # smooth content
    perm = tf.constant([4, 0, 8, 2, 6, 1, 3, 7, 5])
    y = st.puzzle(x, 3, perm)
    assert y.shape == (224, 224, 3)
    up = tf.image.resize(x[None], (225, 225))[0]
    p225 = st.puzzle(up, 3, perm)
    np.testing.assert_allclose(y.numpy(), tf.image.resize(p225[None], (224, 224))[0].numpy(), atol=1e-3)
    np.testing.assert_array_equal(st.unpuzzle(p225, 3, perm).numpy(), up.numpy())
    back = st.unpuzzle(y, 3, perm).numpy()
    identity = st.puzzle(x, 3, tf.range(9)).numpy()  # same two resamplings, no shuffle
    assert np.abs(back - identity).mean() < 6.0
    assert np.abs(back - x.numpy()).mean() < 0.5 * np.abs(y.numpy() - x.numpy()).mean()


@pytest.mark.parametrize("grid,size", [(2, 64), (3, 48)])
def test_rotate_tiles_matches_numpy_and_inverts(grid, size):
    x = _image(size, 1)
    ks = np.arange(grid * grid) % 4
    y = st.rotate_tiles(x, grid, ks).numpy()
    expected = _np_assemble([np.rot90(t, k) for t, k in zip(_np_tiles(x.numpy(), grid), ks)], grid)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(st.unrotate_tiles(y, grid, ks).numpy(), x.numpy())


def test_batched_ops_equal_per_image():
    xs = tf.stack([_image(32, s) for s in range(3)])
    perms = tf.constant([[1, 0, 3, 2], [3, 2, 1, 0], [0, 1, 2, 3]])
    ks = tf.constant([[1, 2, 3, 0], [0, 0, 1, 1], [2, 2, 2, 2]])
    yb, rb = st.puzzle(xs, 2, perms), st.rotate_tiles(xs, 2, ks)
    for i in range(3):
        np.testing.assert_array_equal(yb[i].numpy(), st.puzzle(xs[i], 2, perms[i]).numpy())
        np.testing.assert_array_equal(rb[i].numpy(), st.rotate_tiles(xs[i], 2, ks[i]).numpy())


def _undo(image, task, targets):
    grid = 3 if task == "puzzle3x3" else 2
    n = grid * grid
    if "rotation" in task:
        image = st.unrotate_tiles(image, grid, [int(targets[f"rotation_{i}"]) for i in range(n)])
    if task.startswith("puzzle"):
        image = st.unpuzzle(image, grid, [int(targets[f"puzzle_{i}"]) for i in range(n)])
    return image


@pytest.mark.parametrize("task", st.TASKS)
def test_apply_ssl_task_labels_undo_the_transform(task):
    x = _image(48, 2)
    n = 9 if task == "puzzle3x3" else 4
    for s in range(6):
        y, t = st.apply_ssl_task(x, task, tf.constant([s, 3]))
        keys = ([f"puzzle_{i}" for i in range(n)] if task.startswith("puzzle") else []) + \
               ([f"rotation_{i}" for i in range(n)] if "rotation" in task else [])
        assert sorted(t) == sorted(keys)
        assert all(v.dtype == tf.int32 and v.shape == () for v in t.values())
        if task.startswith("puzzle"):
            assert sorted(int(t[f"puzzle_{i}"]) for i in range(n)) == list(range(n))
        np.testing.assert_array_equal(_undo(y, task, t).numpy(), x.numpy())


def test_puzzle_rotation_rotates_at_most_two_tiles():
    x = _image(16)
    counts = []
    for s in range(40):
        _, t = st.apply_ssl_task(x, "puzzle_rotation2x2", tf.constant([s, 0]), max_rotated_tiles=2)
        rot = [int(t[f"rotation_{i}"]) for i in range(4)]
        assert all(0 <= r <= 3 for r in rot)
        counts.append(sum(r != 0 for r in rot))
    assert max(counts) == 2 and min(counts) <= 1
    _, t = st.apply_ssl_task(x, "rotation2x2", tf.constant([1, 1]))
    assert all(0 <= int(v) <= 3 for v in t.values())


@pytest.mark.parametrize("task", st.TASKS)
def test_prob_zero_is_identity_with_labels(task):
    x = _image(48, 4)  # divisible by 2 and 3: no resampling
    y, t = st.apply_ssl_task(x, task, tf.constant([9, 9]), prob=0.0)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    for k, v in t.items():
        assert int(v) == (int(k.split("_")[1]) if k.startswith("puzzle") else 0)


OPS = {
    "puzzle": lambda x: st.puzzle(x, 2, [2, 0, 3, 1]),
    "random_puzzle3x3": lambda x: st.random_puzzle(x, 3, tf.constant([1, 2])),
    "rotate_tiles": lambda x: st.rotate_tiles(x, 2, [1, 2, 3, 0]),
    **{task: (lambda task: lambda x: st.apply_ssl_task(x, task, tf.constant([4, 2]), prob=0.7))(task)
       for task in st.TASKS},
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_eager_equals_dataset_map(name):
    x = _image(30, 5)
    eager = OPS[name](x)
    mapped = run_in_map(OPS[name], x)
    tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), eager, mapped)


@pytest.mark.parametrize("fn,grid,size", [
    (lambda x, g: st.puzzle(x, g, tf.range(g * g)), 1, 64),
    (lambda x, g: st.random_puzzle(x, g, tf.constant([0, 0])), 65, 64),
    (lambda x, g: st.rotate_tiles(x, g, tf.zeros([g * g], tf.int32)), 70, 64),
])
def test_bad_grid_is_a_one_line_value_error(fn, grid, size):
    with pytest.raises(ValueError) as err:
        fn(_image(size), grid)
    msg = str(err.value)
    assert "\n" not in msg and f"{grid}x{grid}" in msg and f"{size}x{size}" in msg


def test_rotation_needs_square_and_known_task():
    with pytest.raises(ValueError, match="square"):
        st.apply_ssl_task(tf.zeros([32, 48, 3]), "rotation2x2", tf.constant([0, 0]))
    with pytest.raises(ValueError, match="puzzle4x4"):
        st.apply_ssl_task(tf.zeros([32, 32, 3]), "puzzle4x4", tf.constant([0, 0]))
