"""Barlow Twins two-view augmentation (paper Sec. 4.3, SPEC section 5).

An image (H, W, 3) float32 RGB in [0, 255] is rotated by k*90 degrees (k ~ U{0..3}, shared by both views),
then each view gets: random resized crop and Gaussian noise (always), colour jitter (p=0.8), grey-scale
(p=0.3), one of Gaussian blur / down-up resize (p=0.2, chosen 50/50), and cutout (always). ``barlow_twins_puzzle``
(BT*) puts a random 3x3 puzzle (``data.ssl_tasks.random_puzzle``) just before cutout, to prevent shortcuts.
Jitter strengths follow the original (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1).
Stateless ops from an explicit ``seed`` (shape (2,) int): the same seed gives the same views, eagerly or in
``tf.data``.
"""
from __future__ import annotations

import math
from typing import Tuple

import tensorflow as tf

from hmtl_tf.data import augment
from hmtl_tf.data.ssl_tasks import random_puzzle

METHODS = ("barlow_twins", "barlow_twins_puzzle")
P_JITTER, P_GREY, P_BLUR_OR_RESIZE = 0.8, 0.3, 0.2
CROP_SCALE = (0.35, 1.0)        # fraction of the area kept by the random crop
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
NOISE_STD = (0.0, 0.05 * 255)   # std of the additive Gaussian noise, drawn per view
BLUR_SIGMA = (0.1, 2.0)         # at 224 px; scaled with the image size
RESIZE_FACTOR = (0.25, 0.75)    # resolution kept by the down-up resize (``augment.downscale``)
CUTOUT_SIDE = (0.1, 0.35)       # side of the square hole, fraction of the image side

_TAGS = dict(rot=1, crop=2, noise=3, jitter=4, grey=5, blur_or_resize=6, cutout=7, puzzle=8, view1=21, view2=22)


def _seed(seed, name: str):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), _TAGS[name])


def _uniform(seed, lo: float, hi: float, shape=()):
    return tf.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi)


def _coin(seed, p: float):
    return tf.random.stateless_uniform([], seed=seed) < p


def _size(image) -> Tuple[int, int]:
    h, w = image.shape[0], image.shape[1]
    if image.shape.rank != 3 or h is None or w is None:
        raise ValueError(f"bt_augment: expected one image (H, W, 3) with a static size, got shape {image.shape}")
    return int(h), int(w)


def random_rot90(image, seed):
    """k*90-degree rotation, k ~ U{0..3} (square images keep their shape)."""
    k = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=4, dtype=tf.int32)
    return tf.image.rot90(image, k)


def random_resized_crop(image, seed):
    """A box of area fraction ~ U(CROP_SCALE) and log-uniform aspect ratio, resized back to (H, W)."""
    h, w = _size(image)
    s1, s2, s3 = [tf.random.experimental.stateless_fold_in(seed, i) for i in range(3)]
    area = _uniform(s1, *CROP_SCALE)
    ratio = tf.exp(_uniform(s2, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
    bw = tf.minimum(tf.sqrt(area * ratio), 1.0)
    bh = tf.minimum(tf.sqrt(area / ratio), 1.0)
    off = _uniform(s3, 0.0, 1.0, [2]) * tf.stack([1.0 - bh, 1.0 - bw])
    box = tf.stack([off[0], off[1], off[0] + bh, off[1] + bw])[None]
    out = tf.image.crop_and_resize(image[None], box, [0], [h, w], method="bilinear")[0]
    return tf.ensure_shape(out, image.shape)


def gaussian_noise(image, seed):
    s1, s2 = tf.random.experimental.stateless_fold_in(seed, 0), tf.random.experimental.stateless_fold_in(seed, 1)
    std = _uniform(s1, *NOISE_STD)
    return image + std * tf.random.stateless_normal(tf.shape(image), seed=s2)


def color_jitter(image, seed, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1):
    """Multiplicative brightness, contrast, saturation, hue shift (on [0, 1] internally)."""
    s = [tf.random.experimental.stateless_fold_in(seed, i) for i in range(4)]
    x = tf.clip_by_value(image / 255.0, 0.0, 1.0)
    x = x * _uniform(s[0], 1.0 - brightness, 1.0 + brightness)
    x = tf.image.stateless_random_contrast(x, 1.0 - contrast, 1.0 + contrast, seed=s[1])
    x = tf.image.stateless_random_saturation(tf.clip_by_value(x, 0.0, 1.0), 1.0 - saturation, 1.0 + saturation,
                                             seed=s[2])
    x = tf.image.stateless_random_hue(tf.clip_by_value(x, 0.0, 1.0), hue, seed=s[3])
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def grayscale(image):
    return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))


