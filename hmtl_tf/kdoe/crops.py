"""Crops of a batch of stored images in one ``tf.image.crop_and_resize`` call (KD-OE Eq. 5-6 and the student's
stored-image input): the reference's ``crop box -> resize`` with half-pixel-centre bilinear sampling; outside the
stored image is black (0), as PIL's crop. Graph-only, no model or run code (``kdoe.model`` and ``kdoe.ensemble``
both use it).
"""
from __future__ import annotations

import tensorflow as tf

from hmtl_tf.kdoe.offsets import Size, _hw


def crop_boxes_normalized(boxes_px, image_hw, out_hw):
    """Pixel boxes (N, 4) (x1, y1, x2, y2; pixel edges, PIL convention) -> ``crop_and_resize`` boxes
    (y1, x1, y2, x2) normalised so that output pixel i samples ``x1 + (i + 0.5) * (x2 - x1) / w - 0.5``
    (half-pixel centres, like ``tf.image.resize`` / ``cv2.resize`` of the cropped region)."""
    b = tf.cast(boxes_px, tf.float32)
    H, W = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    oh, ow = float(out_hw[0]), float(out_hw[1])
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    x1 = b[:, 0] + 0.5 * bw / ow - 0.5
    x2 = b[:, 0] + bw - 0.5 * bw / ow - 0.5
    y1 = b[:, 1] + 0.5 * bh / oh - 0.5
    y2 = b[:, 1] + bh - 0.5 * bh / oh - 0.5
    sx, sy = tf.maximum(W - 1.0, 1.0), tf.maximum(H - 1.0, 1.0)
    return tf.stack([y1 / sy, x1 / sx, y2 / sy, x2 / sx], axis=1)


def crop_batch(images, boxes_px, input_size: Size, box_indices=None):
    """Crops ``boxes_px`` (N, 4) from ``images`` (B, H, W, 3) and resizes them to ``input_size``: one
    ``crop_and_resize`` call. ``box_indices`` (N,) default ``range(N)`` (one box per image)."""
    images = tf.cast(images, tf.float32)
    h, w = _hw(input_size)
    if box_indices is None:
        box_indices = tf.range(tf.shape(boxes_px)[0])
    nb = crop_boxes_normalized(boxes_px, tf.shape(images)[1:3], (h, w))
    return tf.image.crop_and_resize(images, nb, tf.cast(box_indices, tf.int32), (int(h), int(w)),
                                    method="bilinear", extrapolation_value=0.0)
