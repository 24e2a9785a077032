"""The SSL task registry (issue 15): a task declared in one place reaches the config choices, the pipeline's SSL
transform, the heads and pre-training; the built-in tasks declare what the paper states (Sec. 3.1)."""
import numpy as np
import pytest
import tensorflow as tf

from hmtl_tf import config as C
from hmtl_tf import metrics
from hmtl_tf.data import pipeline, ssl_tasks
from hmtl_tf.models import heads
from hmtl_tf.models.hmtl import build_network
from hmtl_tf.ssl import registry
from tests.helpers import random_items, write_records

DUMMY = registry.SSLTask("rotation3x3", grid=3, branches=(registry.Branch("rotation", 4, "rotate"),),
                         paper="test only")


@pytest.fixture
def dummy():
    registry.register_task(DUMMY)
    yield DUMMY
    registry.unregister_task(DUMMY.name)


def test_builtin_tasks_declare_the_paper():
    assert C.SSL_TASKS == ("none", "puzzle2x2", "puzzle3x3", "rotation2x2", "puzzle_rotation2x2")
    assert {t: C.ssl_grid(t) for t in C.SSL_TASKS} == {"none": 0, "puzzle2x2": 2, "puzzle3x3": 3, "rotation2x2": 2,
                                                      "puzzle_rotation2x2": 2}
    assert [t for t in C.SSL_TASKS[1:] if registry.get_task(t).square] == ["rotation2x2", "puzzle_rotation2x2"]
    for name in C.SSL_TASKS[1:]:  # the declared chance equals the metric's, from the heads' classes
        task = registry.get_task(name)
        assert task.chance == pytest.approx(metrics.pretext_chance([k for _, n, k in task.head_specs()
                                                                    for _ in range(n)]))
    assert registry.get_task("puzzle3x3").chance == pytest.approx(1 / 9)
    from hmtl_tf import pretrain

    assert set(pretrain.PRETEXT) == {"rotation2x2", "puzzle2x2", "puzzle3x3"}  # puzzle_rotation: HMTL-only


def test_register_rejects_a_bad_declaration():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_task(registry.SSLTask("puzzle2x2", 2, (registry.Branch("puzzle", 4, "permute"),)))
    with pytest.raises(ValueError, match="unknown tile op"):
        registry.register_task(registry.SSLTask("swap2x2", 2, (registry.Branch("swap", 2, "swap"),)))
    with pytest.raises(C.ConfigError, match=r"--ssl='rotation3x3': expected one of none, puzzle2x2"):
        C.make_config("smoke", {"ssl.task": "rotation3x3"}).validate()


def test_a_registered_task_reaches_config_pipeline_heads_and_network(dummy, tmp_path):
    # config: a --ssl choice with its grid
    assert "rotation3x3" in C.SSL_TASKS and C.ssl_grid("rotation3x3") == 3
    cfg = C.make_config("smoke", {"ssl.task": "rotation3x3", "ssl.flag": 3, "model.backbone": "resnet18",
                                  "batch_size": 2}).validate()
    # the transform: labels rotation_0..8, each tile turned by its label (exact at a size divisible by 3)
    image = tf.random.uniform((48, 48, 3), 0, 255, seed=1)
    out, labels = ssl_tasks.apply_ssl_task(image, "rotation3x3", tf.constant([3, 4]))
    assert sorted(labels) == sorted(f"rotation_{i}" for i in range(9))
    ks = tf.stack([labels[f"rotation_{i}"] for i in range(9)])
    assert int(tf.reduce_sum(tf.cast(ks > 0, tf.int32))) > 0
    np.testing.assert_allclose(ssl_tasks.unrotate_tiles(out, 3, ks).numpy(), image.numpy(), atol=1e-4)
    # the pipeline: training batches carry the task's targets
    write_records(str(tmp_path), "train", random_items(2, "train", 0))
    x, y = next(iter(pipeline.make_dataset(str(tmp_path), cfg, training=True, split="train")))
    assert {f"rotation_{i}" for i in range(9)} <= set(y) and not any(k.startswith("puzzle") for k in y)
    assert set(np.unique(np.concatenate([y[f"rotation_{i}"].numpy() for i in range(9)]))) <= {0, 1, 2, 3}
    # the heads and the HMTL network: one 4-class head per tile
    assert heads.ssl_head_specs("rotation3x3") == [("rotation", 9, 4)]
    net = build_network(cfg)
    shapes = {k: tuple(v.shape) for k, v in net.output.items()}
    assert {k: s for k, s in shapes.items() if k.startswith("rotation")} == {f"rotation_{i}": (None, 4)
                                                                             for i in range(9)}
