"""The dataset registry (issue 15): one descriptor per source dataset, read by every part that names datasets.

A *source* is a dataset in its published layout: what ``data_prep.prepare --dataset=<name>`` converts, read by one
module of ``hmtl_tf/data/sources/``. A *named set* is what ``--train`` / ``--val`` / ``--dataset`` name: a shard
folder under ``--data_root`` and the split a training and an evaluation read there (AFLW2000 has three: the reduced
1,969, all 2,000, and the reduced set under the ``visible`` crop policy).

Read by: ``hmtl_tf.data.sources`` (the readers), ``hmtl_tf.data.convert`` (crop policies, box files, output
splits and the +-99 filter, per-subset counts), ``hmtl_tf.data.crops`` (box-based margins), ``hmtl_tf.data.locate``
(``NAMES``, ``angles_on``), ``hmtl_tf.train`` (the angles a training set labels), ``hmtl_tf.data.smoke`` (what the
smoke scale converts), ``hmtl_tf.config`` (``DATASETS``), ``experiments.run`` (``EVAL_TABLES``) and the Makefile
(``python -m hmtl_tf.data.datasets`` lists the sources ``make data`` converts). Adding a dataset: its descriptor
here, its reader, a test (docs/EXTENDING.md). Pure Python: ``config`` imports it, so it imports nothing of ours.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Tuple

ANGLES3 = ("yaw", "pitch", "roll")
ANGLES2 = ("yaw", "pitch")
POINT_CROP_POLICIES = ("hopenet", "visible", "boxes")  # of a dataset in full images (the first is the default)


@dataclass(frozen=True)
class NamedSet:
    """A name of ``--train`` / ``--val`` / ``--dataset``: shards under ``<data_root>/<shards>`` and its splits."""

    name: str
    shards: str                      # sub-folder of --data_root (``prepare --name``; default the source's name)
    train_split: str                 # the split a training reads
    eval_split: str                  # the split an evaluation reads
    crop_policy: str = ""            # a variant converted under another crop policy; "" = the source's default
    tables: Tuple[int, ...] = ()     # the paper tables reporting it (``experiments.run --evaluate=<name>``)
    note: str = ""


def every(*splits: str) -> Callable[[Any], Tuple[str, ...]]:
    """Split rule: every sample goes to each of ``splits``."""
    return lambda sample: splits


def own_split(sample) -> Tuple[str, ...]:
    """Split rule: the split the reader gives the sample (ETH-XGaze: train / val / test by subject)."""
    return (sample.split,)


def biwi_splits(sample) -> Tuple[str, ...]:
    """Split rule of BIWI: ``test``, plus ``p3_train`` / ``p3_test`` from the KD-OE box ``type`` (their protocol 3)."""
    p3 = sample.extra.get("protocol3")
    return ("test",) + ((f"p3_{p3}",) if p3 in ("train", "test") else ())


@dataclass(frozen=True)
class Dataset:
    """One source dataset: its reader, what the converter writes from it, what it labels, its named sets."""

    name: str                        # ``data_prep.prepare --dataset`` and ``RawSample.dataset``
    label: str                       # as the papers write it (messages)
    reader: str                      # module of its reader (``find_root``, ``iter_samples``; optional ``iter_npz``)
    splits: Tuple[str, ...]          # the splits the converter writes
    split_rule: Callable[[Any], Tuple[str, ...]]  # RawSample -> the output splits it goes to, in order
    filtered: Tuple[str, ...] = ()   # of those, the splits the +-max_angle filter applies to (DATA_FACTS 2.6)
    angles: Tuple[str, ...] = ANGLES3  # the angles it labels (ETH-XGaze: yaw, pitch; Sec. 4.1)
    precropped: str = ""             # what its images are when already face crops (crop policy ``none`` only)
    crop_from_box: bool = False      # margins around a face box, not the landmarks (BIWI, HopeNet's rule)
    boxes_file: str = ""             # the face-box file it needs, looked for under --root when --boxes is not given
    subset_counts: bool = False      # summary.json counts the kept records per subset folder (--w300lp_subsets)
    marks_real_data: bool = False    # its shards under --data_root mean the real data is there (default scale)
    synthetic: str = ""              # ``module:function`` writing a synthetic copy of its layout (smoke scale)
    sets: Tuple[NamedSet, ...] = ()  # its named sets (default: one, its name, training and evaluation on train)

    @property
    def crop_policies(self) -> Tuple[str, ...]:
        """The ``--crop_policy`` values the converter accepts, the default first."""
        return ("none",) if self.precropped else POINT_CROP_POLICIES

    @property
    def default_crop_policy(self) -> str:
        return self.crop_policies[0]

    def named_sets(self) -> Tuple[NamedSet, ...]:
        return self.sets or (NamedSet(self.name, self.name, "train", "train"),)

    def reader_module(self) -> ModuleType:
        return importlib.import_module(self.reader)

    def synthetic_writer(self) -> Optional[Callable]:
        if not self.synthetic:
            return None
        module, _, name = self.synthetic.partition(":")
        return getattr(importlib.import_module(module), name)


_SOURCES: Dict[str, Dataset] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    """Adds a source (checked: a new name, set names not taken, its filtered splits among its splits)."""
    taken = set(set_names())
    new = [s.name for s in dataset.named_sets()]
    if dataset.name in _SOURCES or taken & set(new) or len(set(new)) != len(new):
        raise ValueError(f"dataset {dataset.name!r}: the name or one of its sets {new} is already registered")
    if not set(dataset.filtered) <= set(dataset.splits):
        raise ValueError(f"dataset {dataset.name!r}: filtered splits {dataset.filtered} not among {dataset.splits}")
    _SOURCES[dataset.name] = dataset
    return dataset


def unregister_dataset(name: str) -> None:
    """Removes a source (tests registering a dummy dataset)."""
    _SOURCES.pop(name, None)


def sources() -> Tuple[Dataset, ...]:
    """The registered sources, in registration order."""
    return tuple(_SOURCES.values())


def source_names() -> Tuple[str, ...]:
    return tuple(_SOURCES)


def get(name: str) -> Dataset:
    """The source ``name``; KeyError for an unknown one (callers word their own error)."""
    return _SOURCES[name]


def find(name: str) -> Optional[Dataset]:
    return _SOURCES.get(name)


def named_sets() -> Tuple[NamedSet, ...]:
    """Every named set of every source, in registration order."""
    return tuple(s for d in _SOURCES.values() for s in d.named_sets())


def set_names() -> Tuple[str, ...]:
    return tuple(s.name for s in named_sets())


def source_of_set(name: str) -> Optional[Dataset]:
    """The source a named set's shards come from (None for a name that is not registered)."""
    return next((d for d in _SOURCES.values() if any(s.name == name for s in d.named_sets())), None)


