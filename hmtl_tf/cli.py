"""absl flags generated from the typed config (hmtl_tf.config), so flags and experiment rows share one source.

Every TrainConfig field becomes a flag named after the field (``--epochs``, ``--image_size``, ``--lr``), except a
few renamed for the paper's vocabulary or to avoid collisions (``FLAG_NAMES``: ``--ssl`` = ssl.task, ``--flag`` =
ssl.flag, ``--ssl_weight``, ``--dropout`` = model.dropout, ``--ssl_dropout`` ...). Only flags the user actually gave
override the scale's defaults.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
from typing import Any, Dict, List, Tuple

from absl import flags

from hmtl_tf import config as C
from hmtl_tf.data.sample import DataError
from hmtl_tf.rundir import DiskFullError

# (section, field) -> flag name where it differs from the field name.
FLAG_NAMES = {
    ("ssl", "task"): "ssl",
    ("ssl", "flag"): "flag",
    ("ssl", "weight"): "ssl_weight",
    ("ssl", "prob"): "ssl_prob",
    ("ssl", "heads"): "ssl_heads",
    ("ssl", "dropout"): "ssl_dropout",
    ("ssl", "max_rotated_tiles"): "max_rotated_tiles",
    ("optim", "epsilon"): "adabelief_epsilon",
}
SECTIONS = (("", C.TrainConfig), ("data", C.DataConfig), ("model", C.ModelConfig), ("ssl", C.SSLConfig),
            ("optim", C.OptimConfig), ("mnn", C.MNNConfig))
_SKIP = {("", "data"), ("", "model"), ("", "ssl"), ("", "optim"), ("", "mnn"), ("", "scale")}
PREFIXED = ("mnn",)  # sections whose flags are ``--<section>_<field>`` (``--mnn_alpha_ae``)


def _fields() -> List[Tuple[str, str, dataclasses.Field]]:
    out = []
    for section, kind in SECTIONS:
        for f in dataclasses.fields(kind):
            if (section, f.name) in _SKIP:
                continue
            plain = f"{section}_{f.name}" if section in PREFIXED else f.name
            out.append((section, FLAG_NAMES.get((section, f.name), plain), f))
    return out


# --help groups (issue 14): config sections, top-level fields by what they set
HELP_GROUPS = (("data", "data: which images, how they are cropped and augmented (Sec. 4.1-4.2)"),
               ("model", "model: backbone, heads and their losses (Sec. 3.1, 3.3)"),
               ("ssl", "ssl: the self-supervised branch (Sec. 3.2, 3.4)"),
               ("optim", "optim: optimiser, learning rate and training length (Sec. 4.2)"),
               ("mnn", "mnn: the MNN peer (Valle et al.)"),
               ("run", "run: output, devices, seeds and model selection (SPEC 8)"))
_OPTIM_TOP = ("epochs", "batch_size", "steps_per_epoch")


def field_comments(kind) -> Dict[str, str]:
    """``{field: comment}`` of a config dataclass, read from its source: the trailing ``# ...`` of the field's line,
    else the comment lines right above it (so help text lives beside the field in hmtl_tf.config)."""
    import inspect
    import io
    import tokenize

    try:
        src = inspect.getsource(kind)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(kind)}
    trailing: Dict[int, str] = {}
    block: Dict[int, str] = {}
    starts: Dict[int, str] = {}
    first_on_line: Dict[int, Any] = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        row = tok.start[0]
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            if row in first_on_line:
                trailing[row] = text
            else:
                block[row] = text
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            if row not in first_on_line:
                first_on_line[row] = tok
                if tok.type == tokenize.NAME and tok.string in names and tok.start[1] == 4:
                    starts[row] = tok.string
    out: Dict[str, str] = {}
    for row, name in starts.items():
        text = trailing.get(row, "")
        above, r = [], row - 1
        while r in block:
            above.insert(0, block[r])
            r -= 1
        out[name] = text or " ".join(above)
    return out


def _expand_choices(text: str) -> str:
    """``one of SSL_TASKS`` -> ``one of none, puzzle2x2, ...`` (the tuples of hmtl_tf.config)."""
    import re

    def sub(m):
        v = getattr(C, m.group(0), None)
        return ", ".join(map(str, v)) if isinstance(v, tuple) and v and all(isinstance(x, str) for x in v) \
            else m.group(0)

    return re.sub(r"\b[A-Z][A-Z0-9_]{2,}\b", sub, text)


def help_group(section: str, name: str) -> str:
    if section:
        return section
    return "optim" if name in _OPTIM_TOP else "run"


def field_help(section: str, f: dataclasses.Field, comments: Dict[str, str]) -> str:
    where = f"{section}.{f.name}" if section else f.name
    text = _expand_choices(comments.get(f.name, "")) or "see hmtl_tf/config.py"
    return f"{text} [{where}]"


def config_help() -> str:
    """The config flags, grouped (data, model, ssl, optim, mnn, run), each with its field comment and default."""
    comments = {kind: field_comments(kind) for _, kind in SECTIONS}
    groups: Dict[str, List[str]] = {g: [] for g, _ in HELP_GROUPS}
    for section, name, f in _fields():
        kind = dict(SECTIONS)[section]
        default = _default(f)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = textwrap.fill(field_help(section, f, comments[kind]), 110, initial_indent="      ",
                             subsequent_indent="      ")
        groups[help_group(section, f.name)].append(f"  --{name}={shown}\n{text}")
    lines = []
    for g, title in HELP_GROUPS:
        if groups[g]:
            lines += ["", title] + groups[g]
    return "\n".join(lines)


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def define_config_flags() -> None:
    """Defines one absl flag per config field (idempotent)."""
    if "image_size" in flags.FLAGS:
        return
    comments = {kind: field_comments(kind) for _, kind in SECTIONS}
    for section, name, f in _fields():
        default = _default(f)
        help_ = field_help(section, f, comments[dict(SECTIONS)[section]])
        if isinstance(default, bool):
            flags.DEFINE_boolean(name, default, help_)
        elif isinstance(default, int):
            flags.DEFINE_integer(name, default, help_)
        elif isinstance(default, float):
            flags.DEFINE_float(name, default, help_)
        elif isinstance(default, tuple):
            flags.DEFINE_list(name, [str(v) for v in default], help_ + " (comma-separated)")
        else:
            flags.DEFINE_string(name, default, help_)
    flags.DEFINE_string("scale", "", "paper | smoke; default: paper when the real datasets are found under "
                        "--data_root, else smoke (synthetic heads)")


def _convert_list(values, default_tuple) -> tuple:
    if not default_tuple:
        return tuple(values)
    kind = type(default_tuple[0])
    try:
        return tuple(kind(v) for v in values if str(v) != "")
    except ValueError as e:
        raise C.ConfigError(f"could not read the list {values!r}: {e}") from None


def overrides_from_flags() -> Dict[str, Any]:
    """``{"section.field": value}`` for every flag the user set explicitly."""
    fl = flags.FLAGS
    out: Dict[str, Any] = {}
    for section, name, f in _fields():
        if not fl[name].present:
            continue
        value = fl[name].value
        default = _default(f)
        if isinstance(default, tuple):
            value = _convert_list(value, default)
        out[f"{section}.{f.name}" if section else f.name] = value
    return out


def config_from_flags(scale: str) -> C.TrainConfig:
    cfg = C.make_config(scale, overrides_from_flags())
    return cfg


def quiet_libraries() -> None:
    """The libraries' Python-level records at INFO (absl's ``app.run`` default, unless ``--verbosity`` is given):
    they go to library.log (:mod:`hmtl_tf.library_log`), not the console, so nothing of them needs silencing."""
    from absl import flags, logging

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.INFO)


def usage_errors() -> tuple:
    """The errors a command reports as one ``error: ...`` line and exit status 2 (bad input, not a bug)."""
    return (C.ConfigError, DataError, FileNotFoundError, DiskFullError)


def guarded(fn, *args) -> int:
    """Runs ``fn(*args)``; a usage error becomes one ``error: <first line>`` on stderr and 2 (else fn's result)."""
    try:
        return fn(*args)
    except usage_errors() as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2


def start_tensorflow_quietly(verbose: bool = False) -> None:
    """Sends the libraries' output to library.log (:func:`hmtl_tf.library_log.start`; the console too under
    ``--verbose``), then imports TensorFlow and lists its devices, so its start-up lines (``All log messages before
    absl::InitializeLog()``, ``oneDNN``, ``cudart_stub``, ``cuInit``; written from C++ to fd 2 before
    ``TF_CPP_MIN_LOG_LEVEL`` applies) land there too."""
    from hmtl_tf import library_log

    library_log.start(verbose)
    import tensorflow as tf

    tf.config.list_physical_devices()


def run_main(main_fn):
    """absl entry point that turns ConfigError / DataError / FileNotFoundError / DiskFullError into
    ``error: ...`` + exit 2; ``--help`` prints the grouped config flags."""
    from absl import app

    if any(a in ("--help", "-h", "-?", "--helpshort") for a in sys.argv[1:]):
        print_help()
        sys.exit(0)
    if "verbose" not in flags.FLAGS:
        flags.DEFINE_boolean("verbose", False, "also show the libraries' log lines (TensorFlow start-up, Keras "
                             "warnings, absl INFO, SavedModel / tf2onnx) on the console; they always go to "
                             "<run>/library.log")
    verbose = any(a in ("--verbose", "--verbose=true", "--verbose=1") for a in sys.argv[1:])
    if not verbose:  # TensorFlow's C++ INFO lines (its warnings and errors still reach library.log)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

    def wrapped(argv):
        start_tensorflow_quietly(verbose)
        quiet_libraries()
        code = guarded(main_fn, argv)
        if code:
            sys.exit(code)

    app.run(wrapped)


def print_help() -> None:
    """``--help``: the command's docstring, its own flags, then the config flags by group (``--helpfull``: all)."""
    main = sys.modules.get("__main__")
    doc = (getattr(main, "__doc__", None) or "").strip()
    if doc:
        print(doc.split("\n\n")[0])
    own = flags.FLAGS.main_module_help()
    if own.strip():
        print(own)
    if "image_size" in flags.FLAGS:
        print(config_help())
    print("\n(--helpfull: every flag, including absl's)")


def _parse_value(name: str, text: str, default):
    """A command-line value as its config field's type (bool / int / float / tuple of the default's kind / str)."""
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"expected true or false, got {text!r}")
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError as e:
        raise C.ConfigError(f"--{name}={text}: {e}") from None
    if isinstance(default, tuple):
        return _convert_list(text.split(",") if text else [], default)
    return text


