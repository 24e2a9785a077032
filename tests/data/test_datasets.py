"""The dataset registry (hmtl_tf.data.datasets, issue 15): the four sources as the protocol states them, and a
registered dummy dataset reaching the readers, the converter, locate, train's angles and config."""
import json
import subprocess
import sys
import types

import numpy as np
import pytest

from hmtl_tf import config as C
from hmtl_tf.data import convert, datasets, locate
from hmtl_tf.data.sample import RawSample
from hmtl_tf.data.sources import get_reader


def _sample(dataset, split="train", **extra):
    return RawSample(source_id="x", dataset=dataset, ypr=np.zeros(3), load_image=lambda: None, split=split,
                     extra=extra)


def test_the_four_sources_and_their_named_sets():
    assert datasets.source_names() == ("300w_lp", "aflw2000", "biwi", "eth_xgaze")
    assert locate.NAMES == {  # the table locate held before the registry
        "300w_lp": ("300w_lp", "train", "train"),
        "aflw2000": ("aflw2000", "test", "test"),
        "aflw2000_full": ("aflw2000", "test_full", "test_full"),
        "aflw2000_visible": ("aflw2000_visible", "test", "test"),
        "biwi": ("biwi", "test", "test"),
        "eth_xgaze": ("eth_xgaze", "train", "val"),
        "eth_xgaze_test": ("eth_xgaze", "test", "test"),
    }
    assert locate.REAL_MARKERS == ("300w_lp", "aflw2000")
    assert C.DATASETS == tuple(locate.NAMES)
    assert datasets.eval_tables() == {"aflw2000": (2, 4, 5), "aflw2000_full": (2,), "biwi": (3,), "eth_xgaze": (1, 6)}


def test_angles_crop_policies_and_boxes_per_source():
    assert datasets.get("eth_xgaze").angles == ("yaw", "pitch")  # Sec. 4.1: no roll
    assert all(datasets.get(n).angles == ("yaw", "pitch", "roll") for n in ("300w_lp", "aflw2000", "biwi"))
    assert datasets.get("eth_xgaze").crop_policies == ("none",)
    assert datasets.get("aflw2000").default_crop_policy == "hopenet"
    assert datasets.get("biwi").crop_from_box and datasets.get("biwi").boxes_file == "BIWI.json"
    assert [d.name for d in datasets.sources() if d.subset_counts] == ["300w_lp"]
    assert datasets.set_angles("eth_xgaze_test") == ("yaw", "pitch") and datasets.set_angles("/a/dir") == C.ANGLES3


def test_split_rules_are_the_protocols():
    """The converter's output splits per sample and the +-99 filter (SPEC 2), as the per-dataset branches had them."""
    assert convert._out_splits(_sample("300w_lp")) == [("train", True)]
    assert convert._out_splits(_sample("aflw2000", "test")) == [("test", True), ("test_full", False)]
    assert convert._out_splits(_sample("biwi", "test")) == [("test", True)]
    assert convert._out_splits(_sample("biwi", "test", protocol3="train")) == [("test", True), ("p3_train", True)]
    assert convert._out_splits(_sample("eth_xgaze", "val")) == [("val", False)]


def test_readers_and_synthetic_writers_resolve():
    for d in datasets.sources():
        reader = d.reader_module()
        assert get_reader(d.name) is reader and reader.NAME == d.name
        assert callable(reader.find_root) and callable(reader.iter_samples)
        assert callable(d.synthetic_writer()), d.name


def test_shard_angles(tmp_path):
    (tmp_path / "eth_xgaze").mkdir()
    assert datasets.shard_angles(str(tmp_path / "eth_xgaze")) == ("yaw", "pitch")
    other = tmp_path / "mine"
    other.mkdir()
    assert datasets.shard_angles(str(other)) == ("yaw", "pitch", "roll")
    (other / "summary.json").write_text(json.dumps({"has_roll": False}))
    assert datasets.shard_angles(str(other)) == ("yaw", "pitch")


def test_registering_twice_or_a_taken_set_name_fails():
    with pytest.raises(ValueError, match="already registered"):
        datasets.register_dataset(datasets.Dataset("biwi", "BIWI", "x", ("test",), datasets.every("test")))
    with pytest.raises(ValueError, match="already registered"):
        datasets.register_dataset(datasets.Dataset("other", "O", "x", ("test",), datasets.every("test"),
                                                   sets=(datasets.NamedSet("aflw2000", "o", "test", "test"),)))


def test_make_data_lists_the_sources():
    out = subprocess.run([sys.executable, "-m", "hmtl_tf.data.datasets"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == list(datasets.source_names())


@pytest.fixture
def dummy_dataset(monkeypatch, tmp_path):
    """A fifth source: a reader module of four 64 px images with yaw and pitch, registered as ``dummy``."""
    reader = types.ModuleType("dummy_reader")
    reader.NAME = "dummy"

    def find_root(root):
        return root

    def iter_samples(root, *, split=None, boxes=None, on_error=None):
        for i in range(4):
            image = np.full((64, 64, 3), 40 * i, np.uint8)
            pts = np.array([[16.0, 16.0], [48.0, 48.0]])
            yield RawSample(source_id=f"img{i}", dataset="dummy", ypr=np.array([10.0 * i, -5.0, 0.0]),
                            load_image=lambda image=image: image, split="train" if i < 3 else "test", pt2d=pts,
                            has_roll=False, image_path=str(tmp_path / f"img{i}.png"))

    reader.find_root, reader.iter_samples = find_root, iter_samples
    monkeypatch.setitem(sys.modules, "dummy_reader", reader)
    d = datasets.register_dataset(datasets.Dataset(
        "dummy", "Dummy", "dummy_reader", splits=("train", "test"), split_rule=datasets.own_split,
        filtered=("train",), angles=("yaw", "pitch"),
        sets=(datasets.NamedSet("dummy", "dummy", "train", "test"),
              datasets.NamedSet("dummy_visible", "dummy_visible", "test", "test", crop_policy="visible"))))
    yield d
    datasets.unregister_dataset("dummy")


def test_a_registered_dataset_reaches_reader_converter_locate_train_and_config(dummy_dataset, tmp_path):
    from hmtl_tf.data import smoke
    from hmtl_tf.train import training_angles

    assert get_reader("dummy").NAME == "dummy" and "dummy" in C.DATASETS and "dummy_visible" in locate.NAMES
    summary = convert.prepare_dataset("dummy", str(tmp_path), str(tmp_path / "shards"), progress=False)
    assert summary["crop_policy"] == "hopenet" and summary["splits"]["train"]["kept"] == 3
    assert summary["splits"]["test"]["kept"] == 1
    path, split = locate.resolve("dummy", str(tmp_path / "shards"), training=False)
    assert (path, split) == (str(tmp_path / "shards" / "dummy"), "test")
    assert training_angles(C.make_config("smoke"), path) == ("yaw", "pitch")
    assert [(d.name, v.name) for d, v in smoke._variants()] == [("aflw2000", "aflw2000_visible"),
                                                              ("dummy", "dummy_visible")]
