"""Where a dataset name's shards live, and which split a role reads (SPEC sections 1-2, DESIGN.md)."""
from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

from hmtl_tf.config import ConfigError
from hmtl_tf.data import datasets


def names() -> Dict[str, Tuple[str, str, str]]:
    """name -> (shard sub-directory, split for training, split for evaluation): the registry's named sets."""
    return {s.name: (s.shards, s.train_split, s.eval_split) for s in datasets.named_sets()}


def real_markers() -> Tuple[str, ...]:
    """The shard folders whose presence means the real data is there (300W-LP and AFLW2000: protocol 1)."""
    return tuple(d.name for d in datasets.sources() if d.marks_real_data)


def __getattr__(name: str):
    """``NAMES`` / ``REAL_MARKERS`` (older names) read the registry when asked, so a dataset registered later is one."""
    if name == "NAMES":
        return names()
    if name == "REAL_MARKERS":
        return real_markers()
    raise AttributeError(f"module 'hmtl_tf.data.locate' has no attribute {name!r}")


def resolve(source: str, data_root: str, training: bool, split: Optional[str] = None,
            flag: str = "--train/--val") -> Tuple[str, str]:
    """``source`` is a dataset name (looked up under ``data_root``) or a shard directory -> (dir, split);
    ``flag`` names the flag that gave it in the error."""
    known = names()
    if source in known:
        sub, train_split, eval_split = known[source]
        path = os.path.join(data_root, sub)
        chosen = split or (train_split if training else eval_split)
    elif os.path.isdir(source):
        path, chosen = source, split or ("train" if training else "")
    else:
        raise ConfigError(f"{flag}={source!r}: expected a shard directory or one of {', '.join(known)}")
    if not os.path.isdir(path):
        raise ConfigError(f"{source}: no shards at {path}; run `make data DATA_ROOT=...` "
                          f"(or `python -m data_prep.prepare`) or use --scale=smoke")
    if not chosen:
        chosen = "val" if any(f.startswith("val-") for f in os.listdir(path)) else "test"
    return path, chosen


def real_data_present(data_root: str) -> bool:
    """True when prepared shards of the real protocol-1 datasets exist under ``data_root``."""
    return all(os.path.isfile(os.path.join(data_root, m, "summary.json")) for m in real_markers())


def angles_on(cfg, shard_dir: str) -> tuple:
    """The run's angles (``cfg``: a TrainConfig) that the evaluation set has: a 3-angle run on ETH-XGaze (yaw and
    pitch only, Sec. 4.1; ``datasets.shard_angles``) is evaluated on yaw and pitch. Sets ``cfg.model.angles`` (the
    pipeline's targets) and returns them."""
    labelled = datasets.shard_angles(shard_dir)
    cfg.model.angles = tuple(a for a in cfg.model.angles if a in labelled)
    if not cfg.model.angles:
        raise ConfigError(f"--dataset={shard_dir}: none of the run's angles is labelled there")
    return tuple(cfg.model.angles)
