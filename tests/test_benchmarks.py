"""benchmarks/: the verdicts follow the stated targets (the timings themselves are never unit-tested)."""
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "benchmarks", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_step_verdict_needs_both_targets():
    v = _load("train_step").verdict
    assert v(1.05, 50.0, 40.0) == "PASS"
    assert v(1.05, 50.0, None) == "PASS"                       # no PyTorch peer: only the SSL-cost target
    assert v(1.05, 46.6, 54.9).startswith("FAIL") and "PyTorch" in v(1.05, 46.6, 54.9)  # SL/torch 0.85
    assert "1.25" in v(1.30, 50.0, 40.0)
