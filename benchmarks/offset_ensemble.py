"""Images/s of KD-OE's 49-crop offset ensemble (K=15, d=5): batched in the graph (one crop_and_resize + one
forward pass of B*49 crops) vs 49 separate predictions (one crop + one forward pass per offset).

    python benchmarks/offset_ensemble.py [--size=96 --images=4 --repeats=2 --backbone=resnet50]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=96, help="model input size (64-112 keeps it quick on 2 cores)")
    ap.add_argument("--images", type=int, default=4, help="stored images per batch")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--K", type=int, default=15)
    ap.add_argument("--d", type=int, default=5)
    args = ap.parse_args()

    import tensorflow as tf

    from hmtl_tf.config import make_config
    from hmtl_tf.kdoe import ensemble as E
    from hmtl_tf.kdoe.model import build_student_network
    from hmtl_tf.kdoe.offsets import offset_set, shifted_boxes_tf

    cfg = make_config("smoke")
    cfg.data.image_size, cfg.model.backbone = args.size, args.backbone
    net = build_student_network(cfg)
    fn = E.network_model_fn(net)
    s, n = args.size, len(offset_set(args.K, args.d))
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (args.images, 2 * s, 2 * s, 3)).astype(np.float32))
    boxes = tf.constant(np.tile([[s / 2, s / 2, 1.5 * s, 1.5 * s]], (args.images, 1)).astype(np.float32))

    @tf.function
    def batched(im, bx):
        return E.ensemble_probs(fn, im, bx, args.K, args.d, s, max_crops=args.images * n)

    @tf.function
    def one(im, bx):
        out = fn(E.crop_batch(im, bx, s))
        return {a: tf.nn.softmax(v) for a, v in out.items()}

    def separate(im, bx):
        shifted = shifted_boxes_tf(bx, offset_set(args.K, args.d), args.d, s)
        acc = None
        for k in range(n):  # 49 separate predictions
            p = one(im, shifted[:, k])
            acc = p if acc is None else {a: acc[a] + p[a] for a in p}
        return {a: v / n for a, v in acc.items()}

    ref, got = separate(images, boxes), batched(images, boxes)  # warm-up + agreement
    err = max(float(tf.reduce_max(tf.abs(ref[a] - got[a]))) for a in ref)
    rates = {}
    for name, f in (("batched in graph", batched), ("49 separate", separate)):
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            f(images, boxes)["yaw"].numpy()
        rates[name] = args.repeats * args.images / (time.perf_counter() - t0)
    print(f"{args.backbone} {s}px, K={args.K} d={args.d} S={n} crops/image, {args.images} images/batch, "
          f"max |p_batched - p_separate| = {err:.2e}")
    for name, r in rates.items():
        print(f"  {name:18s} {r:8.2f} images/s  ({r * n:8.1f} crops/s)")
    print(f"  ratio batched/separate: {rates['batched in graph'] / rates['49 separate']:.2f}x")


if __name__ == "__main__":
    main()
