"""Where a dataset name's shards live, and which split a role reads (SPEC sections 1-2, DESIGN.md)."""
from __future__ import annotations

import json
import os
from typing import Optional, Tuple

from hmtl_tf.config import ConfigError

# name -> (shard sub-directory, split for training, split for evaluation)
NAMES = {
    "300w_lp": ("300w_lp", "train", "train"),
    "aflw2000": ("aflw2000", "test", "test"),            # the reduced 1,969 set (|angles| <= 99)
    "aflw2000_full": ("aflw2000", "test_full", "test_full"),  # all 2,000 (marked * in Table 2)
    # the reduced set cropped with the ``visible`` policy (sentinels dropped; prepare --name=aflw2000_visible)
    "aflw2000_visible": ("aflw2000_visible", "test", "test"),
    "biwi": ("biwi", "test", "test"),
    "eth_xgaze": ("eth_xgaze", "train", "val"),          # val = subjects 108, 109, 111 (Sec. 4.1)
    "eth_xgaze_test": ("eth_xgaze", "test", "test"),
}
REAL_MARKERS = ("300w_lp", "aflw2000")


def resolve(source: str, data_root: str, training: bool, split: Optional[str] = None,
            flag: str = "--train/--val") -> Tuple[str, str]:
    """``source`` is a dataset name (looked up under ``data_root``) or a shard directory -> (dir, split);
    ``flag`` names the flag that gave it in the error."""
    if source in NAMES:
        sub, train_split, eval_split = NAMES[source]
        path = os.path.join(data_root, sub)
        chosen = split or (train_split if training else eval_split)
    elif os.path.isdir(source):
        path, chosen = source, split or ("train" if training else "")
    else:
        raise ConfigError(f"{flag}={source!r}: expected a shard directory or one of {', '.join(NAMES)}")
    if not os.path.isdir(path):
        raise ConfigError(f"{source}: no shards at {path}; run `make data DATA_ROOT=...` "
                          f"(or `python -m data_prep.prepare`) or use --scale=smoke")
    if not chosen:
        chosen = "val" if any(f.startswith("val-") for f in os.listdir(path)) else "test"
    return path, chosen


def real_data_present(data_root: str) -> bool:
    """True when prepared shards of the real protocol-1 datasets exist under ``data_root``."""
    return all(os.path.isfile(os.path.join(data_root, m, "summary.json")) for m in REAL_MARKERS)


def angles_on(cfg, shard_dir: str) -> tuple:
    """The run's angles (``cfg``: a TrainConfig) that the evaluation set has: a 3-angle run on ETH-XGaze (yaw and
    pitch only, Sec. 4.1) is evaluated on yaw and pitch. Sets ``cfg.model.angles`` (the pipeline's targets) and returns them."""
    path = os.path.join(shard_dir, "summary.json")
    summary = {}
    if os.path.isfile(path):
        with open(path) as f:
            summary = json.load(f) or {}
    if summary.get("has_roll") is False or os.path.basename(os.path.normpath(shard_dir)) == "eth_xgaze":
        cfg.model.angles = tuple(a for a in cfg.model.angles if a != "roll")
    if not cfg.model.angles:
        raise ConfigError(f"--dataset={shard_dir}: none of the run's angles is labelled there")
    return tuple(cfg.model.angles)
