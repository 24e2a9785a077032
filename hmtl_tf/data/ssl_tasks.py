"""Self-supervised transforms: jigsaw puzzle and per-tile rotation (paper Sec. 3.1, SPEC section 4).

Pure, graph-safe TF functions on one image (H, W, C) or a batch (B, H, W, C); permutations / rotation
counts are per image ((n,) or (B, n)). Tiles are numbered row-major. Conventions (DATA_FACTS section 4, the
first author's public TF code): position ``i`` of the puzzled image holds original tile ``perm[i]`` and its
label is ``perm[i]``; rotation label ``k`` means the tile at position ``i`` was turned by
``tf.image.rot90(tile, k)``. When the grid does not divide the image (224 px, 3x3) the image is resized to
the next multiple (225, 75-px tiles), transformed, and resized back; divisible sizes are never resampled.
Randomness: stateless ops only, from an explicit ``seed`` (shape (2,) int).
"""
from __future__ import annotations

from typing import Dict, Tuple

import tensorflow as tf

from hmtl_tf.config import ssl_task
from hmtl_tf.ssl import registry


def __getattr__(name: str):
    """``TASKS``: the registered SSL task names (read from ``hmtl_tf.ssl.registry`` when asked)."""
    if name == "TASKS":
        return registry.task_names()
    raise AttributeError(f"module 'hmtl_tf.data.ssl_tasks' has no attribute {name!r}")

# Sub-seed tags (fold_in constants) so the draws of one image are independent of each other.
_TAG_PERM, _TAG_APPLY, _TAG_ROT, _TAG_WHICH = 11, 12, 13, 14


def _check(image, grid: int, task: str, square: bool = False) -> Tuple[int, int]:
    """Static (H, W) of ``image``; one-line ValueError for a grid of 1 or a grid larger than the image."""
    h, w = image.shape[-3], image.shape[-2]
    if h is None or w is None:
        raise ValueError(f"{task}: the image needs a static height and width, got shape {image.shape}")
    if grid < 2 or grid > min(h, w):
        raise ValueError(f"{task}: grid {grid}x{grid} on a {h}x{w} image; expected 2 <= grid <= {min(h, w)}")
    if square and h != w:
        raise ValueError(f"{task}: tile rotation needs a square image, got {h}x{w}")
    return int(h), int(w)


def _on_tiles(image, grid: int, fn):
    """Cuts ``image`` into grid x grid row-major tiles (B, n, th, tw, C), applies ``fn`` and reassembles.

    Resizes to the next multiple of ``grid`` first (and back afterwards) when the size is not divisible.
    """
    single = image.shape.rank == 3
    x = image[None] if single else image
    h, w = int(x.shape[1]), int(x.shape[2])
    hp, wp = -(-h // grid) * grid, -(-w // grid) * grid
    resized = (hp, wp) != (h, w)
    dtype = x.dtype
    if resized:
        x = tf.image.resize(tf.cast(x, tf.float32), (hp, wp), method="bilinear")
    c = x.shape[3]
    th, tw = hp // grid, wp // grid
    t = tf.reshape(x, [-1, grid, th, grid, tw, c])
    t = tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4, 5]), [-1, grid * grid, th, tw, c])
    t = fn(t)
    th, tw = int(t.shape[2]), int(t.shape[3])
    y = tf.reshape(t, [-1, grid, grid, th, tw, c])
    y = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [-1, grid * th, grid * tw, c])
    if resized:
        y = tf.cast(tf.image.resize(y, (h, w), method="bilinear"), dtype)
    return y[0] if single else y


def _per_image(values, image):
    """(n,) -> (1, n) for a single image; (B, n) unchanged."""
    values = tf.cast(values, tf.int32)
    return values[None] if image.shape.rank == 3 else values


def puzzle(image, grid: int, perm):
    """Position i receives original tile ``perm[i]`` (labels = ``perm``)."""
    image = tf.convert_to_tensor(image)
    _check(image, grid, f"puzzle{grid}x{grid}")
    p = _per_image(perm, image)
    return _on_tiles(image, grid, lambda t: tf.gather(t, p, axis=1, batch_dims=1))


def inverse_permutation(perm):
    """``inv[perm[i]] = i`` along the last axis."""
    return tf.argsort(tf.cast(perm, tf.int32), axis=-1, stable=True)


def unpuzzle(image, grid: int, labels):
    """Inverse of :func:`puzzle` given its labels (exact at sizes divisible by ``grid``)."""
    return puzzle(image, grid, inverse_permutation(labels))


def _rot_all(t):
    """(B, n, s, s, C) -> (B, n, 4, s, s, C): the four rot90 versions of every tile."""
    b, n, s, c = tf.shape(t)[0], t.shape[1], t.shape[2], t.shape[4]
    flat = tf.reshape(t, [-1, s, s, c])
    rots = tf.stack([tf.image.rot90(flat, k) for k in range(4)], axis=1)
    return tf.reshape(rots, [b, n, 4, s, s, c])


