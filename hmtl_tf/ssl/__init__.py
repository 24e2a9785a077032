"""Self-supervised pieces: the SSL task registry (``registry``, the tasks in ``tasks/``, HMTL Sec. 3.1) and the
Barlow Twins loss and its two-view augmentation (Sec. 4.3). Importing the package loads no TensorFlow (``config``
reads the registry); ``barlow_twins_loss`` / ``cross_correlation`` load ``ssl.barlow_twins`` when first used."""

__all__ = ["barlow_twins_loss", "cross_correlation"]


def __getattr__(name):
    if name in __all__:
        from hmtl_tf.ssl import barlow_twins

        return getattr(barlow_twins, name)
    raise AttributeError(f"module 'hmtl_tf.ssl' has no attribute {name!r}")
