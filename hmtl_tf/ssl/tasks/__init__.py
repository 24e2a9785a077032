"""The built-in SSL tasks, one file each (HMTL Sec. 3.1); importing this package registers them. A new task: a file
here and an import line below (docs/EXTENDING.md)."""
from hmtl_tf.ssl.tasks import puzzle, rotation, puzzle_rotation  # noqa: F401  (register in this order)
