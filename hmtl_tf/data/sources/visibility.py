"""Self-occlusion visibility of the 68 iBUG landmarks from the head pose, for sources without 3-D landmarks.

300W-LP stores no per-point 3-D data: its ``.mat`` files hold ``pt2d`` (2, 68) and the 3DMM coefficients
(``Shape_Para``, ``Exp_Para``), which need the BFM basis we do not ship; the ``landmarks/`` side files hold 2-D
points too (``pts_2d``, ``pts_3d`` both (68, 2), DATA_FACTS 1.1/1.2). So a landmark's visibility is computed
from the pose alone: landmark l is visible when its outward surface normal on a mean 3-D face, rotated by the
labelled pose (``angles.rotation_from_ypr``, 3DDFA, z toward the camera), faces the camera,
``(R n_l)_z > 0`` — the ``facing`` half of the synthetic writer's test (``synthetic.render_rotation``:
``facing & ~occluded``); occlusion by other parts of the head (the nose at large yaw) is not modelled.

The normals are the synthetic head model's surface normals at its iBUG-68 points, averaged over
``N_HEADS`` sampled heads and made mirror-symmetric (so a flipped image gets exactly the flipped visibility).
Agreement (this package's tests and the protocol note): ~97 % of landmarks with the writer's full visibility
over random poses (|yaw| <= 90); ~91 % with the annotators' visibility of the 16 AFLW-21 points that are
iBUG points on the 16 real AFLW2000 samples, whose invisible points also include non-self occlusions.
"""
from __future__ import annotations

import functools

import numpy as np

from hmtl_tf import angles

N_HEADS = 64          # synthetic heads averaged for the mean normals
NORMALS_SEED = 0
MIRROR = np.diag([-1.0, 1.0, 1.0])


@functools.lru_cache(maxsize=1)
def mean_normals() -> np.ndarray:
    """(68, 3) unit outward normals of the mean face at the iBUG-68 landmarks (head frame: x right, y up,
    z toward the camera when frontal), mirror-symmetric: ``n[FLIP_68[i]] = diag(-1, 1, 1) n[i]``."""
    from hmtl_tf.data import synthetic as S

    rng = np.random.default_rng(NORMALS_SEED)
    normals = np.array([S._landmarks(S.sample_head(rng))[1][:68] for _ in range(N_HEADS)]).mean(0)
    normals = 0.5 * (normals + normals[S.FLIP_68] @ MIRROR)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    normals.setflags(write=False)
    return normals


def self_occlusion_visibility(ypr_deg, normals=None, threshold: float = 0.0) -> np.ndarray:
    """(68,) float32 0/1: 1 where the landmark's rotated normal faces the camera, ``(R n)_z > threshold``.
    ``ypr_deg`` (yaw, pitch, roll) degrees in the internal convention (``angles.pose_para_to_ypr``)."""
    n = mean_normals() if normals is None else np.asarray(normals, np.float64)
    r = angles.rotation_from_ypr(np.asarray(ypr_deg, np.float64))
    return ((n @ r.T)[:, 2] > threshold).astype(np.float32)
