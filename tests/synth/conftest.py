"""Fixtures of the synth tests: one small generated set per session, and the independent geometry oracle."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SMALL = {"min_size": 96, "max_size": 320, "max_objects": 8}


@pytest.fixture(scope="session")
def oracle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_oracle", Path(__file__).with_name("_oracle.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corrupt_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 clean records (mixed domains, small images, a val split) with 2 planted records of every defect."""
    from vlmdata.synth import generate

    out = tmp_path_factory.mktemp("synth") / "corrupt"
    generate(out, 60, seed=11, corrupt=2, val_fraction=0.1, **SMALL)
    return out