def blur_or_resize(image, seed):
    """With p=0.2 one of blur / down-up resize (50/50), else unchanged."""
    h, _ = _size(image)
    s = [tf.random.experimental.stateless_fold_in(seed, i) for i in range(3)]
    u = tf.random.stateless_uniform([], seed=s[0])
    sigma = _uniform(s[1], *BLUR_SIGMA) * h / 224
    factor = _uniform(s[2], *RESIZE_FACTOR)
    radius = max(1, int(math.ceil(3 * BLUR_SIGMA[1] * h / 224)))
    return tf.cond(u < P_BLUR_OR_RESIZE / 2, lambda: augment.gaussian_blur(image, sigma, radius),
                   lambda: tf.cond(u < P_BLUR_OR_RESIZE, lambda: augment.downscale(image, factor), lambda: image))


def random_cutout(image, seed):
    """Always one black square hole, side ~ U(CUTOUT_SIDE) * image side, uniform centre (``augment.cutout``)."""
    h, w = _size(image)
    s1, s2 = tf.random.experimental.stateless_fold_in(seed, 0), tf.random.experimental.stateless_fold_in(seed, 1)
    side = _uniform(s1, *CUTOUT_SIDE) * min(h, w)
    centre = _uniform(s2, 0.0, 1.0, [2]) * tf.constant([w, h], tf.float32)
    return augment.cutout(image, centre, side)


def view(image, seed, puzzle: bool = False):
    """One distorted view of an (already rotated) image, the recipe of the module docstring."""
    x = random_resized_crop(tf.cast(image, tf.float32), _seed(seed, "crop"))
    x = gaussian_noise(x, _seed(seed, "noise"))
    x = tf.clip_by_value(x, 0.0, 255.0)
    x = tf.cond(_coin(_seed(seed, "jitter"), P_JITTER), lambda: color_jitter(x, _seed(seed, "jitter")), lambda: x)
    x = tf.cond(_coin(_seed(seed, "grey"), P_GREY), lambda: grayscale(x), lambda: x)
    x = blur_or_resize(x, _seed(seed, "blur_or_resize"))
    if puzzle:
        x, _ = random_puzzle(x, 3, _seed(seed, "puzzle"))
    x = random_cutout(x, _seed(seed, "cutout"))
    return tf.ensure_shape(tf.clip_by_value(x, 0.0, 255.0), image.shape)


def two_views(image, seed, method: str = "barlow_twins"):
    """(H, W, 3) -> (view1, view2) for ``method`` in METHODS; one shared random k*90 rotation first."""
    if method not in METHODS:
        raise ValueError(f"--method={method!r}: expected one of {', '.join(METHODS)}")
    h, w = _size(image)
    if h != w:
        raise ValueError(f"bt_augment: the k*90 rotation needs a square image, got {h}x{w}")
    seed = tf.cast(seed, tf.int64)
    x = random_rot90(tf.cast(image, tf.float32), _seed(seed, "rot"))
    x = tf.ensure_shape(x, image.shape)
    puzzle = method == "barlow_twins_puzzle"
    return view(x, _seed(seed, "view1"), puzzle), view(x, _seed(seed, "view2"), puzzle)
