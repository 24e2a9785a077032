"""Training augmentations (SPEC sections 5, 8; HMTL Sec. 4; KD-OE Sec. 4.3): pure TF functions, stateless seeds.

Images are float32 RGB in [0, 255] (H, W, 3). The set-ups name their image-only ops (``config.AUG_SETS``, chosen
by ``data.aug_set`` or the legacy ``aug_level`` / ``heavy_aug`` / ``hue_aug`` fields; ``config.aug_ops``):
HMTL level 1 = random central zoom + random contrast; level 2 = level 1 + blur, down-scaled resolution, cutout
(Sec. 4.2); Table 1 = random zoom + random hue (Sec. 4.1); Table 6 = zoom, Gaussian noise, cutout, hue,
brightness, contrast (Sec. 5.2); KD-OE = their Albumentations list (``kdoe_*``, ``median_blur``,
``coarse_dropout``; Sec. 4.3). The pipeline applies them in stages: the zoom in the crop box, the label-changing
flip / rotation, the non-occluding ops (:func:`apply_photometric`, in the set's order, each clipped to [0, 255]),
the SSL transform, then the occluding ops (:func:`apply_occluding`: cutout, coarse dropout), so an occluder is
never split across puzzle tiles (HMTL Sec. 4.3: the puzzle is applied "before performing cutout").
Horizontal flip changes the labels (DATA_FACTS 1.5): (yaw, pitch, roll) -> (-yaw, pitch, -roll), landmark
x -> W - x with the iBUG-68 left/right index permutation.
The HMTL paper gives no ranges; ours are in :class:`AugParams` (one place). KD-OE's ops take the defaults of the
Albumentations 1.x transforms they name (their text gives no parameters), re-stated in TF (see each function).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from hmtl_tf.config import AUG_OPS, OCCLUDING_AUG_OPS, legacy_aug_ops


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
    # KD-OE Sec. 4.3: the Albumentations 1.x defaults of the transforms they name (their probabilities: 0.5 each)
    kdoe_group_prob: float = 0.5                    # each OneOf group, and MedianBlur / CoarseDropout
    hsv_shift: Tuple[float, float, float] = (20.0, 30.0, 20.0)  # HueSaturationValue: hue (OpenCV units, 180 = 360
    #   degrees), saturation, value (grey levels), each U[-l, l]
    clahe_clip: Tuple[float, float] = (1.0, 4.0)   # CLAHE clip limit U[lo, hi]
    clahe_grid: int = 8                             # CLAHE tiles per side
    solarize_threshold: float = 128.0               # Solarize: v >= t -> 255 - v
    median_ksizes: Tuple[int, ...] = (3, 5, 7)      # MedianBlur(blur_limit=7): odd kernel sizes 3..7, uniform
    shadow_count: Tuple[int, int] = (1, 2)          # RandomShadow: number of polygons, inclusive
    shadow_vertices: int = 5                        # RandomShadow shadow_dimension
    shadow_roi: Tuple[float, float, float, float] = (0.0, 0.5, 1.0, 1.0)  # (x0, y0, x1, y1), fractions (lower half)
    iso_color_shift: Tuple[float, float] = (0.01, 0.05)  # ISONoise
    iso_intensity: Tuple[float, float] = (0.1, 0.5)
    coarse_holes: int = 8                           # CoarseDropout(max_holes=8, max_height=8, max_width=8): 8 holes
    coarse_side: float = 8.0 / 224.0                # of 8 px at their 224-px input (a fraction of the side here)


PARAMS = AugParams()

# Sub-seed tags (stateless fold_in constants), one per random draw.
_ZOOM, _CONTRAST, _BLUR, _DOWN, _CUT, _NOISE, _HUE, _BRIGHT, _FLIP = range(101, 110)
(_KCOLOUR, _HSV, _CLAHE, _KCHANNEL, _MEDIAN, _KSHADOW, _SHADOW, _ISO, _COARSE) = range(110, 119)


def _seed(seed, tag: int):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tag)


def _u(seed, tag: int, lo=0.0, hi=1.0, shape=()):
    return tf.random.stateless_uniform(shape, seed=_seed(seed, tag), minval=lo, maxval=hi)


def _maybe(seed, tag: int, prob: float, fn, image):
    """``fn(image)`` with probability ``prob`` (tf.cond: the op only runs when drawn)."""
    return tf.cond(_u(seed, tag + 1000) < prob, lambda: fn(image), lambda: image)


def _index(seed, tag: int, n: int):
    """A uniform integer in [0, n)."""
    return tf.minimum(tf.cast(tf.floor(_u(seed, tag + 2000) * n), tf.int32), n - 1)


def _one_of(seed, tag: int, prob: float, branches: Sequence[Callable], image):
    """Albumentations ``OneOf(branches, p=prob)``: with probability ``prob`` one of the zero-argument ``branches``,
    chosen uniformly, is applied (forced, as OneOf does); else the image is unchanged."""
    k = _index(seed, tag, len(branches))
    fns = [lambda f=f: tf.ensure_shape(f(), image.shape) for f in branches]
    return tf.cond(_u(seed, tag + 1000) < prob, lambda: tf.switch_case(k, fns), lambda: image)


def _clip(image):
    return tf.clip_by_value(image, 0.0, 255.0)


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


# ----------------------------------------------------------------------------- KD-OE (Albumentations, Sec. 4.3)
def rgb_to_hls(rgb):
    """RGB in [0, 1] (..., 3) -> (h in [0, 1), l, s), as ``colorsys`` / OpenCV's float HLS (hue / 360)."""
    h = tf.image.rgb_to_hsv(rgb)[..., 0]
    mx, mn = tf.reduce_max(rgb, -1), tf.reduce_min(rgb, -1)
    lum = (mx + mn) / 2.0
    sat = tf.math.divide_no_nan(mx - mn, 1.0 - tf.abs(2.0 * lum - 1.0))
    return h, lum, tf.clip_by_value(sat, 0.0, 1.0)


