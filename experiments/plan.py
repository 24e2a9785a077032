"""From table rows to jobs: pre-training, training and evaluation commands with their "done" tests.

A job is done when its output exists: the pre-trained weights file (written last by ``hmtl_tf.pretrain``), a run
directory's ``DONE`` marker (written last by ``hmtl_tf.train``), or the evaluation's entry in ``metrics.json``.
A job that is not done is (re-)run with the same command; the commands resume from their own checkpoints.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from experiments.rows import IMAGENET_STANDIN, Row, command_text

TABLES = (1, 2, 3, 4, 5, 6)


def table_module(n: int):
    if n not in TABLES:
        raise ValueError(f"--table={n}: expected one of {', '.join(map(str, TABLES))}")
    return importlib.import_module(f"experiments.table{n}")


@dataclass
class Job:
    kind: str                     # pretrain | train | evaluate
    name: str                     # unique: pretrain/<name>, train/<run>, eval/<run>/<dataset>
    argv: List[str]
    output: str                   # the file whose presence (or metrics entry) means done
    deps: List[str] = field(default_factory=list)
    entry: str = ""               # evaluate: the metrics.json key
    requires: List[str] = field(default_factory=list)  # input files made by no job (ImageNet weights)

    def done(self) -> bool:
        if self.kind == "evaluate":
            return self.entry in read_metrics(os.path.dirname(self.output))
        return os.path.isfile(self.output)

    def command(self) -> str:
        return command_text(self.argv)

    def missing(self) -> List[str]:
        return [p for p in self.requires if not os.path.isfile(p)]


def imagenet_file(flags: Dict[str, str]) -> str:
    """The ImageNet weights file ``--init=imagenet`` reads (``--imagenet_weights`` or the Keras cache), as
    ``hmtl_tf.models.backbone`` resolves it (nothing is downloaded)."""
    if flags.get("imagenet_weights"):
        return flags["imagenet_weights"]
    from hmtl_tf.models.backbone import imagenet_filename, keras_cache_dir

    return os.path.join(keras_cache_dir(), imagenet_filename(flags.get("backbone", "resnet50")))


def read_metrics(run_dir: str) -> Dict[str, dict]:
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def select_rows(rows: Sequence[Row], keys: Sequence[str]) -> List[Row]:
    if not keys:
        return list(rows)
    known = {r.key for r in rows}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"--rows: unknown row(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    return [r for r in rows if r.key in keys]


SubjectsFn = Callable[[int], List[str]]


DEFAULT_DATA_ROOT = "data/shards"


def plan_jobs(rows: Sequence[Row], scale: str, runs_dir: str, subjects: Optional[SubjectsFn] = None,
              data_root: str = DEFAULT_DATA_ROOT) -> List[Job]:
    """The jobs of ``rows`` in execution order (pre-training, then each run and its evaluation), de-duplicated:
    rows sharing a run name or a pre-training job share one job. A non-default ``data_root`` is passed on at
    paper scale (smoke scale always reads the generated synthetic shards). ``--init=imagenet`` needs the ImageNet
    file (a job ``requires`` it); at smoke scale without it the row loads ``IMAGENET_STANDIN`` instead."""
    jobs: Dict[str, Job] = {}
    extra = [f"--data_root={data_root}"] if scale == "paper" and data_root != DEFAULT_DATA_ROOT else []

    def add(job: Job) -> None:
        old = jobs.get(job.name)
        if old is not None and old.argv != job.argv:
            raise ValueError(f"{job.name}: two rows ask for the same run with different commands:\n"
                             f"  {old.command()}\n  {job.command()}")
        jobs.setdefault(job.name, job)

    for row in rows:
        if row.is_literature:
            continue
        deps = []
        if row.pretrain is not None:
            p = row.pretrain
            add(Job("pretrain", f"pretrain/{p.name}", p.argv(runs_dir, scale) + extra, p.out(runs_dir, scale)))
            deps.append(f"pretrain/{p.name}")
        if row.init_run is not None:
            pre = row.init_run
            add(Job("train", f"train/{pre.run}", pre.train_argv(runs_dir, scale) + extra,
                    os.path.join(pre.run_dir(runs_dir, scale), "DONE")))
            deps.append(f"train/{pre.run}")
        ids = subjects(row.subjects) if (row.subjects and scale == "smoke" and subjects) else ()
        run_dir = row.run_dir(runs_dir, scale)
        fl = row.flag_dict()
        argv, requires = row.train_argv(runs_dir, scale, ids) + extra, []
        if "--init=imagenet" in argv:  # (a row's smoke command may drop it: KD-OE's smoke rows start random)
            if scale == "smoke" and not os.path.isfile(imagenet_file(fl)):
                p = IMAGENET_STANDIN
                add(Job("pretrain", f"pretrain/{p.name}", p.argv(runs_dir, scale), p.out(runs_dir, scale)))
                deps.append(f"pretrain/{p.name}")
                argv = [f"--init={p.out(runs_dir, scale)}" if a == "--init=imagenet" else a for a in argv]
            else:
                requires = [imagenet_file(fl)]
        train = Job("train", f"train/{row.run}", argv, os.path.join(run_dir, "DONE"), deps, requires=requires)
        add(train)
        add(Job("evaluate", f"eval/{row.run}/{row.evaluate}", row.eval_argv(runs_dir, scale),
                os.path.join(run_dir, "metrics.json"), [train.name], entry=row.evaluate))
    order = {"pretrain": 0, "train": 1, "evaluate": 1}
    listed = list(jobs.values())
    return sorted(listed, key=lambda j: (order[j.kind], listed.index(j)))
