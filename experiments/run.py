"""``python -m experiments.run --table=N``: every row of the paper's Table N, trained, evaluated, reported.

    python -m experiments.run --table=2 --scale=smoke          # synthetic heads, CPU size
    python -m experiments.run --table=2 --scale=paper          # the paper's protocol (real data, GPUs)
    python -m experiments.run --table=4 --rows=le_bt,ft_bt     # some rows only
    python -m experiments.run --table=3 --print_commands       # the exact commands, nothing run
    python -m experiments.run --evaluate=biwi                  # evaluate every finished run on BIWI (make eval-biwi)

Runs what is not finished (a job whose output exists is skipped; an interrupted one is re-run with the same
command, which resumes from its checkpoints), evaluates, and writes ``<results_dir>/tableN.md`` and ``.csv`` plus
the table's figures. Default scale: ``paper`` when the real datasets are found under ``--data_root``, else
``smoke``. Run directories: ``<runs_dir>/<scale>/<run>``; logs: ``<runs_dir>/<scale>/logs/<job>.log``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from experiments import figures as F
from experiments import report as R
from experiments import runner
from experiments.plan import DEFAULT_DATA_ROOT, TABLES, Job, plan_jobs, select_rows, table_module
from experiments.rows import SCALES, Row
from hmtl_tf.data import datasets

CommandRunner = Callable[[List[str], str], int]  # (argv, log path) -> return code
EVAL_TABLES = datasets.eval_tables()  # named set -> the tables reporting it (hmtl_tf.data.datasets)


def subprocess_runner(argv: List[str], log_path: str) -> int:
    """Runs ``argv``, appending its output to ``log_path``; returns the exit code."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(argv)}\n")
        log.flush()
        return subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env)


def smoke_subjects(n: int) -> List[str]:
    """The first ``n`` ETH-XGaze training subjects of the synthetic shards (fewer when fewer exist)."""
    import tensorflow as tf

    from hmtl_tf.data.locate import resolve
    from hmtl_tf.data.pipeline import resolve_files
    from hmtl_tf.data.smoke import ensure_smoke_data

    path, split = resolve("eth_xgaze", ensure_smoke_data(), training=True)
    spec = {"subject": tf.io.FixedLenFeature([], tf.string, default_value=b"")}
    seen = set()
    for rec in tf.data.TFRecordDataset(resolve_files(path, split)):
        seen.add(tf.io.parse_single_example(rec, spec)["subject"].numpy().decode())
    ids = sorted(s for s in seen if s)[:n]
    if len(ids) < n:
        print(f"smoke data: {n} ETH-XGaze training subject(s) asked, the synthetic shards hold {len(ids)}; "
              f"using {', '.join(ids)}", file=sys.stderr)
    return ids


def default_scale(data_root: str) -> str:
    from hmtl_tf.data.locate import real_data_present

    return "paper" if real_data_present(data_root) else "smoke"


def log_path(runs_dir: str, scale: str, job: Job) -> str:
    return os.path.join(runs_dir, scale, "logs", job.name.replace("/", "__") + ".log")


def prune_checkpoints(job: Job) -> None:
    """A finished smoke job never resumes: drop its per-epoch checkpoints (model + optimizer, ~0.6 GB a run);
    the pre-trained backbone file, best.weights.h5, the inference model and metrics stay."""
    import shutil

    if job.kind == "train":
        shutil.rmtree(os.path.join(os.path.dirname(job.output), "checkpoints"), ignore_errors=True)
    elif job.kind == "pretrain" and job.output.endswith(".weights.h5"):
        shutil.rmtree(job.output[: -len(".weights.h5")] + ".ckpt", ignore_errors=True)


