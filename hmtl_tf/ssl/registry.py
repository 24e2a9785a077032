"""The SSL task registry (HMTL Sec. 3.1, SPEC section 4): what a pretext task is, in one declaration.

A task states its name, grid, branches (one head per tile each; its classes and the tile op that draws the labels
and transforms the tiles), whether it needs a square image, its loss and (derived) its chance level. ``config``
(the ``--ssl`` choices, ``ssl_grid``), the data pipeline (``hmtl_tf.data.ssl_tasks.apply_ssl_task``), the heads
(``hmtl_tf.models.heads.ssl_head_specs``) and pre-training (``hmtl_tf.pretrain.PRETEXT``) all read it; nothing
parses a task's name. The tasks themselves: one file each under ``hmtl_tf/ssl/tasks/`` (docs/EXTENDING.md).
Pure Python (no TensorFlow): ``config`` imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

TILE_OPS = ("permute", "rotate")  # implemented in hmtl_tf.data.ssl_tasks (TILE_OP_FUNCTIONS), applied in order
LOSSES = ("cross_entropy",)       # summed batch-mean cross-entropy over the heads (HMTL Eq. 1-3 SSL term)


@dataclass(frozen=True)
class Branch:
    """One SSL branch: a head per tile (labels / outputs ``<name>_<i>``), ``classes`` per head."""

    name: str                      # label / head prefix, e.g. "puzzle" -> puzzle_0 .. puzzle_{n-1}
    classes: int                   # classes of each tile's head (puzzle NxN: N², rotation: 4)
    op: str                        # tile op of TILE_OPS: permute (jigsaw) | rotate (per-tile rot90)
    limited: bool = False          # rotate: at most ``ssl.max_rotated_tiles`` tiles turned (puzzle_rotation2x2)


@dataclass(frozen=True)
class SSLTask:
    """A self-supervised task on a grid x grid tiling of the (augmented) input image."""

    name: str                      # the --ssl / --method value
    grid: int                      # N of the N x N tiling
    branches: Tuple[Branch, ...]   # in the order their tile ops apply (puzzle first, then rotation in place)
    pretext: bool = True           # also a stand-alone pre-training method (hmtl_tf.pretrain --method)
    loss: str = "cross_entropy"    # one of LOSSES
    paper: str = ""                # where the task is defined

    @property
    def n_tiles(self) -> int:
        return self.grid * self.grid

    @property
    def square(self) -> bool:
        """Tile rotation needs square tiles, hence a square image."""
        return any(b.op == "rotate" for b in self.branches)

    def head_specs(self) -> List[Tuple[str, int, int]]:
        """``[(branch, n_tiles, n_classes)]``: one Dense head per tile and branch (Sec. 4.1, Fig. 5)."""
        return [(b.name, self.n_tiles, b.classes) for b in self.branches]

    def label_keys(self) -> List[str]:
        """The target / output keys ``<branch>_<i>`` in head order."""
        return [f"{b.name}_{i}" for b in self.branches for i in range(self.n_tiles)]

    @property
    def chance(self) -> float:
        """Chance level of the mean per-head accuracy: the mean of 1 / classes over the heads."""
        heads = [b.classes for b in self.branches for _ in range(self.n_tiles)]
        return sum(1.0 / k for k in heads) / len(heads)


_TASKS: Dict[str, SSLTask] = {}


def register_task(task: SSLTask) -> SSLTask:
    """Adds ``task`` (checked: a grid of at least 2, known tile ops and loss, distinct branch names)."""
    if task.name in ("none", "") or task.name in _TASKS:
        raise ValueError(f"SSL task {task.name!r}: the name is reserved or already registered")
    if task.grid < 2 or not task.branches or len({b.name for b in task.branches}) != len(task.branches):
        raise ValueError(f"SSL task {task.name!r}: expected grid >= 2 and branches with distinct names")
    bad = [b.op for b in task.branches if b.op not in TILE_OPS] + ([task.loss] if task.loss not in LOSSES else [])
    if bad:
        raise ValueError(f"SSL task {task.name!r}: unknown tile op / loss {bad}; expected {TILE_OPS} / {LOSSES}")
    _TASKS[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Removes a registered task (tests registering a dummy one)."""
    _TASKS.pop(name, None)


def task_names() -> Tuple[str, ...]:
    """Registered task names, in registration order (``hmtl_tf.ssl.tasks`` imports the built-in ones)."""
    return tuple(_TASKS)


def get_task(name: str) -> SSLTask:
    """The registered task ``name``; KeyError (the caller names its flag) for an unknown one."""
    return _TASKS[name]
