"""Readers of the public datasets in their published layouts (DATA_FACTS 1-3).

Each reader module has ``find_root(root)`` (the dataset folder under ``root`` or None) and
``iter_samples(root, *, split=None, boxes=None, on_error=None, ...) -> Iterator[RawSample]``: sorted,
deterministic, labels in the internal convention (hmtl_tf.angles).
"""
from __future__ import annotations

from types import ModuleType

from ..sample import DataError
from . import aflw2000, biwi, eth_xgaze, w300lp

DATASETS = {"300w_lp": w300lp, "aflw2000": aflw2000, "biwi": biwi, "eth_xgaze": eth_xgaze}


def get_reader(name: str) -> ModuleType:
    """The reader module of a dataset name; one-line DataError listing the valid names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}") from None
