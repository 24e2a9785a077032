"""``python -m data_prep.prepare``: convert a public dataset in its published layout into the shard format.

    python -m data_prep.prepare --dataset={300w_lp,aflw2000,biwi,eth_xgaze} --root=RAW --out=DIR
        [--crop_policy=hopenet|visible|boxes] [--boxes=FILE] [--shard_size=1024] [--jpeg_quality=95]
        [--limit=N] [--max_angle=99] [--skip_missing] [--overwrite]

The command line only: the converter itself (splits, crops, shards, manifest, summary, resumability) is
``hmtl_tf.data.convert``, whose docstring describes what is written. A bad input is one line ``error: ...`` and
exit status 2.
"""
from __future__ import annotations

import sys

from absl import flags

from hmtl_tf.data.convert import (CONFIG_FILE, MANIFEST_COLUMNS, PREPARE_VERSION, Options,  # noqa: F401 (older
                                  encode_sample, first_line, get_reader, prepare_dataset, run)  # callers' names)
from hmtl_tf.data.sample import DataError
from hmtl_tf.rundir import DiskFullError

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The CLI flags (defined only when run as a command, so importing this module defines none)."""
    flags.DEFINE_string("dataset", None, "300w_lp | aflw2000 | biwi | eth_xgaze")
    flags.DEFINE_string("root", None, "folder holding the raw dataset (or a FSA-Net BIWI .npz)")
    flags.DEFINE_string("out", None, "shard root; the dataset goes to <out>/<dataset>/")
    flags.DEFINE_string("crop_policy", "", "hopenet | visible | boxes (default hopenet; none for ETH-XGaze)")
    flags.DEFINE_string("boxes", None, "face-box file: KD-OE JSON, CSV or Dockerface folder")
    flags.DEFINE_integer("shard_size", 1024, "records per shard")
    flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality of the stored crops")
    flags.DEFINE_integer("limit", 0, "convert only the first N samples (0 = all)")
    flags.DEFINE_float("max_angle", 99.0, "drop samples with any |angle| above this from the filtered splits")
    flags.DEFINE_boolean("skip_missing", False, "dataset not found under --root: say so and exit 0")
    flags.DEFINE_boolean("overwrite", False, "replace output written by a different configuration")
    flags.DEFINE_integer("progress_every", 1000, "print a progress line every N samples")
    flags.DEFINE_string("name", "", "output sub-folder under --out (default: the dataset name), e.g. "
                        "aflw2000_visible for --crop_policy=visible")


def main(argv) -> None:
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
        sys.exit(2)
    try:
        run(Options(dataset=FLAGS.dataset or "", root=FLAGS.root or "", out=FLAGS.out or "",
                    crop_policy=FLAGS.crop_policy, boxes=FLAGS.boxes, shard_size=FLAGS.shard_size,
                    jpeg_quality=FLAGS.jpeg_quality, limit=FLAGS.limit, max_angle=FLAGS.max_angle,
                    skip_missing=FLAGS.skip_missing, overwrite=FLAGS.overwrite,
                    progress_every=FLAGS.progress_every, name=FLAGS.name, log=lambda m: print(m, flush=True)))
    except (DataError, ValueError, OSError, DiskFullError) as exc:
        print(f"error: {first_line(exc)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    from hmtl_tf.cli import run_main  # TensorFlow's start-up lines go to a log file unless --verbose

    define_flags()
    run_main(main)