def rotate_tiles(image, grid: int, ks):
    """Tile i (row-major) turned by ``tf.image.rot90(tile, ks[i])``; square images only."""
    image = tf.convert_to_tensor(image)
    _check(image, grid, f"rotation{grid}x{grid}", square=True)
    k = tf.math.floormod(_per_image(ks, image), 4)
    return _on_tiles(image, grid, lambda t: tf.gather(_rot_all(t), k, axis=2, batch_dims=2))


def unrotate_tiles(image, grid: int, ks):
    """Inverse of :func:`rotate_tiles` (exact at sizes divisible by ``grid``)."""
    return rotate_tiles(image, grid, -tf.cast(ks, tf.int32))


def _seed(seed, tag: int):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tag)


def random_permutation(n: int, seed):
    """A uniformly random permutation of 0..n-1 (argsort of stateless uniforms)."""
    return tf.argsort(tf.random.stateless_uniform([n], seed=seed), stable=True)


def random_puzzle(image, grid: int, seed):
    """:func:`puzzle` with a random permutation; returns (image, labels (n,) int32)."""
    perm = random_permutation(grid * grid, _seed(seed, _TAG_PERM))
    return puzzle(image, grid, perm), perm


def random_rotations(n: int, seed, max_rotated: int = -1):
    """Per-tile k in 0..3; with ``max_rotated >= 0`` only that many randomly chosen tiles may be turned
    (each by k ~ U{0..3}, so "at most"), the others get 0 (paper Sec. 3.1, puzzle_rotation2x2)."""
    ks = tf.random.stateless_uniform([n], seed=_seed(seed, _TAG_ROT), minval=0, maxval=4, dtype=tf.int32)
    if max_rotated < 0 or max_rotated >= n:
        return ks
    chosen = random_permutation(n, _seed(seed, _TAG_WHICH))[:max_rotated]
    mask = tf.reduce_any(tf.equal(tf.range(n)[:, None], chosen[None, :]), axis=1)
    return tf.where(mask, ks, 0)


def _draw_permute(n: int, seed, apply, branch: registry.Branch, max_rotated_tiles: int):
    """Jigsaw labels: a random permutation (identity when not applied)."""
    return tf.where(apply, random_permutation(n, _seed(seed, _TAG_PERM)), tf.range(n, dtype=tf.int32))


def _draw_rotate(n: int, seed, apply, branch: registry.Branch, max_rotated_tiles: int):
    """Rotation labels: k in 0..3 per tile (at most ``max_rotated_tiles`` non-zero for a ``limited`` branch)."""
    ks = random_rotations(n, seed, max_rotated_tiles if branch.limited else -1)
    return tf.where(apply, ks, tf.zeros([n], tf.int32))


def _tiles_permute(t, labels):
    return tf.gather(t, labels[None], axis=1, batch_dims=1)


def _tiles_rotate(t, labels):
    return tf.gather(_rot_all(t), labels[None], axis=2, batch_dims=2)


# The tile ops an SSL task declares (``hmtl_tf.ssl.registry.TILE_OPS``): (draw labels, transform the tiles).
TILE_OP_FUNCTIONS = {"permute": (_draw_permute, _tiles_permute), "rotate": (_draw_rotate, _tiles_rotate)}


def apply_ssl_task(image, task: str, seed, prob: float = 1.0,
                   max_rotated_tiles: int = 2) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """One image -> (transformed image, targets) for the registered ``task`` (DESIGN "Data layer" keys).

    Each branch of the task draws its labels and applies its tile op, in the declared order: ``puzzle_i`` =
    original tile at position i; ``rotation_i`` = k of the tile at position i (puzzle first, then rotation in
    place). With probability ``1 - prob`` the identity permutation and no rotation are used (same resampling
    path, labels still emitted).
    """
    try:
        spec = ssl_task(task)
    except ValueError:
        raise ValueError(f"ssl task {task!r}: expected one of {', '.join(registry.task_names())}") from None
    image = tf.convert_to_tensor(image)
    grid, n = spec.grid, spec.n_tiles
    _check(image, grid, task, square=spec.square)
    apply = tf.random.stateless_uniform([], seed=_seed(seed, _TAG_APPLY)) < prob
    targets: Dict[str, tf.Tensor] = {}
    steps = []
    for branch in spec.branches:
        draw, on_tiles = TILE_OP_FUNCTIONS[branch.op]
        labels = draw(n, seed, apply, branch, max_rotated_tiles)
        for i in range(n):
            targets[f"{branch.name}_{i}"] = labels[i]
        steps.append((on_tiles, labels))

    def fn(t):
        for on_tiles, labels in steps:
            t = on_tiles(t, labels)
        return t

    return _on_tiles(image, grid, fn), targets
