"""Training augmentations (SPEC section 5, paper Sec. 4): pure TF functions with explicit stateless seeds.

Images are float32 RGB in [0, 255] (H, W, 3), square in the pipeline. Levels (Tables 2-5): level 1 = random
central zoom + random contrast; level 2 = level 1 + blur, down-scaled resolution, cutout. ``heavy``
(Table 6, ETH-XGaze) = zoom, Gaussian noise, cutout, hue, brightness, contrast. ``hue`` (Table 1) adds a
random hue shift. Horizontal flip changes the labels (DATA_FACTS 1.5): (yaw, pitch, roll) ->
(-yaw, pitch, -roll), landmark x -> W - x with the iBUG-68 left/right index permutation.
The paper gives no ranges; ours are in :class:`AugParams` (one place), recorded by the run's config version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class AugParams:
    """Ranges and probabilities of every augmentation (the paper states none)."""

    zoom: Tuple[float, float] = (0.7, 1.25)        # central zoom factor z: keep the central 1/z of the crop
    #   (z < 1 zooms out, black outside, like keras RandomZoom with a symmetric factor: test protocols such as
    #   AFLW2000 with its sentinel-inflated boxes show the face much smaller than 300W-LP training crops)
    contrast: Tuple[float, float] = (0.7, 1.3)     # tf.image.adjust_contrast factor
    blur_prob: float = 0.3
    blur_sigma: Tuple[float, float] = (0.5, 1.5)   # Gaussian sigma, pixels of the model input
    blur_radius: int = 4                            # kernel 2*radius+1 (covers 3 sigma at sigma 1.33)
    downscale_prob: float = 0.3
    downscale: Tuple[float, float] = (0.35, 0.9)   # fraction of the resolution, then back up (bilinear)
    cutout_prob: float = 0.5
    cutout_size: Tuple[float, float] = (0.1, 0.4)  # side, fraction of the image side; filled with black
    noise_prob: float = 0.5
    noise_std: Tuple[float, float] = (0.0, 10.0)   # grey levels
    hue_delta: float = 0.05                         # tf.image.adjust_hue delta range [-d, d]
    brightness_delta: float = 25.0                  # grey levels, [-d, d]
    flip_prob: float = 0.5


PARAMS = AugParams()

# Sub-seed tags (stateless fold_in constants), one per random draw.
_ZOOM, _CONTRAST, _BLUR, _DOWN, _CUT, _NOISE, _HUE, _BRIGHT, _FLIP = range(101, 110)


def _seed(seed, tag: int):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tag)


def _u(seed, tag: int, lo=0.0, hi=1.0, shape=()):
    return tf.random.stateless_uniform(shape, seed=_seed(seed, tag), minval=lo, maxval=hi)


def _maybe(seed, tag: int, prob: float, fn, image):
    """``fn(image)`` with probability ``prob`` (tf.cond: the op only runs when drawn)."""
    return tf.cond(_u(seed, tag + 1000) < prob, lambda: fn(image), lambda: image)


# ----------------------------------------------------------------------------- geometric
def zoom_factor(seed, p: AugParams = PARAMS):
    """Random central zoom factor z ~ U[zoom) (z = 1: no zoom)."""
    return _u(seed, _ZOOM, p.zoom[0], p.zoom[1])


def zoom_box(box, factor):
    """Scales a box (x0, y0, x1, y1) about its centre by 1/``factor`` (factor > 1 zooms in, < 1 zooms out)."""
    box = tf.cast(box, tf.float32)
    c = (box[:2] + box[2:]) / 2.0
    half = (box[2:] - box[:2]) / (2.0 * tf.cast(factor, tf.float32))
    return tf.concat([c - half, c + half], axis=0)


def central_zoom(image, factor):
    """The central 1/factor of the image resized back to its size (bilinear; factor < 1 pads with black)."""
    h, w = image.shape[0], image.shape[1]
    f = tf.cast(factor, tf.float32)
    lo, hi = 0.5 - 0.5 / f, 0.5 + 0.5 / f
    out = tf.image.crop_and_resize(image[None], [[lo, lo, hi, hi]], [0], [h, w])[0]
    return tf.ensure_shape(out, image.shape)


def random_zoom(image, seed, p: AugParams = PARAMS):
    return central_zoom(image, zoom_factor(seed, p))


# ----------------------------------------------------------------------------- photometric
def random_contrast(image, seed, p: AugParams = PARAMS):
    return tf.image.adjust_contrast(image, _u(seed, _CONTRAST, *p.contrast))


def gaussian_blur(image, sigma, radius: int):
    """Separable Gaussian blur, reflect-padded (kernel 2*radius+1)."""
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * tf.square(x / tf.cast(sigma, tf.float32)))
    k = k / tf.reduce_sum(k)
    c = image.shape[-1]
    img = tf.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    kx = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, c, 1])
    ky = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, c, 1])
    img = tf.nn.depthwise_conv2d(img, kx, [1, 1, 1, 1], "VALID")
    img = tf.nn.depthwise_conv2d(img, ky, [1, 1, 1, 1], "VALID")
    return tf.ensure_shape(img[0], image.shape)


def random_blur(image, seed, p: AugParams = PARAMS):
    sigma = _u(seed, _BLUR, *p.blur_sigma)
    return _maybe(seed, _BLUR, p.blur_prob, lambda im: gaussian_blur(im, sigma, p.blur_radius), image)


def downscale(image, fraction):
    """Resolution reduced to ``fraction`` (area) and restored (bilinear): a low-resolution look."""
    size = tf.shape(image)[:2]
    small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * fraction), tf.int32), 1)
    low = tf.image.resize(image, small, method="area")
    return tf.ensure_shape(tf.image.resize(low, size, method="bilinear"), image.shape)


def random_downscale(image, seed, p: AugParams = PARAMS):
    f = _u(seed, _DOWN, *p.downscale)
    return _maybe(seed, _DOWN, p.downscale_prob, lambda im: downscale(im, f), image)


def cutout(image, centre, size):
    """Black square of side ``size`` px centred at ``centre`` (x, y) (may extend past the border)."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    ys = tf.cast(tf.range(h), tf.float32)[:, None] + 0.5
    xs = tf.cast(tf.range(w), tf.float32)[None, :] + 0.5
    half = tf.cast(size, tf.float32) / 2.0
    inside = (tf.abs(xs - centre[0]) < half) & (tf.abs(ys - centre[1]) < half)
    return tf.where(inside[..., None], tf.zeros_like(image), image)


