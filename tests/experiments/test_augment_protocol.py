"""The augmentation protocol of the papers (issue 12 items 4-5): occluders after the puzzle (HMTL Sec. 4.3), and the
augmentation lists exactly as written (HMTL Sec. 4.1, 4.2, 5.2; KD-OE Sec. 4.3), checked on the resolved configs of
the experiment rows and through the real per-record pipeline function."""
import numpy as np
import pytest
import tensorflow as tf

from experiments import kdoe
from experiments.mnn import row_config
from experiments.plan import TABLES, table_module
from hmtl_tf import config as C
from hmtl_tf.data import crops, pipeline
from tests.helpers import write_records

HMTL_ROWS = [(n, r) for n in TABLES for r in table_module(n).ROWS if not r.is_literature]


def _constant_items(n):
    """A flat grey face image whose crops never leave the image: the only black pixels after augmentation are
    the occluders' (contrast, blur and down-scaling keep a constant image constant)."""
    items = []
    rng = np.random.RandomState(0)
    for i in range(n):
        img = np.full((96, 96, 3), 200, np.uint8)
        pts = rng.uniform(38, 58, (68, 2))
        items.append(dict(image=img, landmarks=pts, ypr=(10.0, 5.0, 2.0), id=f"c_{i}",
                          spec=crops.make_crop_spec("hopenet", "300w_lp", "train", pt2d=pts, image_size=(96, 96))))
    return items


@pytest.mark.parametrize("task", ["puzzle3x3", "puzzle2x2", "rotation2x2"])
def test_cutout_is_one_rectangle_in_the_final_ssl_image(tmp_path, task):
    """Level 2 (no zoom here, so nothing else is black) with an SSL transform: wherever a cutout was drawn, the
    black pixels of the final training image are exactly one filled axis-aligned rectangle. Cutting out before
    the puzzle (the former order) scatters it over the tiles."""
    write_records(str(tmp_path), "train", _constant_items(1))
    cfg = C.make_config("smoke", {"data.aug_set": "contrast+blur+downscale+cutout", "ssl.task": task,
                                  "data.image_size": 64, "seed": 3})
    fn = pipeline.example_fn(cfg, training=True)
    serialized = next(iter(tf.data.TFRecordDataset(str(tmp_path / "train-00000-of-00001.tfrecord"))))
    seen = 0
    for i in range(40):
        image, _ = fn(serialized, pipeline.element_seed(cfg.seed, 0, i))
        black = image.numpy().max(axis=-1) < 1.0
        if not black.any():
            continue
        seen += 1
        rows, cols = np.where(black)
        box = black[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all(), f"element {i}: the occluded pixels are not one rectangle ({black.sum()} of {box.size})"
    assert seen >= 5  # cutout p = 0.5: enough drawn elements were checked


def _hmtl_rows_on_300wlp():
    return [(n, r) for n, r in HMTL_ROWS if n in (2, 3, 4, 5)]


@pytest.mark.parametrize("n,row", _hmtl_rows_on_300wlp(), ids=[f"t{n}-{r.key}" for n, r in _hmtl_rows_on_300wlp()])
def test_hmtl_rows_have_no_flip_and_their_level_set(n, row):
    cfg = row_config(row, "paper")
    assert cfg.data.flip is False  # Sec. 4.2 lists no flip for either level
    ops = C.aug_ops(cfg.data)
    assert ops in (C.AUG_SETS["hmtl_l1"], C.AUG_SETS["hmtl_l2"]), ops


@pytest.mark.parametrize("row", table_module(1).ROWS, ids=[r.key for r in table_module(1).ROWS])
def test_table1_is_random_zoom_and_hue_only(row):
    if row.is_literature:
        pytest.skip("literature row")
    cfg = row_config(row, "paper")
    assert C.aug_ops(cfg.data) == ("zoom", "hue") and "contrast" not in C.aug_ops(cfg.data)  # Sec. 4.1
    assert cfg.data.flip is False


def test_kdoe_stage1_rows_use_their_list_and_order():
    """KD-OE Sec. 4.3: flip and +-15 degree rotation (pose changes first), then their photometric list only: no
    central zoom or down-scaling, which would change the box scale the offset ensemble relies on."""
    stage1 = [r for r in kdoe.ROWS if not r.teacher]
    assert stage1
    for r in stage1:
        cfg = row_config(r, "paper")
        ops = C.aug_ops(cfg.data)
        assert cfg.data.flip is True and cfg.data.rotate_deg == 15.0
        assert ops == C.AUG_SETS["kdoe"] and not {"zoom", "downscale"} & set(ops)
