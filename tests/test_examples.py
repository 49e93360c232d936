"""The example scripts train to the accuracy their docstrings claim (slow: run them with
`python -m pytest -m slow tests/test_examples.py`, about two minutes here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the Digits dataset comes from scikit-learn")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_digits_examples_pass_95_percent(name):
    assert _example(name).main() > 0.95
