"""The smoke-scale data (SPEC section 1): synthetic heads in the four published layouts, prepared into shards.

Made on first use under ``$HMTL_SMOKE_DIR/synthetic-<hash of the sizes>`` (default ``data/smoke``): ``raw/`` (what
the generator writes, in the layouts of 300W-LP, AFLW2000, BIWI and ETH-XGaze) and ``shards/<dataset>/`` (what the
converter, ``hmtl_tf.data.convert``, writes). The same readers and converter as for the real datasets run on it, so
the smoke scale exercises the whole code path. Generation is deterministic and guarded by a lock, so parallel runs
share one copy.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Optional

from hmtl_tf.data import datasets


@dataclass(frozen=True)
class SmokeSizes:
    n_300wlp: int = 400          # per subset folder set: the generator also writes the _Flip copies
    n_aflw2000: int = 160
    biwi_sequences: int = 2
    biwi_frames: int = 40
    xgaze_subjects: int = 10     # 0108, 0109, 0111 (validation), test subjects, and 4 training subjects (Table 6)
    xgaze_per_subject: int = 60
    seed: int = 0


DEFAULT_SIZES = SmokeSizes()


def smoke_dir() -> str:
    return os.path.abspath(os.environ.get("HMTL_SMOKE_DIR", os.path.join("data", "smoke")))


def ensure_smoke_data(root: Optional[str] = None, sizes: SmokeSizes = DEFAULT_SIZES, progress: bool = True) -> str:
    """Generates (once) and prepares the synthetic datasets; returns the shard root for ``--data_root``."""
    from hmtl_tf.data.convert import PREPARE_VERSION, prepare_dataset
    from hmtl_tf.data.synthetic import write_datasets
    from hmtl_tf.data.synthetic.write import SYNTHETIC_VERSION

    # a new converter or a new synthetic generator makes a new copy
    want = dict(asdict(sizes), prepare_version=PREPARE_VERSION, synthetic_version=SYNTHETIC_VERSION)
    tag = hashlib.sha256(json.dumps(want, sort_keys=True).encode()).hexdigest()[:8]
    root = os.path.join(os.path.abspath(root or smoke_dir()), f"synthetic-{tag}")
    shards = os.path.join(root, "shards")
    stamp = os.path.join(root, "READY.json")
    if _ready(stamp, want) and _variants_ready(shards):
        return shards
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        raw = os.path.join(root, "raw")
        if _ready(stamp, want):
            _prepare_variants(raw, shards, progress)
            return shards
        if progress:
            print(f"smoke data: rendering synthetic heads into {raw} (once)", flush=True)
        write_datasets(raw, seed=sizes.seed, n_300wlp=sizes.n_300wlp, n_aflw2000=sizes.n_aflw2000,
                       biwi_sequences=sizes.biwi_sequences, biwi_frames=sizes.biwi_frames,
                       xgaze_subjects=sizes.xgaze_subjects, xgaze_per_subject=sizes.xgaze_per_subject,
                       progress=progress)
        for source in datasets.sources():  # the registry's sources, in their default crop policies
            prepare_dataset(source.name, raw, shards, progress=progress)
        _prepare_variants(raw, shards, progress)
        with open(stamp, "w") as f:
            json.dump(want, f, indent=2)
    return shards


def _variants() -> list:
    """[(source, named set)] of the sets converted under another crop policy than their source's default."""
    return [(d, v) for d in datasets.sources() for v in d.named_sets() if v.crop_policy]


def _variants_ready(shards: str) -> bool:
    return all(os.path.isfile(os.path.join(shards, v.shards, "summary.json")) for _, v in _variants())


def _prepare_variants(raw: str, shards: str, progress: bool) -> None:
    """The named sets under another crop policy, e.g. AFLW2000 under ``visible`` (``aflw2000_visible``): the demo's
    test set.

    The reference boxes include the (-1, 452) sentinels of invisible points (DATA_FACTS 2.2), which makes most
    crops ~3x the face; at the demo's 64 px the head is then ~20 px wide, too small to read pitch and roll
    after a few hundred steps. The tables keep the reference (``hopenet``) crops.
    """
    from hmtl_tf.data.convert import prepare_dataset

    for source, variant in _variants():
        if not os.path.isfile(os.path.join(shards, variant.shards, "summary.json")):
            prepare_dataset(source.name, raw, shards, progress=progress, crop_policy=variant.crop_policy,
                            name=variant.shards)


def _ready(stamp: str, want: dict) -> bool:
    if not os.path.isfile(stamp):
        return False
    with open(stamp) as f:
        return json.load(f) == want
