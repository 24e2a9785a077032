"""Shared fixtures: the real sample files (skip when absent), a small synthetic dataset, markers."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
REALDATA = pathlib.Path(os.environ.get("HMTL_REALDATA", REPO.parent / "shared" / "realdata"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy test, run by `make test-all` (HMTL_RUN_SLOW=1)")
    config.addinivalue_line("markers", "smoke: one smoke row of an experiment table (runs in `make test`)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("HMTL_RUN_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow test: run with `make test-all` (HMTL_RUN_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def realdata() -> pathlib.Path:
    """../shared/realdata (real public sample files); the test is skipped, saying so, when absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample files not found at {REALDATA} (set HMTL_REALDATA); skipping format test")
    return REALDATA