def source_of_shards(folder: str) -> Optional[Dataset]:
    """The source whose named sets keep their shards in the sub-folder ``folder`` (None when none does)."""
    return next((d for d in _SOURCES.values() if any(s.shards == folder for s in d.named_sets())), None)


def eval_tables() -> Dict[str, Tuple[int, ...]]:
    """``{named set: the paper tables reporting it}`` (``experiments.run --evaluate``)."""
    return {s.name: s.tables for s in named_sets() if s.tables}


def set_angles(name: str) -> Tuple[str, ...]:
    """The angles a named set labels (all three for a name that is not registered, e.g. a shard folder)."""
    d = source_of_set(name)
    return d.angles if d is not None else ANGLES3


def shard_angles(shard_dir: str) -> Tuple[str, ...]:
    """The angles a shard folder labels: no roll when its ``summary.json`` says ``has_roll: false`` or the folder is
    where a registered source without roll keeps its shards (``eth_xgaze``); else its source's, or all three."""
    path = os.path.join(shard_dir, "summary.json")
    summary = {}
    if os.path.isfile(path):
        with open(path) as f:
            summary = json.load(f) or {}
    if summary.get("has_roll") is False:
        return tuple(a for a in ANGLES3 if a != "roll")
    d = source_of_shards(os.path.basename(os.path.normpath(shard_dir)))
    return d.angles if d is not None else ANGLES3


# ----------------------------------------------------------------------------------------- the four sources
register_dataset(Dataset(
    "300w_lp", "300W-LP", "hmtl_tf.data.sources.w300lp", splits=("train",), split_rule=every("train"),
    filtered=("train",), subset_counts=True, marks_real_data=True,
    synthetic="hmtl_tf.data.synthetic.layouts.w300lp:_write_300wlp",
    sets=(NamedSet("300w_lp", "300w_lp", "train", "train",
                   note="all eight subset folders; training picks them (--w300lp_subsets)"),)))
register_dataset(Dataset(
    "aflw2000", "AFLW2000", "hmtl_tf.data.sources.aflw2000", splits=("test", "test_full"),
    split_rule=every("test", "test_full"), filtered=("test",), marks_real_data=True,
    synthetic="hmtl_tf.data.synthetic.layouts.aflw2000:_write_aflw2000",
    sets=(NamedSet("aflw2000", "aflw2000", "test", "test", tables=(2, 4, 5),
                   note="the reduced 1,969 (|angles| <= 99)"),
          NamedSet("aflw2000_full", "aflw2000", "test_full", "test_full", tables=(2,),
                   note="all 2,000 (marked * in Table 2)"),
          NamedSet("aflw2000_visible", "aflw2000_visible", "test", "test", crop_policy="visible",
                   note="the reduced set cropped with the visible policy (sentinels dropped): the demo's test set"))))
register_dataset(Dataset(
    "biwi", "BIWI", "hmtl_tf.data.sources.biwi", splits=("test", "p3_train", "p3_test"), split_rule=biwi_splits,
    filtered=("test", "p3_train", "p3_test"), crop_from_box=True, boxes_file="BIWI.json",
    synthetic="hmtl_tf.data.synthetic.layouts.biwi:_write_biwi",
    sets=(NamedSet("biwi", "biwi", "test", "test", tables=(3,)),)))
register_dataset(Dataset(
    "eth_xgaze", "ETH-XGaze", "hmtl_tf.data.sources.eth_xgaze", splits=("train", "val", "test", "test_person_specific"),
    split_rule=own_split, angles=ANGLES2, precropped="ETH-XGaze patches",
    synthetic="hmtl_tf.data.synthetic.layouts.eth_xgaze:_write_xgaze",
    sets=(NamedSet("eth_xgaze", "eth_xgaze", "train", "val", tables=(1, 6),
                   note="val = subjects 0108, 0109, 0111 (Sec. 4.1)"),
          NamedSet("eth_xgaze_test", "eth_xgaze", "test", "test"))))


if __name__ == "__main__":  # ``make data``: the sources to convert, one a line
    print("\n".join(source_names()))
