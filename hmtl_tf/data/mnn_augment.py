"""MNN's augmentation set (Valle et al. Sec. 4.2), used by the MNN rows only (``cfg.mnn.augment``).

Their text: "in plane rotation between +-45 degrees, scaling by +-15%, translation by +-5% of the bounding box
size, mirroring face image horizontally and colour change multiplying each HSV channel by a random value between
[0.5, 1.5]. Additionally, we include synthetic rectangular occlusions to enforce the encoder-decoder to learn
visibility." Here, as pure TF functions with explicit stateless seeds (graph-safe inside ``Dataset.map``):

- scaling and translation (:func:`crop_jitter`): folded into the crop box like the pipeline's zoom, so the
  landmark targets follow the image exactly (``pipeline.landmarks_to_input``) and new borders show source
  pixels where the stored region has them. Face size x U[1 - scale, 1 + scale]; the face moves by
  U[-t, t] x S input pixels per axis (t = 0.05 of the crop box, which is S input pixels).
- mirroring: the pipeline's ``data.flip`` (labels and landmark indices changed).
- HSV (:func:`scale_hsv`): each of H, S, V multiplied by its own U[lo, hi]; H wraps around (it is an angle),
  S and V are clipped to [0, 1].
- rectangular occlusions (:func:`occlude`): with ``occlusion_prob``, one axis-aligned rectangle on whole input
  pixels, sides U[size) x S, centre uniform over the image, filled with one random RGB colour; the landmarks on
  covered pixels get visibility 0 (they stay annotated: their heatmap term is kept, as COFW's occluded points).
- in-plane rotation: not implemented (a stated deviation of ``experiments/mnn.py``).

Images are float32 RGB [0, 255] (S, S, 3); landmarks (68, 2) input pixels (pixel j spans [j, j + 1)).
"""
from __future__ import annotations

import tensorflow as tf

# Sub-seed tags folded into the pipeline's per-element augmentation seed (hmtl_tf.data.augment uses 101..109
# and their +50 / +1000 companions).
_SCALE, _SHIFT, _HSV, _OCC_ON, _OCC_SIZE, _OCC_CENTRE, _OCC_COLOUR = range(301, 308)


def _seed(seed, tag: int):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), tag)


def _u(seed, tag: int, lo=0.0, hi=1.0, shape=()):
    return tf.random.stateless_uniform(shape, seed=_seed(seed, tag), minval=lo, maxval=hi)


# ----------------------------------------------------------------------------- geometry (crop box)
def scale_factor(seed, fraction: float):
    """Face-size factor z ~ U[1 - fraction, 1 + fraction] (a crop-box zoom: z > 1 shows the face larger)."""
    return _u(seed, _SCALE, 1.0 - fraction, 1.0 + fraction)


def translation(seed, image_size: int, fraction: float):
    """(tx, ty) float32: how far the face moves in the input, U[-fraction, fraction] x S pixels per axis."""
    return _u(seed, _SHIFT, -fraction, fraction, shape=(2,)) * float(image_size)


def crop_jitter(seed, image_size: int, mcfg, zoom=1.0):
    """(zoom, shift) for ``pipeline.crop_box``: ``zoom`` times the scale factor, and the crop shift (input
    pixels) that moves the face by :func:`translation` (the box moves the other way)."""
    z = tf.cast(zoom, tf.float32) * scale_factor(seed, mcfg.scale)
    t = translation(seed, image_size, mcfg.translate)
    return z, (-t[0], -t[1])


# ----------------------------------------------------------------------------- colour
def hsv_factors(seed, lo: float, hi: float):
    """(3,) multipliers of H, S, V, each U[lo, hi]."""
    return _u(seed, _HSV, lo, hi, shape=(3,))


def scale_hsv(image, factors):
    """RGB [0, 255] -> HSV, ``H * f_h mod 1``, ``clip(S * f_s)``, ``clip(V * f_v)`` -> RGB [0, 255]."""
    f = tf.cast(factors, tf.float32)
    hsv = tf.image.rgb_to_hsv(tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 255.0) / 255.0)
    h = tf.math.floormod(hsv[..., 0] * f[0], 1.0)
    s = tf.clip_by_value(hsv[..., 1] * f[1], 0.0, 1.0)
    v = tf.clip_by_value(hsv[..., 2] * f[2], 0.0, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([h, s, v], -1)) * 255.0


def random_hsv(image, seed, lo: float, hi: float):
    return scale_hsv(image, hsv_factors(seed, lo, hi))


# ----------------------------------------------------------------------------- occlusion
def occlusion_rectangle(seed, image_size: int, size_range):
    """(x0, y0, x1, y1) float32, whole pixels (may extend past the border): sides U[size_range) x S,
    centre uniform over [0, S)^2."""
    s = float(image_size)
    side = _u(seed, _OCC_SIZE, size_range[0], size_range[1], shape=(2,)) * s
    centre = _u(seed, _OCC_CENTRE, 0.0, s, shape=(2,))
    lo = tf.round(centre - side / 2.0)
    hi = lo + tf.maximum(tf.round(side), 1.0)
    return tf.concat([lo, hi], 0)


def occlude(image, rect, colour, landmarks=None, visibility=None, active=True):
    """Fills the pixels (x0 <= col < x1, y0 <= row < y1) of ``rect`` with ``colour`` (3,) when ``active``;
    landmarks on them (``x0 <= x < x1``, same for y) get visibility 0. Returns (image, visibility)."""
    img = tf.cast(image, tf.float32)
    h, w = tf.shape(img)[0], tf.shape(img)[1]
    rect = tf.cast(rect, tf.float32)
    on = tf.cast(active, tf.bool)
    cols = tf.cast(tf.range(w), tf.float32)[None, :]
    rows = tf.cast(tf.range(h), tf.float32)[:, None]
    inside = (cols >= rect[0]) & (cols < rect[2]) & (rows >= rect[1]) & (rows < rect[3]) & on
    out = tf.where(inside[..., None], tf.cast(colour, tf.float32)[None, None, :] + tf.zeros_like(img), img)
    vis = visibility
    if landmarks is not None and visibility is not None:
        lm = tf.cast(landmarks, tf.float32)
        hit = ((lm[:, 0] >= rect[0]) & (lm[:, 0] < rect[2]) & (lm[:, 1] >= rect[1]) & (lm[:, 1] < rect[3])
               & on)
        vis = tf.where(hit, tf.zeros_like(tf.cast(visibility, tf.float32)), tf.cast(visibility, tf.float32))
    return out, vis


def random_occlusion(image, seed, prob: float, size_range, landmarks=None, visibility=None):
    """:func:`occlude` with probability ``prob``: a random rectangle and a random RGB colour U[0, 255]^3."""
    size = int(image.shape[0])
    rect = occlusion_rectangle(seed, size, size_range)
    colour = _u(seed, _OCC_COLOUR, 0.0, 255.0, shape=(3,))
    return occlude(image, rect, colour, landmarks, visibility, active=_u(seed, _OCC_ON) < prob)


# ----------------------------------------------------------------------------- the set
def appearance(image, seed, mcfg, landmarks=None, visibility=None):
    """The photometric part of the set on the cropped (and flipped) input: HSV scaling, then the occlusion.
    Returns (image float32 [0, 255], visibility)."""
    x = random_hsv(image, seed, mcfg.hsv[0], mcfg.hsv[1])
    x, vis = random_occlusion(x, seed, mcfg.occlusion_prob, mcfg.occlusion_size, landmarks, visibility)
    return tf.ensure_shape(x, image.shape), vis
