"""absl flags generated from the typed config (hmtl_tf.config), so flags and experiment rows share one source.

Every TrainConfig field becomes a flag named after the field (``--epochs``, ``--image_size``, ``--lr``), except a
few renamed for the paper's vocabulary or to avoid collisions (``FLAG_NAMES``: ``--ssl`` = ssl.task, ``--flag`` =
ssl.flag, ``--ssl_weight``, ``--dropout`` = model.dropout, ``--ssl_dropout`` ...). Only flags the user actually gave
override the scale's defaults.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Dict, List, Tuple

from absl import flags

from hmtl_tf import config as C
from hmtl_tf.data.sample import DataError

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


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def define_config_flags() -> None:
    """Defines one absl flag per config field (idempotent)."""
    if "image_size" in flags.FLAGS:
        return
    for section, name, f in _fields():
        default = _default(f)
        where = f"{section}.{f.name}" if section else f.name
        help_ = f"config field {where}"
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
    """Keeps library noise out of what a user reads: absl's INFO lines (TensorFlow's SavedModel export logs through
    absl, and ``app.run`` starts at INFO unless ``--verbosity`` is given) and Keras' warning that a tf.data input
    ignores ``shuffle`` (our datasets are shuffled statelessly by design)."""
    import warnings

    from absl import flags, logging

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored")


def run_main(main_fn):
    """absl entry point that turns ConfigError / DataError / FileNotFoundError into ``error: ...`` + exit 2."""
    from absl import app

    def wrapped(argv):
        quiet_libraries()
        try:
            return main_fn(argv)
        except (C.ConfigError, DataError, FileNotFoundError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)

    app.run(wrapped)


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
