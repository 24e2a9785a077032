"""Write the synthetic head datasets in the published layouts (SPEC section 2; hmtl_tf.data.synthetic).

    python -m data_prep.make_synthetic --out=DIR [--seed=0 --n_300wlp=300 --n_aflw2000=100 --biwi_sequences=2
        --biwi_frames=30 --xgaze_subjects=5 --xgaze_per_subject=40]

Only missing files are written (deterministically); existing files are never overwritten.
"""
from __future__ import annotations

import sys
import time

from absl import flags

from hmtl_tf.data.sample import DataError
from hmtl_tf.data.synthetic import write_datasets

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The CLI flags (defined only when run as a command, so importing this module defines none)."""
    flags.DEFINE_string("out", None, "Output directory (DIR/300W_LP, DIR/AFLW2000, DIR/BIWI, DIR/xgaze_224).")
    flags.DEFINE_integer("seed", 0, "Seed; every sample is seeded by (seed, dataset, index).")
    flags.DEFINE_integer("n_300wlp", 300, "300W-LP samples (plus as many in the _Flip folders).")
    flags.DEFINE_integer("n_aflw2000", 100, "AFLW2000 samples (~2% with an |angle| > 99).")
    flags.DEFINE_integer("biwi_sequences", 2, "BIWI sequences (KD-OE train/test sequence numbers alternately).")
    flags.DEFINE_integer("biwi_frames", 30, "Frames per BIWI sequence.")
    flags.DEFINE_integer("xgaze_subjects", 5, "ETH-XGaze subjects (>= 4 includes validation subjects 108, 109, 111).")
    flags.DEFINE_integer("xgaze_per_subject", 40, "ETH-XGaze face patches per subject.")


def main(argv) -> int:
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
        return 2
    if not FLAGS.out:
        print("error: --out: expected an output directory", file=sys.stderr)
        return 2
    counts = {k: getattr(FLAGS, k) for k in ("n_300wlp", "n_aflw2000", "biwi_sequences", "biwi_frames",
                                             "xgaze_subjects", "xgaze_per_subject")}
    for k, v in counts.items():
        if v < 0:
            print(f"error: --{k}: expected a count >= 0, got {v}", file=sys.stderr)
            return 2
    t0 = time.time()
    try:
        gt = write_datasets(FLAGS.out, seed=FLAGS.seed, progress=True, **counts)
    except (DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{k}: {len(v)}" for k, v in gt.items())
    print(f"[make_synthetic] {FLAGS.out} ({sizes}) in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    from hmtl_tf.cli import run_main  # TensorFlow's start-up lines go to a log file unless --verbose

    define_flags()
    run_main(main)
