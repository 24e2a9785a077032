"""Readers of the public datasets in their published layouts (DATA_FACTS 1-3).

Each reader module has ``find_root(root)`` (the dataset folder under ``root`` or None) and
``iter_samples(root, *, split=None, boxes=None, on_error=None, ...) -> Iterator[RawSample]``: sorted,
deterministic, labels in the internal convention (hmtl_tf.angles). Which module reads which dataset is the
dataset's descriptor (``hmtl_tf.data.datasets``, ``Dataset.reader``).
"""
from __future__ import annotations

from types import ModuleType

from .. import datasets as registry
from ..sample import DataError

DATASETS = {d.name: d.reader_module() for d in registry.sources()}  # name -> reader, as registered at import


def get_reader(name: str) -> ModuleType:
    """The reader module of a dataset name; one-line DataError listing the valid names otherwise."""
    d = registry.find(name)
    if d is None:
        raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(registry.source_names())}")
    return d.reader_module()
