"""Shared fixtures and markers for every folder of tests/ (the helpers themselves: ``tests/helpers.py``).

Fixtures: ``realdata`` (the real sample files; skip when absent), ``shards`` (a small synthetic dataset in the four
published layouts, converted; one per session and worker), ``run_dir`` (a finished stand-in run directory, one per
module). A test module may define its own fixture of the same name (pytest's override), as the input-pipeline tests
do for ``shards``.
"""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from tests.helpers import REPO, make_run_dir

REALDATA = pathlib.Path(os.environ.get("HMTL_REALDATA", REPO.parent / "shared" / "realdata"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy test, run by `make test-all` (HMTL_RUN_SLOW=1)")
    config.addinivalue_line("markers", "smoke: one smoke row of an experiment table (runs in `make test`)")
    config.addinivalue_line("markers", "gpu: needs a GPU (benchmarks/gpu_check.sh); skipped, saying so, without one")


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if gpu_items and not _has_gpu():
        skip_gpu = pytest.mark.skip(reason="needs a GPU: no GPU visible to TensorFlow (run benchmarks/gpu_check.sh "
                                           "on a GPU machine)")
        for item in gpu_items:
            item.add_marker(skip_gpu)
    if os.environ.get("HMTL_RUN_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow test: run with `make test-all` (HMTL_RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords and "gpu" not in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def realdata() -> pathlib.Path:
    """../shared/realdata (real public sample files); the test is skipped, saying so, when absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample files not found at {REALDATA} (set HMTL_REALDATA); skipping format test")
    return REALDATA


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """A small synthetic dataset in the four published layouts, converted by data_prep.prepare."""
    from hmtl_tf.data.smoke import SmokeSizes, ensure_smoke_data

    sizes = SmokeSizes(n_300wlp=24, n_aflw2000=12, biwi_sequences=2, biwi_frames=6, xgaze_subjects=4,
                       xgaze_per_subject=8)
    return ensure_smoke_data(str(tmp_path_factory.mktemp("smoke")), sizes, progress=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> str:
    """A finished run directory (config.json + the stand-in inference.keras of ``tests.helpers.make_run_dir``)."""
    return make_run_dir(tmp_path_factory.mktemp("run") / "sl")[0]