def execute(jobs: Sequence[Job], runs_dir: str, scale: str, runner: CommandRunner,
            say: Callable[[str], None] = print) -> Dict[str, str]:
    """Runs the jobs that are not done, in order; a job whose dependency failed is skipped.
    Returns ``{job name: "done" | "skipped (done)" | "failed (rc N, log)" | "blocked by ..."}``."""
    status: Dict[str, str] = {}
    for job in jobs:
        blocked = [d for d in job.deps if not status.get(d, "done").startswith(("done", "skipped"))]
        if blocked:
            status[job.name] = f"blocked by {blocked[0]}"
            say(f"[{scale}] {job.name}: blocked ({blocked[0]} failed)")
            continue
        if job.done():
            status[job.name] = "skipped (done)"
            say(f"[{scale}] {job.name}: finished earlier, skipped")
            continue
        missing = job.missing()
        if missing:
            status[job.name] = f"missing input {missing[0]}"
            say(f"[{scale}] {job.name}: not run, its input {missing[0]} does not exist")
            continue
        log = log_path(runs_dir, scale, job)
        say(f"[{scale}] {job.name}: {job.command()}  (log {log})")
        t0 = time.time()
        rc = runner(job.argv, log)
        took = time.time() - t0
        if rc == 0 and job.done():
            status[job.name] = "done"
            if scale == "smoke":
                prune_checkpoints(job)
            say(f"[{scale}] {job.name}: done in {took:.0f} s")
        else:
            status[job.name] = f"failed (rc {rc}, see {log})"
            say(f"[{scale}] {job.name}: FAILED (rc {rc}) after {took:.0f} s — see {log}")
    return status


def row_status(rows: Sequence[Row], status: Dict[str, str]) -> Dict[str, str]:
    """The first not-done job of each row (its pre-training, training or evaluation)."""
    out = {}
    for r in rows:
        if r.is_literature:
            continue
        names = ([f"pretrain/{r.pretrain.name}"] if r.pretrain else []) + (
            [f"train/{r.init_run.run}"] if r.init_run is not None else []) + [f"train/{r.run}",
                                                                             f"eval/{r.run}/{r.evaluate}"]
        bad = [f"{n}: {status[n]}" for n in names if n in status and not status[n].startswith(("done", "skipped"))]
        if bad:
            out[r.key] = bad[0]
    return out


def write_report(n: int, scale: str, runs_dir: str, results_dir: str, status: Optional[Dict[str, str]] = None,
                 say: Callable[[str], None] = print) -> str:
    """tableN.md / .csv and the figures from whatever the run directories hold now."""
    module = table_module(n)
    os.makedirs(results_dir, exist_ok=True)
    rows = module.ROWS
    recs = R.records(n, rows, runs_dir, scale, row_status(rows, status or {}))
    kinds = sorted({str(r["data"]) for r in recs if r["data"]})
    data = "/".join(kinds) if kinds else ("synthetic" if scale == "smoke" else "real")
    csv_path = os.path.join(results_dir, f"table{n}.csv")
    md_path = os.path.join(results_dir, f"table{n}.md")
    R.write_csv(csv_path, recs)
    try:
        figs = F.figures_for(n, recs, rows, results_dir, runs_dir, scale)
    except Exception as e:  # a figure must never hide the table
        say(f"figures of table {n} failed: {e}")
        figs = []
    failures = [f"{k}: {v}" for k, v in sorted((status or {}).items())
                if not v.startswith(("done", "skipped"))]
    R.write_markdown(md_path, module, recs, scale, data, figs, failures)
    say(f"table {n} ({scale} scale, {data} data): {md_path}, {csv_path}" + (f", {len(figs)} figure(s)" if figs else ""))
    return md_path


