"""Single-core speed of the synthetic head renderer (hmtl_tf.data.synthetic): prints images/s.

    python benchmarks/synthetic_render.py [--n=40] [--size=450]

Target (issue 2): >= 20 images/s at 450x450 on one core (render incl. background; JPEG encode reported apart).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from hmtl_tf.data import synthetic  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--size", type=int, default=450)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    heads = [synthetic.sample_head(rng) for _ in range(args.n)]
    poses = np.stack([rng.uniform(-90, 90, args.n), rng.uniform(-40, 40, args.n), rng.uniform(-30, 30, args.n)], 1)
    size = (args.size, args.size)
    synthetic.render_head(heads[0], poses[0], size=size, rng=rng)       # warm-up
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    images = [synthetic.render_head(h, p, size=size, rng=rng)[0] for h, p in zip(heads, poses)]
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    t_enc = time.perf_counter()
    for im in images:
        cv2.imencode(".jpg", im)
    enc = time.perf_counter() - t_enc
    print(f"synthetic_render: {args.n} heads at {args.size}x{args.size}, 1 thread, {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, cv2 {cv2.__version__}")
    print(f"render: {args.n / wall:.1f} images/s wall ({args.n / cpu:.1f} images/s CPU time); "
          f"+ JPEG encode: {args.n / (wall + enc):.1f} images/s")


if __name__ == "__main__":
    main()
