"""Per-tile rotation on a 2x2 grid (HMTL Sec. 3.1): tile i turned by k * 90 degrees, head i predicts k (4 classes)."""
from hmtl_tf.ssl.registry import Branch, SSLTask, register_task

ROTATION_CLASSES = 4  # k = 0..3

register_task(SSLTask("rotation2x2", grid=2, branches=(Branch("rotation", ROTATION_CLASSES, "rotate"),),
                      paper="HMTL Sec. 3.1 (rotation)"))
