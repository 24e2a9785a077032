"""How well the SSL heads do their own task on images they never trained on (issue 13 item 2).

The training-batch ``ssl_acc`` (``metrics.pretext_accuracies`` inside ``MultiTaskModel``) is measured under dropout,
on images the heads are fitting, and, with ``ssl.prob`` < 1, partly on unpuzzled images whose label is the identity
permutation (a shortcut a head can learn without solving any puzzle). This module measures the pretext task the
clean way: every image of a held-out set (the test set) is transformed by the run's SSL task with probability 1,
seeded per image (the same images and permutations for every run of a seed), and the trained network's SSL heads
(inference mode: no dropout) are scored with the same tie-split accuracy. The test images are still never used for
training or model selection: only the SSL heads, which are not part of the inference model, are evaluated on them.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from hmtl_tf import metrics
from hmtl_tf.config import TrainConfig

SEED = 20_240_613  # the fixed seed of the held-out permutations (folded with each image's index)


def ssl_test_set(images: tf.data.Dataset, task: str, seed: int = SEED, max_rotated_tiles: int = 2,
                 batch_size: int = 64) -> tf.data.Dataset:
    """``images``: unbatched (S, S, 3) float images -> batches of (SSL-transformed images, SSL targets), image i
    transformed with the stateless seed (seed, i) and probability 1 (SPEC section 4's transforms)."""
    from hmtl_tf.data import ssl_tasks

    def one(i, image):
        return ssl_tasks.apply_ssl_task(image, task, tf.stack([tf.constant(seed, tf.int64), i]), 1.0,
                                        max_rotated_tiles)

    return images.enumerate().map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)


def pretext_accuracy_on(network, images: tf.data.Dataset, task: str, heads, seed: int = SEED,
                        max_rotated_tiles: int = 2) -> Dict[str, object]:
    """Mean tie-split accuracy of ``network``'s ``heads`` (output keys) over ``images`` (unbatched), every image
    transformed by ``task`` (:func:`ssl_test_set`): ``{"ssl_acc", "ssl_chance", "heads", "n"}``; ``{}`` if empty."""
    sums = {k: 0.0 for k in heads}
    n = 0
    for x, y in ssl_test_set(images, task, seed, max_rotated_tiles):
        out = network(x, training=False)
        acc = metrics.pretext_accuracies(y, out, heads)
        for k in heads:
            sums[k] += float(tf.reduce_sum(acc[k]))
        n += int(x.shape[0])
    if n == 0:
        return {}
    per_head = {k: sums[k] / n for k in heads}
    classes = [int(network.output[k].shape[-1]) for k in heads]
    return {"ssl_acc": float(np.mean(list(per_head.values()))), "ssl_chance": metrics.pretext_chance(classes),
            "heads": per_head, "n": n}


def heldout_pretext_accuracy(network, cfg: TrainConfig, shard_dir: str, split: str,
                             seed: int = SEED, part: Optional[str] = None) -> Dict[str, object]:
    """:func:`pretext_accuracy_on` the test pipeline's images of one split (no augmentation), plus ``seed`` and a
    ``definition``; ``{}`` for a network without SSL heads."""
    from hmtl_tf.data import pipeline

    angles = tuple(cfg.model.angles)
    heads = [k for k in network.output if k not in angles]
    if not heads or cfg.ssl.task in ("", "none"):
        return {}
    plain = pipeline.make_dataset(shard_dir, cfg, training=False, split=split, batch_size=64, part=part)
    out = pretext_accuracy_on(network, plain.map(lambda x, y: x).unbatch(), cfg.ssl.task, heads, seed,
                              cfg.ssl.max_rotated_tiles)
    if out:
        out.update(seed=seed, definition=f"top-1 accuracy, ties split, on {out['n']} held-out images each "
                                         f"transformed by {cfg.ssl.task} with probability 1 (seed {seed}), "
                                         f"inference mode")
    return out