def hls_to_rgb(h, lum, sat):
    """Inverse of :func:`rgb_to_hls` (through HSV: V = L + C / 2, S_V = C / V with chroma C)."""
    c = (1.0 - tf.abs(2.0 * lum - 1.0)) * sat
    v = lum + c / 2.0
    return tf.image.hsv_to_rgb(tf.stack([h, tf.math.divide_no_nan(c, v), v], -1))


def shift_hsv(image, hue, sat, val):
    """HueSaturationValue: hue + ``hue`` (OpenCV units, 180 = a full turn, wrapped), saturation and value +
    ``sat`` / ``val`` grey levels (clipped)."""
    hsv = tf.image.rgb_to_hsv(_clip(image) / 255.0)
    h = tf.math.floormod(hsv[..., 0] + hue / 180.0, 1.0)
    s = tf.clip_by_value(hsv[..., 1] + sat / 255.0, 0.0, 1.0)
    v = tf.clip_by_value(hsv[..., 2] + val / 255.0, 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([h, s, v], -1)) * 255.0


def _levels(x):
    """Grey levels 0..255 (int32) of a [0, 255] float image, as the uint8 image Albumentations works on."""
    return tf.cast(tf.round(_clip(x)), tf.int32)


def clahe_channel(y, clip_limit, grid: int):
    """OpenCV CLAHE of one channel (H, W) in [0, 255]: per tile a 256-bin histogram clipped at
    max(clip * area / 256, 1) with the excess spread as OpenCV does, its CDF as the tile's map, bilinear between the
    maps of the 4 nearest tile centres (OpenCV's ``x / tile_w - 0.5``). Tiles are the ``grid`` x ``grid``
    partition of the image (OpenCV pads to a multiple of ``grid`` instead)."""
    h, w = tf.shape(y)[0], tf.shape(y)[1]
    v = _levels(y)
    rows = tf.minimum(tf.range(h) * grid // h, grid - 1)
    cols = tf.minimum(tf.range(w) * grid // w, grid - 1)
    n = grid * grid * 256
    idx = (rows[:, None] * grid + cols[None, :]) * 256 + v
    hist = tf.reshape(tf.math.bincount(tf.reshape(idx, [-1]), minlength=n, maxlength=n, dtype=tf.float32),
                      [grid * grid, 256])
    area = tf.reduce_sum(hist, 1, keepdims=True)
    limit = tf.maximum(tf.floor(tf.cast(clip_limit, tf.float32) * area / 256.0), 1.0)
    excess = tf.reduce_sum(tf.maximum(hist - limit, 0.0), 1, keepdims=True)
    batch = tf.floor(excess / 256.0)   # OpenCV: clipped / 256 to every bin, the residual to every step-th bin
    residual = excess - batch * 256.0
    step = tf.maximum(tf.floor(256.0 / tf.maximum(residual, 1.0)), 1.0)
    i = tf.range(256, dtype=tf.float32)[None, :]
    extra = tf.cast((tf.math.floormod(i, step) == 0) & (tf.floor(i / step) < residual), tf.float32)
    hist = tf.minimum(hist, limit) + batch + extra
    lut = tf.reshape(tf.round(_clip(tf.cumsum(hist, 1) * 255.0 / tf.maximum(area, 1.0))), [-1])

    def axis(size):
        f = tf.cast(tf.range(size), tf.float32) * float(grid) / tf.cast(size, tf.float32) - 0.5
        lo = tf.floor(f)
        a = f - lo
        lo = tf.cast(lo, tf.int32)
        return tf.clip_by_value(lo, 0, grid - 1), tf.clip_by_value(lo + 1, 0, grid - 1), a

    y1, y2, ay = axis(h)
    x1, x2, ax = axis(w)

    def g(ty, tx):
        return tf.gather(lut, (ty[:, None] * grid + tx[None, :]) * 256 + v)

    ay, ax = ay[:, None], ax[None, :]
    return (g(y1, x1) * (1 - ax) + g(y1, x2) * ax) * (1 - ay) + (g(y2, x1) * (1 - ax) + g(y2, x2) * ax) * ay


def clahe(image, clip_limit, grid: int = 8):
    """CLAHE of an RGB image on its luma (Albumentations: the L channel of LAB; here Y = 0.299 R + 0.587 G +
    0.114 B, replaced with chroma kept, i.e. every channel shifted by the change of Y)."""
    x = _clip(image)
    y = tf.tensordot(x, tf.constant([0.299, 0.587, 0.114]), 1)
    return _clip(x + (clahe_channel(y, clip_limit, grid) - y)[..., None])


def equalize(image):
    """Equalize (mode "cv", by channels): ``cv2.equalizeHist`` per channel (the CDF above its first occupied
    level, scaled to 0..255; a constant channel is unchanged)."""
    v = _levels(image)
    c = image.shape[-1] if image.shape[-1] is not None else 3
    idx = v + 256 * tf.range(c)
    hist = tf.reshape(tf.math.bincount(tf.reshape(idx, [-1]), minlength=256 * c, maxlength=256 * c,
                                       dtype=tf.float32), [c, 256])
    cdf = tf.cumsum(hist, 1)
    first = tf.reduce_min(tf.where(cdf > 0, cdf, tf.fill(tf.shape(cdf), float("inf"))), 1, keepdims=True)
    total = cdf[:, -1:]
    denom = total - first
    lut = tf.where(denom > 0, tf.round(_clip((cdf - first) * 255.0 / tf.maximum(denom, 1.0))),
                   tf.cast(tf.range(256), tf.float32)[None, :])
    return tf.gather(tf.reshape(lut, [-1]), idx)


def solarize(image, threshold: float = 128.0):
    """Solarize: levels >= ``threshold`` inverted (255 - v)."""
    x = _clip(image)
    return tf.where(x >= threshold, 255.0 - x, x)


def median_blur(image, ksize: int):
    """``cv2.medianBlur`` with an odd ``ksize`` (replicated border): the median of each k x k window."""
    r = ksize // 2
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    pad = tf.gather(tf.gather(image, tf.clip_by_value(tf.range(-r, h + r), 0, h - 1), axis=0),
                    tf.clip_by_value(tf.range(-r, w + r), 0, w - 1), axis=1)
    patches = tf.image.extract_patches(pad[None], [1, ksize, ksize, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")[0]
    c = image.shape[-1] if image.shape[-1] is not None else 3
    patches = tf.reshape(patches, tf.stack([h, w, ksize * ksize, c]))   # depth order (row, col, channel)
    return tf.sort(patches, axis=2)[:, :, (ksize * ksize) // 2, :]


def polygon_mask(hw, vertices):
    """(H, W) bool: pixels (index coordinates) inside the polygon ``vertices`` (V, 2) (x, y), even-odd rule."""
    ys = tf.cast(tf.range(hw[0]), tf.float32)[:, None, None]
    xs = tf.cast(tf.range(hw[1]), tf.float32)[None, :, None]
    xi, yi = vertices[:, 0], vertices[:, 1]
    xj, yj = tf.roll(xi, 1, 0), tf.roll(yi, 1, 0)
    straddles = (yi > ys) != (yj > ys)
    x_cross = xi + tf.math.divide_no_nan((xj - xi) * (ys - yi), yj - yi)
    crossings = tf.reduce_sum(tf.cast(straddles & (xs < x_cross), tf.int32), -1)
    return tf.equal(crossings % 2, 1)


def add_shadow(image, mask):
    """RandomShadow's ``add_shadow``: the HLS lightness halved where ``mask``."""
    h, lum, sat = rgb_to_hls(_clip(image) / 255.0)
    lum = tf.where(mask, lum * 0.5, lum)
    return hls_to_rgb(h, lum, sat) * 255.0


def random_shadow(image, seed, p: AugParams = PARAMS):
    """RandomShadow: 1-2 polygons of ``shadow_vertices`` random integer vertices in the ROI (lower half)."""
    hw = tf.shape(image)[:2]
    size = tf.cast(tf.stack([hw[1], hw[0], hw[1], hw[0]]), tf.float32)
    roi = tf.floor(tf.constant(p.shadow_roi, tf.float32) * size)      # x0, y0, x1, y1
    lo, span = tf.stack([roi[0], roi[1]]), tf.stack([roi[2] - roi[0], roi[3] - roi[1]])
    u = _u(seed, _SHADOW, shape=(p.shadow_count[1], p.shadow_vertices, 2))
    verts = lo + tf.minimum(tf.floor(u * span), tf.maximum(span - 1.0, 0.0))
    count = p.shadow_count[0] + _index(seed, _SHADOW, p.shadow_count[1] - p.shadow_count[0] + 1)
    mask = tf.zeros(hw, tf.bool)
    for k in range(p.shadow_count[1]):
        mask = mask | (polygon_mask(hw, verts[k]) & (k < count))
    return add_shadow(image, mask)


def iso_noise(image, seed, color_shift, intensity):
    """ISONoise: in HLS, hue + N(0, color_shift * 360 * intensity) degrees (wrapped), lightness + P / 255 *
    (1 - L) with P ~ Poisson(std(L) * intensity * 255) per pixel."""
    h, lum, sat = rgb_to_hls(_clip(image) / 255.0)
    lam = tf.math.reduce_std(lum) * intensity * 255.0
    lum_noise = tf.random.stateless_poisson(tf.shape(lum), _seed(seed, _ISO), lam, dtype=tf.float32)
    hue_noise = tf.random.stateless_normal(tf.shape(lum), _seed(seed, _ISO + 50)) * color_shift * intensity
    h = tf.math.floormod(h + hue_noise, 1.0)   # degrees / 360
    lum = tf.clip_by_value(lum + lum_noise / 255.0 * (1.0 - lum), 0.0, 1.0)
    return hls_to_rgb(h, lum, sat) * 255.0


def coarse_dropout(image, seed, holes: int, side_fraction: float):
    """CoarseDropout: ``holes`` black squares of side ``side_fraction`` x the shorter side (>= 1 px), each
    fully inside the image at a uniform integer position (Albumentations ``randint(0, H - side)``)."""
    hw = tf.shape(image)[:2]
    side = tf.maximum(tf.round(side_fraction * tf.cast(tf.reduce_min(hw), tf.float32)), 1.0)
    free = tf.cast(hw, tf.float32) - side + 1.0
    u = _u(seed, _COARSE, shape=(holes, 2))
    y0, x0 = tf.floor(u[:, 0] * free[0]), tf.floor(u[:, 1] * free[1])
    ys = tf.cast(tf.range(hw[0]), tf.float32)[None, :]
    xs = tf.cast(tf.range(hw[1]), tf.float32)[None, :]
    in_y = (ys >= y0[:, None]) & (ys < y0[:, None] + side)   # (holes, H)
    in_x = (xs >= x0[:, None]) & (xs < x0[:, None] + side)   # (holes, W)
    mask = tf.reduce_any(in_y[:, :, None] & in_x[:, None, :], 0)
    return tf.where(mask[..., None], tf.zeros_like(image), image)


def random_kdoe_colour(image, seed, p: AugParams = PARAMS):
    """OneOf(HueSaturationValue, CLAHE, Equalize, Solarize), p=0.5."""
    def hsv(im):
        d = [_u(seed, _HSV + 10 * i, -lim, lim) for i, lim in enumerate(p.hsv_shift)]
        return shift_hsv(im, *d)

    branches = [hsv, lambda im: clahe(im, _u(seed, _CLAHE, *p.clahe_clip), p.clahe_grid), equalize,
                lambda im: solarize(im, p.solarize_threshold)]
    return _one_of(seed, _KCOLOUR, p.kdoe_group_prob, [lambda f=f: f(image) for f in branches], image)


def random_kdoe_channel(image, seed, p: AugParams = PARAMS):
    """OneOf(ChannelShuffle, ChannelDropout(channel_drop_range=(1, 1), fill_value=0)), p=0.5."""
    c = image.shape[-1] if image.shape[-1] is not None else 3
    perm = tf.argsort(_u(seed, _KCHANNEL + 10, shape=(c,)))
    keep = tf.cast(tf.not_equal(tf.range(c), _index(seed, _KCHANNEL + 20, c)), image.dtype)
    return _one_of(seed, _KCHANNEL, p.kdoe_group_prob,
                   [lambda: tf.gather(image, perm, axis=-1), lambda: image * keep], image)


def random_median_blur(image, seed, p: AugParams = PARAMS):
    """MedianBlur(blur_limit=7), p=0.5: kernel 3, 5 or 7."""
    k = _index(seed, _MEDIAN + 10, len(p.median_ksizes))
    fns = [lambda s=s: tf.ensure_shape(median_blur(image, s), image.shape) for s in p.median_ksizes]
    return tf.cond(_u(seed, _MEDIAN + 1000) < p.kdoe_group_prob, lambda: tf.switch_case(k, fns), lambda: image)


def random_kdoe_shadow_noise(image, seed, p: AugParams = PARAMS):
    """OneOf(RandomShadow, ISONoise), p=0.5."""
    return _one_of(seed, _KSHADOW, p.kdoe_group_prob, [
        lambda: random_shadow(image, seed, p),
        lambda: iso_noise(image, seed, _u(seed, _ISO + 10, *p.iso_color_shift), _u(seed, _ISO + 20, *p.iso_intensity)),
    ], image)


def random_coarse_dropout(image, seed, p: AugParams = PARAMS):
    """CoarseDropout(max_holes=8, max_height=8, max_width=8, fill_value=0), p=0.5."""
    return _maybe(seed, _COARSE, p.kdoe_group_prob,
                  lambda im: coarse_dropout(im, seed, p.coarse_holes, p.coarse_side), image)


# ----------------------------------------------------------------------------- the sets
PHOTOMETRIC_OPS: Dict[str, Callable] = {
    "contrast": random_contrast, "blur": random_blur, "downscale": random_downscale, "noise": random_noise,
    "hue": random_hue, "brightness": random_brightness, "kdoe_colour": random_kdoe_colour,
    "kdoe_channel": random_kdoe_channel, "median_blur": random_median_blur,
    "kdoe_shadow_noise": random_kdoe_shadow_noise,
}
OCCLUDING_OPS: Dict[str, Callable] = {"cutout": random_cutout, "coarse_dropout": random_coarse_dropout}
GEOMETRIC_OPS = ("zoom",)   # folded into the crop box by the pipeline (``random_zoom`` on a finished image)
assert set(PHOTOMETRIC_OPS) | set(OCCLUDING_OPS) | set(GEOMETRIC_OPS) == set(AUG_OPS)
assert set(OCCLUDING_OPS) == set(OCCLUDING_AUG_OPS)


def _check(ops: Sequence[str]) -> None:
    unknown = [o for o in ops if o not in AUG_OPS]
    if unknown:
        raise ValueError(f"unknown augmentation op(s) {unknown}; expected some of {', '.join(AUG_OPS)}")


def apply_photometric(image, seed, ops: Sequence[str], p: AugParams = None):
    """The non-occluding image ops of ``ops`` in their order, each result clipped to [0, 255] (the zoom and the
    occluding ops are skipped: the crop / :func:`apply_occluding` apply them)."""
    _check(ops)
    p = PARAMS if p is None else p
    x = tf.cast(image, tf.float32)
    for name in ops:
        if name in PHOTOMETRIC_OPS:
            x = _clip(PHOTOMETRIC_OPS[name](x, seed, p))
    return x


def apply_occluding(image, seed, ops: Sequence[str], p: AugParams = None):
    """The occluding ops of ``ops`` (cutout, coarse dropout) in their order: after the SSL transform."""
    _check(ops)
    p = PARAMS if p is None else p
    x = tf.cast(image, tf.float32)
    for name in ops:
        if name in OCCLUDING_OPS:
            x = OCCLUDING_OPS[name](x, seed, p)
    return x


def image_ops(image, seed, ops: Sequence[str], p: AugParams = None):
    """Every image op of ``ops`` except the zoom: :func:`apply_photometric` then :func:`apply_occluding`."""
    return apply_occluding(apply_photometric(image, seed, ops, p), seed, ops, p)


def augment_ops(image, seed, ops: Sequence[str], p: AugParams = None):
    """Image-only augmentation of a finished crop: the central zoom (when in ``ops``) then :func:`image_ops`."""
    x = tf.cast(image, tf.float32)
    if "zoom" in ops:
        x = random_zoom(x, seed, PARAMS if p is None else p)
    return image_ops(x, seed, ops, p)


def augment(image, seed, level: int, heavy: bool = False, hue: bool = False, p: AugParams = PARAMS):
    """Legacy: image-only augmentation of the level flags (:func:`augment_ops`)."""
    return augment_ops(image, seed, legacy_aug_ops(level, heavy, hue), p)


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
