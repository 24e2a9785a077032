"""Jigsaw puzzle on a 2x2 / 3x3 grid (HMTL Sec. 3.1): position i shows original tile perm[i], head i predicts it
(N² classes)."""
from hmtl_tf.ssl.registry import Branch, SSLTask, register_task

for n in (2, 3):
    register_task(SSLTask(f"puzzle{n}x{n}", grid=n, branches=(Branch("puzzle", n * n, "permute"),),
                          paper="HMTL Sec. 3.1 (jigsaw puzzle)"))
