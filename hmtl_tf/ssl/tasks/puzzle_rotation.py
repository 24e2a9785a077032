"""2x2 puzzle then per-tile rotation of at most ``ssl.max_rotated_tiles`` tiles (HMTL Sec. 3.1): two heads per tile.
Used as an HMTL auxiliary task only, not as a stand-alone pre-training method."""
from hmtl_tf.ssl.registry import Branch, SSLTask, register_task
from hmtl_tf.ssl.tasks.rotation import ROTATION_CLASSES

register_task(SSLTask("puzzle_rotation2x2", grid=2, pretext=False,
                      branches=(Branch("puzzle", 4, "permute"), Branch("rotation", ROTATION_CLASSES, "rotate",
                                                                       limited=True)),
                      paper="HMTL Sec. 3.1 (puzzle + rotation)"))
