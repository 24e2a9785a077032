"""The typed config: validation gives one-line errors naming the flag; JSON round trip; flags from fields."""
import subprocess
import sys

import pytest

from hmtl_tf import config as C


@pytest.mark.parametrize("overrides, flag", [
    ({"ssl.flag": 5}, "--flag=5"),
    ({"ssl.task": "jigsaw"}, "--ssl='jigsaw'"),
    ({"model.bin_size": 4}, "--bin_size=4"),
    ({"ssl.task": "puzzle3x3", "data.image_size": 2}, "--image_size=2"),
    ({"ssl.task": "puzzle2x2", "ssl.flag": 4, "data.image_size": 32}, "--image_size=32"),
    ({"model.head": "bins"}, "--head='bins'"),
    ({"optim.optimizer": "sgd"}, "--optimizer='sgd'"),
    ({"data.aug_level": 3}, "--aug_level=3"),
])
def test_invalid_values_raise_one_line_error_naming_the_flag(overrides, flag):
    cfg = C.make_config("smoke", overrides)
    with pytest.raises(C.ConfigError) as e:
        cfg.validate()
    msg = str(e.value)
    assert flag in msg and "\n" not in msg


@pytest.mark.parametrize("task, grid", [("none", 0), ("puzzle2x2", 2), ("puzzle3x3", 3), ("rotation2x2", 2),
                                        ("puzzle_rotation2x2", 2)])
def test_ssl_grid(task, grid):
    assert C.ssl_grid(task) == grid


def test_min_input_size_matches_tap_strides():
    # flags 1-4 have strides 4, 8, 16, 32: a 2x2 map needs 8, 16, 32, 64 px
    assert [C.min_input_size(f) for f in (1, 2, 3, 4)] == [8, 16, 32, 64]


def test_paper_defaults_and_smoke_scale():
    paper = C.make_config("paper")
    assert (paper.data.image_size, paper.batch_size, paper.epochs) == (224, 64, 110)
    assert paper.optim.lr_drops == (20, 100) and paper.model.alpha == 2.0 and paper.ssl.weight == 50.0
    assert paper.optim.optimizer == "adabelief" and paper.model.head == "hopenet" and paper.model.bin_size == 3
    smoke = C.make_config("smoke")
    assert smoke.data.image_size == 64 and smoke.model.backbone == "resnet50"  # same model, smaller input
    paper.validate(), smoke.validate()


def test_json_round_trip_keeps_tuples():
    cfg = C.make_config("smoke", {"ssl.task": "puzzle3x3", "optim.lr_drops": (30, 40), "data.subjects": ("0001",)})
    back = C.TrainConfig.from_json(cfg.to_json())
    assert back == cfg and isinstance(back.optim.lr_drops, tuple)


@pytest.mark.parametrize("args, expect", [
    (["--flag=5"], "--flag=5"),
    (["--ssl=puzzle9x9"], "--ssl="),
    (["--bin_size=4"], "--bin_size=4"),
])
def test_train_cli_rejects_bad_flags_before_heavy_work(args, expect, tmp_path):
    r = subprocess.run([sys.executable, "-m", "hmtl_tf.train", "--scale=smoke", f"--run={tmp_path / 'r'}"] + args,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expect in last
    assert not (tmp_path / "r").exists()  # nothing was written
