"""Shared by the training tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def sft_helpers() -> ModuleType:
    """`test_sft.py` as a module: its `sft_plugin`, `make_dataset` and `config` helpers."""
    spec = importlib.util.spec_from_file_location("sft_helpers", Path(__file__).with_name("test_sft.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
