"""The runner CLI shared by ``experiments.run`` (the HMTL tables), ``experiments.kdoe`` and ``experiments.mnn``:
common flags, the exit status of a set of jobs, and the absl entry point (``error: ...`` + exit 2 on bad input)."""
from __future__ import annotations

import sys
from typing import Callable, Dict

from absl import app, flags


def define_common_flags(*, results: str, data_root: str, data_root_help: str, rows_help: str,
                        scale_help: str = "paper | smoke (default: paper when real datasets are under --data_root)",
                        print_help: str = "print the commands of the jobs and exit"):
    """--scale, --runs_dir, --results_dir, --data_root, --rows, --print_commands, --report_only."""
    flags.DEFINE_string("scale", "", scale_help)
    flags.DEFINE_string("runs_dir", "runs", "run directories go to <runs_dir>/<scale>/")
    flags.DEFINE_string("results_dir", "results", results)
    flags.DEFINE_string("data_root", data_root, data_root_help)
    flags.DEFINE_list("rows", [], rows_help)
    flags.DEFINE_boolean("print_commands", False, print_help)
    flags.DEFINE_boolean("report_only", False, "rewrite the report from the run directories, run nothing")


def check_no_arguments(argv) -> None:
    if len(argv) > 1:
        raise ValueError(f"unexpected arguments {argv[1:]}; flags are --name=value")


def exit_on_failures(status: Dict[str, str]) -> None:
    """Exit 1 naming the jobs that did not finish (a re-run of the same command resumes them)."""
    failed = [k for k, v in status.items() if not v.startswith(("done", "skipped"))]
    if failed:
        print(f"{len(failed)} job(s) did not finish: {', '.join(failed)}; re-run the same command to resume",
              file=sys.stderr)
        sys.exit(1)


def cli(main: Callable, define_flags: Callable[[], None]) -> None:
    """``define_flags()`` then ``app.run(main)``; a ValueError is one line ``error: ...`` and exit 2. The libraries'
    log lines (TensorFlow's start-up) go to a log file (hmtl_tf.library_log: the jobs' own go to their run
    directories, the runner's to ``$TMPDIR/hmtl_tf_library.log``)."""
    define_flags()

    def _main(argv):
        from hmtl_tf import library_log

        library_log.start(verbose=False)
        try:
            main(argv)
        except ValueError as e:
            print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
            sys.exit(2)
    app.run(_main)