def config_from_args(args) -> C.TrainConfig:
    """The TrainConfig of ``hmtl_tf.train`` command-line flags (``--name=value``, ``--name`` / ``--noname`` for
    booleans), without absl's global flag state: what ``train`` would run, for checking experiment rows offline."""
    by_flag = {name: (section, f) for section, name, f in _fields()}
    scale, overrides = "paper", {}
    for arg in args:
        if not arg.startswith("--"):
            raise C.ConfigError(f"{arg!r}: expected --name=value")
        name, eq, text = arg[2:].partition("=")
        if name == "scale":
            scale = text
            continue
        if not eq and name.startswith("no") and name[2:] in by_flag:
            name, text, eq = name[2:], "false", "="
        if name not in by_flag:
            raise C.ConfigError(f"--{name}: unknown flag of hmtl_tf.train")
        section, f = by_flag[name]
        default = _default(f)
        if not eq:
            if not isinstance(default, bool):
                raise C.ConfigError(f"--{name}: expected --{name}=value")
            text = "true"
        overrides[f"{section}.{f.name}" if section else f.name] = _parse_value(name, text, default)
    if scale not in ("paper", "smoke"):
        raise C.ConfigError(f"--scale={scale!r}: expected paper or smoke")
    return C.make_config(scale, overrides)


def flag_text(value) -> str:
    """A typed config value as written on the command line, read back by :func:`config_from_args` to the same value:
    ``true`` / ``false``, an integral float without ``.0`` (``2.0`` -> ``2``), a tuple joined by commas."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (tuple, list)):
        return ",".join(flag_text(v) for v in value)
    return str(value)


def flag_pairs(overrides: Dict[str, Any]) -> List[Tuple[str, str]]:
    """``[(flag name, text)]`` of ``{"section.field": value}`` overrides (``config.check_overrides``), in order: the
    ``hmtl_tf.train`` flags that set them (``ssl.weight`` -> ``ssl_weight``, ``model.dropout`` -> ``dropout``)."""
    names = {f"{section}.{f.name}" if section else f.name: name for section, name, f in _fields()}
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise C.ConfigError(f"{unknown[0]!r}: not a config field with an hmtl_tf.train flag")
    return [(names[k], flag_text(v)) for k, v in overrides.items()]


def argv_from_overrides(overrides: Dict[str, Any]) -> List[str]:
    """``--name=value`` arguments of ``hmtl_tf.train`` that :func:`config_from_args` reads back to ``overrides``."""
    return [f"--{name}={text}" for name, text in flag_pairs(overrides)]