def random_cutout(image, seed, p: AugParams = PARAMS):
    side = tf.cast(tf.shape(image)[:2], tf.float32)
    centre = _u(seed, _CUT, shape=(2,)) * side[::-1]
    size = _u(seed, _CUT + 50, *p.cutout_size) * tf.reduce_min(side)
    return _maybe(seed, _CUT, p.cutout_prob, lambda im: cutout(im, centre, size), image)


def random_noise(image, seed, p: AugParams = PARAMS):
    std = _u(seed, _NOISE, *p.noise_std)
    noise = tf.random.stateless_normal(tf.shape(image), seed=_seed(seed, _NOISE + 50)) * std
    return _maybe(seed, _NOISE, p.noise_prob, lambda im: im + noise, image)


def random_hue(image, seed, p: AugParams = PARAMS):
    delta = _u(seed, _HUE, -p.hue_delta, p.hue_delta)
    return tf.image.adjust_hue(tf.clip_by_value(image, 0.0, 255.0) / 255.0, delta) * 255.0


def random_brightness(image, seed, p: AugParams = PARAMS):
    return image + _u(seed, _BRIGHT, -p.brightness_delta, p.brightness_delta)


def photometric(image, seed, level: int, heavy: bool = False, hue: bool = False, p: AugParams = PARAMS):
    """Every non-geometric augmentation of the set-up (the zoom is applied by the crop, see pipeline)."""
    x = tf.cast(image, tf.float32)
    if level >= 1 or heavy:
        x = random_contrast(x, seed, p)
    if level >= 2:
        x = random_blur(x, seed, p)
        x = random_downscale(x, seed, p)
    if heavy:
        x = random_noise(x, seed, p)
        x = random_brightness(x, seed, p)
    if heavy or hue:
        x = random_hue(x, seed, p)
    x = tf.clip_by_value(x, 0.0, 255.0)
    if level >= 2 or heavy:
        x = random_cutout(x, seed, p)
    return x


def uses_zoom(level: int, heavy: bool) -> bool:
    return level >= 1 or heavy


def augment(image, seed, level: int, heavy: bool = False, hue: bool = False, p: AugParams = PARAMS):
    """Image-only augmentation: random central zoom (when the set-up has it) + :func:`photometric`."""
    x = tf.cast(image, tf.float32)
    if uses_zoom(level, heavy):
        x = random_zoom(x, seed, p)
    return photometric(x, seed, level, heavy, hue, p)


# ----------------------------------------------------------------------------- flip
def _ibug68_flip() -> np.ndarray:
    """Index permutation of the iBUG 68-point mark-up under a horizontal flip (an involution)."""
    pairs = [(i, 16 - i) for i in range(8)]                      # jaw 0-16 (8 centre)
    pairs += [(17 + i, 26 - i) for i in range(5)]                # eyebrows 17-21 <-> 26-22
    pairs += [(31, 35), (32, 34)]                                # nostrils (27-30, 33 on the axis)
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]   # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips (51, 57 on the axis)
    pairs += [(60, 64), (61, 63), (65, 67)]                      # inner lips (62, 66 on the axis)
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


IBUG68_FLIP = _ibug68_flip()


def flip(image, ypr, landmarks=None, visibility=None):
    """Horizontal flip: (yaw, pitch, roll) -> (-yaw, pitch, -roll); landmarks x -> W - x, re-indexed."""
    out_img = tf.reverse(image, axis=[1])
    out_ypr = tf.cast(ypr, tf.float32) * tf.constant([-1.0, 1.0, -1.0])
    out_lm, out_vis = landmarks, visibility
    if landmarks is not None:
        w = tf.cast(tf.shape(image)[1], tf.float32)
        lm = tf.gather(tf.cast(landmarks, tf.float32), IBUG68_FLIP)
        out_lm = tf.stack([w - lm[:, 0], lm[:, 1]], axis=1)
    if visibility is not None:
        out_vis = tf.gather(visibility, IBUG68_FLIP)
    return out_img, out_ypr, out_lm, out_vis


def random_flip(image, ypr, seed, landmarks=None, visibility=None, p: AugParams = PARAMS):
    """:func:`flip` with probability ``p.flip_prob``; returns (image, ypr, landmarks, visibility)."""
    do = _u(seed, _FLIP) < p.flip_prob
    args = (tf.cast(image, tf.float32), tf.cast(ypr, tf.float32),
            None if landmarks is None else tf.cast(landmarks, tf.float32), visibility)
    present = [i for i, a in enumerate(args) if a is not None]

    def flipped():
        out = flip(*args)
        return [out[i] for i in present]

    chosen = tf.cond(do, flipped, lambda: [args[i] for i in present])  # the image is only reversed if drawn
    out = [None] * 4
    for i, t in zip(present, chosen):
        out[i] = t
    return tuple(out)
