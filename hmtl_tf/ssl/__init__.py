"""Self-supervised pre-training pieces (Sec. 4.3): the Barlow Twins loss and its two-view augmentation."""
from hmtl_tf.ssl.barlow_twins import barlow_twins_loss, cross_correlation

__all__ = ["barlow_twins_loss", "cross_correlation"]
