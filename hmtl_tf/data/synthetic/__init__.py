"""Procedural 3-D heads rendered with the 3DDFA pose convention, and small datasets in the published layouts.

SPEC section 2 ("synthetic heads"); geometry convention DATA_FACTS 1.4: head-frame points X (x right, y up,
z toward the camera when frontal), ``R = angles.rotation_3ddfa(pitch, yaw, roll)``, ``V = s R X + t``,
orthographic, image ``x = V_x``, ``y = h + 1 - V_y`` (1-based). So +yaw turns the face toward image-left, +pitch
looks up, +roll is clockwise in the image.

One module per job:

- ``head``: one person and the light of its shot (:class:`HeadParams`, :func:`sample_head`, :func:`mirror_params`).
- ``geometry``: its shape, a union of clipped analytic ellipsoids in head units, and the ray queries on it.
- ``appearance``: its albedo, a pure function of the head-frame position.
- ``landmarks``: the 68 iBUG + 5 AFLW points on its surface, the mirror permutation, the ``Pose_Para`` projection.
- ``raster``: the rasteriser (an image at a rotation: ray casting, z-buffer, shading, background clutter, labels).
- ``layouts/``: the writers of the published layouts, ``w300lp``, ``aflw2000``, ``biwi``, ``eth_xgaze``, over
  ``files`` and ``samples``; ``write``: :func:`write_datasets`, all four under one root.

This package re-exports the names callers use, so ``from hmtl_tf.data.synthetic import render_head`` keeps working;
code inside the package imports from the modules themselves.
"""
from hmtl_tf.data.synthetic.geometry import EAR, EYE, FACE, HAIR, LIPS, NECK, NOSE, SKULL, UNIT, UNIT_MM
from hmtl_tf.data.synthetic.head import HeadParams, mirror_params, sample_head
from hmtl_tf.data.synthetic.landmarks import (AFLW21_FROM_73, AFLW_SENTINEL, FLIP_68, head_landmarks_3d,
                                              project_pose_para)
from hmtl_tf.data.synthetic.layouts.biwi import (BIWI_DEPTH_CAL, BIWI_KDOE_TEST, BIWI_RGB_CAL, biwi_sequence_ids,
                                                 format_biwi_pose)
from hmtl_tf.data.synthetic.layouts.eth_xgaze import XGAZE_VAL, xgaze_subject_ids
from hmtl_tf.data.synthetic.layouts.samples import DATASET_CODES, face_box
from hmtl_tf.data.synthetic.layouts.w300lp import W300LP_SUBSETS, render_workers
from hmtl_tf.data.synthetic.raster import (Render, default_scale, make_background, render_head, render_rotation,
                                           render_ypr)
from hmtl_tf.data.synthetic.write import write_datasets

# Internals named here by the tests and, before the split, by hmtl_tf.data.datasets' writer entries; the package's
# own modules import them from their homes.
from hmtl_tf.data.synthetic.landmarks import _landmarks  # noqa: F401
from hmtl_tf.data.synthetic.layouts.aflw2000 import _aflw_sample, _write_aflw2000  # noqa: F401
from hmtl_tf.data.synthetic.layouts.biwi import _write_biwi  # noqa: F401
from hmtl_tf.data.synthetic.layouts.eth_xgaze import _write_xgaze  # noqa: F401
from hmtl_tf.data.synthetic.layouts.w300lp import _w300lp_face, _w300lp_plan, _write_300wlp  # noqa: F401

__all__ = [
    # the head model
    "HeadParams", "sample_head", "mirror_params", "UNIT", "UNIT_MM",
    "SKULL", "HAIR", "FACE", "NECK", "NOSE", "EAR", "EYE", "LIPS",
    "FLIP_68", "AFLW21_FROM_73", "AFLW_SENTINEL", "head_landmarks_3d", "project_pose_para",
    # the rasteriser
    "Render", "default_scale", "make_background", "render_rotation", "render_head", "render_ypr",
    # the layout writers
    "DATASET_CODES", "face_box", "W300LP_SUBSETS", "render_workers", "BIWI_KDOE_TEST", "BIWI_RGB_CAL",
    "BIWI_DEPTH_CAL", "biwi_sequence_ids", "format_biwi_pose", "XGAZE_VAL", "xgaze_subject_ids", "write_datasets",
]