def run_table(n: int, scale: str, runs_dir: str = "runs", results_dir: str = "results", rows: Sequence[str] = (),
              runner: CommandRunner = subprocess_runner, subjects=None, say=print,
              data_root: str = DEFAULT_DATA_ROOT) -> Dict[str, str]:
    """Plans, executes and reports one table; returns the job statuses."""
    if scale not in SCALES:
        raise ValueError(f"--scale={scale!r}: expected paper or smoke")
    module = table_module(n)
    selected = select_rows(module.ROWS, rows)
    jobs = plan_jobs(selected, scale, runs_dir, subjects or (smoke_subjects if scale == "smoke" else None), data_root)
    say(f"table {n}: {len(selected)} row(s), {len(jobs)} job(s) at {scale} scale")
    t0 = time.time()
    status = execute(jobs, runs_dir, scale, runner, say)
    write_report(n, scale, runs_dir, results_dir, status, say)
    ran = sum(v != "skipped (done)" for v in status.values())
    say(f"table {n}: {ran} job(s) run, {len(status) - ran} finished earlier; wall time {time.time() - t0:.0f} s")
    return status


def finished_runs(runs_dir: str, scale: str) -> List[str]:
    root = os.path.join(runs_dir, scale)
    if not os.path.isdir(root):
        return []
    return sorted(os.path.join(root, d) for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "DONE")))


def evaluate_all(dataset: str, scale: str, runs_dir: str, results_dir: str, runner: CommandRunner = subprocess_runner,
                 say=print) -> Dict[str, str]:
    """``make eval-biwi`` / ``eval-aflw2000``: evaluates every finished run with roll (300W-LP-trained) on
    ``dataset`` if not done yet, then rewrites the reports of the tables reporting that dataset."""
    import json

    jobs = []
    for run_dir in finished_runs(runs_dir, scale):
        with open(os.path.join(run_dir, "config.json")) as f:
            angles = json.load(f).get("model", {}).get("angles", [])
        if set(datasets.set_angles(dataset)) <= set(angles):  # ETH-XGaze (no roll): every run; else 3-angle runs
            jobs.append(Job("evaluate", f"eval/{os.path.basename(run_dir)}/{dataset}",
                            [sys.executable, "-m", "hmtl_tf.evaluate", f"--run={run_dir}", f"--dataset={dataset}"],
                            os.path.join(run_dir, "metrics.json"), entry=dataset))
    say(f"evaluate {dataset}: {len(jobs)} finished run(s) at {scale} scale")
    status = execute(jobs, runs_dir, scale, runner, say)
    for n in EVAL_TABLES.get(dataset, ()):
        write_report(n, scale, runs_dir, results_dir, status, say)
    return status


def main(argv):
    from absl import flags

    fl = flags.FLAGS
    runner.check_no_arguments(argv)
    scale = fl.scale or default_scale(fl.data_root)
    if fl.evaluate:
        status = evaluate_all(fl.evaluate, scale, fl.runs_dir, fl.results_dir)
    else:
        if fl.table not in TABLES:
            raise ValueError(f"--table={fl.table}: expected one of {', '.join(map(str, TABLES))}")
        if fl.print_commands:
            module = table_module(fl.table)
            subj = (lambda n: [f"<first {n} synthetic subject(s)>"]) if scale == "smoke" else None
            for job in plan_jobs(select_rows(module.ROWS, fl.rows), scale, fl.runs_dir, subj, fl.data_root):
                print(job.command())
            return
        if fl.report_only:
            write_report(fl.table, scale, fl.runs_dir, fl.results_dir)
            return
        status = run_table(fl.table, scale, fl.runs_dir, fl.results_dir, fl.rows, data_root=fl.data_root)
    runner.exit_on_failures(status)


def define_flags() -> None:
    from absl import flags

    flags.DEFINE_integer("table", 0, "paper table 1-6")
    runner.define_common_flags(results="tableN.md / .csv and figures", data_root=DEFAULT_DATA_ROOT,
                               data_root_help="where the prepared real datasets are looked for",
                               rows_help="only these row keys (see --print_commands)",
                               print_help="print the commands of the table's jobs and exit")
    flags.DEFINE_string("evaluate", "", "evaluate every finished run on this dataset (biwi, aflw2000, ...)")


if __name__ == "__main__":
    runner.cli(main, define_flags)
