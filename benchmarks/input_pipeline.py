"""Input-pipeline throughput (issue 2 item 6), one run, side by side on this machine.

The full training pipeline (``hmtl_tf.data.pipeline.make_dataset``: read, parse, decode, HopeNet crop with a
random margin, level-2 augmentation, flip, puzzle3x3, batch 32, 224 px) against the same per-image work as a
plain Python loop with PIL + NumPy (like the reference PyTorch loader's transforms) and with OpenCV + NumPy,
and against the ResNet50 training-step rate at 224 px (the consumer the pipeline must keep fed).
Targets: tf.data >= 2x the PIL loop, >= the OpenCV loop, >= 2x the training-step rate.

    python -m benchmarks.input_pipeline [--records 256] [--batches 24] [--resnet_batch 8] [--resnet_steps 3]
                                        [--rounds 2]
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from hmtl_tf.config import make_config  # noqa: E402
from hmtl_tf.data import crops, pipeline, records  # noqa: E402
from hmtl_tf.data.augment import PARAMS  # noqa: E402

SIZE, BATCH, GRID = 224, 32, 3


# ----------------------------------------------------------------------------- data
def _source_images(n_unique: int, seed: int):
    """450x450 rendered heads (``synthetic.render_head``) or, without it, smooth random images."""
    rng = np.random.default_rng(seed)
    try:
        from hmtl_tf.data import synthetic
    except ImportError:
        synthetic = None
    out = []
    for _ in range(n_unique):
        ypr = rng.uniform([-80, -30, -25], [80, 30, 25])
        if synthetic is not None:
            img, lm, _, _ = synthetic.render_head(synthetic.sample_head(rng), ypr, rng=rng)
        else:
            img = cv2.resize(rng.uniform(0, 255, (12, 12, 3)).astype(np.float32), (450, 450)).astype(np.uint8)
            lm = rng.uniform(150, 300, (68, 2))
        out.append((img, lm, ypr))
    return out


def write_shards(path: str, n: int, seed: int = 0) -> None:
    """``n`` records (64 distinct renders reused) with the 300W-LP training crop policy, 2 shards."""
    sources = _source_images(min(n, 64), seed)
    for s in range(2):
        with tf.io.TFRecordWriter(os.path.join(path, records.shard_name("train", s, 2))) as w:
            for i in range(s, n, 2):
                img, lm, ypr = sources[i % len(sources)]
                spec = crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=lm)
                ob = spec.outer_box()
                x0, y0, x1, y1 = max(0, ob[0]), max(0, ob[1]), min(450, ob[2]), min(450, ob[3])
                ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_RGB2BGR),
                                       [cv2.IMWRITE_JPEG_QUALITY, 95])
                w.write(records.encode_example(image_jpeg=jpg.tobytes(), origin=(x0, y0), source_size=(450, 450),
                                               ypr=ypr, has_roll=True, crop=spec, source_id=f"bench/{i}",
                                               dataset="300w_lp", split="train", landmarks=lm))


# ----------------------------------------------------------------------------- per-image loops
def _fields(serialized: bytes):
    f = tf.train.Example.FromString(serialized).features.feature
    fl = lambda k: list(f[k].float_list.value)  # noqa: E731
    return (f["image/encoded"].bytes_list.value[0], np.array(f["image/origin"].int64_list.value, np.float64),
            fl("crop/base"), fl("crop/coef"), fl("crop/k_range"), np.array(fl("pose/ypr")))


def _box(base, coef, k_range, origin, rng):
    """Random-margin HopeNet box (source px) -> central square -> random central zoom, stored-image px."""
    box = np.array(crops.policy_box_np(base, coef, rng.uniform(*k_range)), np.float64) - np.tile(origin, 2)
    box = np.array(crops.central_square(box))
    c, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / (2 * rng.uniform(*PARAMS.zoom))
    return np.concatenate([c - half, c + half]).astype(int)


def _numpy_aug(x, ypr, rng):
    """Contrast, cutout and flip in NumPy (shared by both loops)."""
    mean = x.mean(axis=(0, 1))
    x = np.clip((x - mean) * rng.uniform(*PARAMS.contrast) + mean, 0, 255)
    if rng.random() < PARAMS.cutout_prob:
        side = int(rng.uniform(*PARAMS.cutout_size) * SIZE)
        cx, cy = rng.integers(0, SIZE, 2)
        x[max(0, cy - side // 2):cy + side // 2, max(0, cx - side // 2):cx + side // 2] = 0
    if rng.random() < PARAMS.flip_prob:
        x, ypr = x[:, ::-1], ypr * [-1, 1, -1]
    return x, ypr


def _tiles_permute(x, perm):
    t = x.shape[0] // GRID
    tiles = [x[r * t:(r + 1) * t, c * t:(c + 1) * t] for r in range(GRID) for c in range(GRID)]
    tiles = [tiles[p] for p in perm]
    return np.concatenate([np.concatenate(tiles[r * GRID:(r + 1) * GRID], 1) for r in range(GRID)], 0)


def pil_example(serialized, rng):
    jpeg, origin, base, coef, k_range, ypr = _fields(serialized)
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    im = img.crop(tuple(_box(base, coef, k_range, origin, rng))).resize((SIZE, SIZE), Image.BILINEAR)
    if rng.random() < PARAMS.blur_prob:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(*PARAMS.blur_sigma)))
    if rng.random() < PARAMS.downscale_prob:
        small = max(1, int(SIZE * rng.uniform(*PARAMS.downscale)))
        im = im.resize((small, small), Image.BOX).resize((SIZE, SIZE), Image.BILINEAR)
    x, ypr = _numpy_aug(np.asarray(im, np.float32), ypr, rng)
    perm = rng.permutation(GRID * GRID)
    big = Image.fromarray(x.astype(np.uint8)).resize((225, 225), Image.BILINEAR)
    x = np.asarray(Image.fromarray(_tiles_permute(np.asarray(big), perm)).resize((SIZE, SIZE), Image.BILINEAR),
                   np.float32)
    return x, ypr, perm


def cv2_example(serialized, rng):
    jpeg, origin, base, coef, k_range, ypr = _fields(serialized)
    img = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    x0, y0, x1, y1 = _box(base, coef, k_range, origin, rng)
    h, w = img.shape[:2]
    crop = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)  # outside the image is black
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    im = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    if rng.random() < PARAMS.blur_prob:
        im = cv2.GaussianBlur(im, (2 * PARAMS.blur_radius + 1,) * 2, rng.uniform(*PARAMS.blur_sigma))
    if rng.random() < PARAMS.downscale_prob:
        small = max(1, int(SIZE * rng.uniform(*PARAMS.downscale)))
        im = cv2.resize(cv2.resize(im, (small, small), interpolation=cv2.INTER_AREA), (SIZE, SIZE))
    x, ypr = _numpy_aug(im.astype(np.float32), ypr, rng)
    perm = rng.permutation(GRID * GRID)
    big = cv2.resize(np.ascontiguousarray(x), (225, 225), interpolation=cv2.INTER_LINEAR)
    x = cv2.resize(_tiles_permute(big, perm), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    return x, ypr, perm


def loop_rate(example_fn, serialized, n_images: int) -> float:
    """Images/s of a per-image loop that also stacks batches of 32 (like a DataLoader with 0 workers)."""
    rng = np.random.default_rng(0)
    for s in serialized[:4]:  # warm-up
        example_fn(s, rng)
    t0 = time.perf_counter()
    batch = []
    for i in range(n_images):
        batch.append(example_fn(serialized[i % len(serialized)], rng))
        if len(batch) == BATCH:
            np.stack([b[0] for b in batch]), np.stack([b[1] for b in batch]), np.stack([b[2] for b in batch])
            batch = []
    return n_images / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- tf.data and the consumer
def tfdata_rate(path: str, n_batches: int) -> float:
    cfg = make_config("paper", {"data.image_size": SIZE, "batch_size": BATCH, "data.aug_level": 2,
                                "data.flip": True, "ssl.task": "puzzle3x3", "epochs": 1000,
                                "data.shuffle_buffer": 256}).validate()
    it = iter(pipeline.make_dataset(path, cfg, training=True))
    for _ in range(3):  # warm-up: tracing, thread pools, prefetch buffer
        next(it)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        images, _ = next(it)
    images.numpy()
    return n_batches * BATCH / (time.perf_counter() - t0)


def resnet_rate(batch: int, steps: int) -> float:
    import keras
    model = keras.applications.ResNet50(weights=None, input_shape=(SIZE, SIZE, 3), classes=66)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype(np.float32)
    y = np.zeros((batch,), np.int32)
    model.train_on_batch(x, y)  # warm-up (tracing)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=256)
    ap.add_argument("--batches", type=int, default=24, help="tf.data batches of 32 timed after warm-up")
    ap.add_argument("--loop_images", type=int, default=256)
    ap.add_argument("--resnet_batch", type=int, default=8)
    ap.add_argument("--resnet_steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="alternating measurement rounds (best is reported)")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f}), TF {tf.__version__}")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_shards(d, args.records)
        took = time.perf_counter() - t0
        print(f"wrote {args.records} records (450x450 sources, stored JPEG regions) in {took:.1f} s")
        serialized = [bytes(s.numpy()) for s in tf.data.TFRecordDataset(records.shard_files(d, "train"))]
        rates = {"tf.data": 0.0, "PIL loop": 0.0, "OpenCV loop": 0.0}
        for _ in range(args.rounds):  # alternating rounds, best of each: the machine is shared
            rates["tf.data"] = max(rates["tf.data"], tfdata_rate(d, args.batches))
            rates["PIL loop"] = max(rates["PIL loop"], loop_rate(pil_example, serialized, args.loop_images))
            rates["OpenCV loop"] = max(rates["OpenCV loop"], loop_rate(cv2_example, serialized, args.loop_images))
    rates["ResNet50 train"] = resnet_rate(args.resnet_batch, args.resnet_steps)
    print(f"\nimages/s at 224 px (decode, HopeNet crop, level-2 aug, flip, puzzle3x3, batch 32; "
          f"best of {args.rounds} rounds; ResNet50: batch {args.resnet_batch}, {args.resnet_steps} steps)")
    for name, r in rates.items():
        print(f"  {name:<16s} {r:9.1f}")
    tfd = rates["tf.data"]
    checks = [("tf.data / PIL loop", tfd / rates["PIL loop"], 2.0),
              ("tf.data / OpenCV loop", tfd / rates["OpenCV loop"], 1.0),
              (f"tf.data / ResNet50 step (batch {args.resnet_batch})", tfd / rates["ResNet50 train"], 2.0)]
    ok = True
    for name, ratio, target in checks:
        passed = ratio >= target
        ok &= passed
        print(f"  {name:<36s} {ratio:7.2f}x  (target >= {target:.0f}x)  {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
