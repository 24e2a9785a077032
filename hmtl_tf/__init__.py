"""hmtl_tf: HMTL head-pose estimation (HopeNet + self-supervised heads) on TensorFlow 2 / Keras 3.

``from hmtl_tf import HeadPoseEstimator`` is resolved lazily (hmtl_tf.api), so ``import hmtl_tf`` stays light.
"""


def __getattr__(name):
    if name == "HeadPoseEstimator":
        from hmtl_tf.api import HeadPoseEstimator
        return HeadPoseEstimator
    raise AttributeError(f"module 'hmtl_tf' has no attribute {name!r}")
