"""Shared test set-up: single-threaded math, no hub access, and one tiny model per session."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MODELSCOPE_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    has_cuda = False
    if _has("torch"):
        try:
            import torch

            has_cuda = torch.cuda.is_available()
        except Exception:  # pragma: no cover
            has_cuda = False
    skip_ray = pytest.mark.skip(reason="needs the `ray` extra")
    ray_ok = _has("ray")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    skip_train = pytest.mark.skip(reason="needs the `train` extra (torch, ms-swift)")
    train_ok = _has("torch") and _has("swift")
    for item in items:
        # markers, not `item.keywords`: keywords also hold the names of the folders above the test, so a
        # checkout in a folder named `gpu` or `train` would skip everything
        if item.get_closest_marker("gpu") is not None and not has_cuda:
            item.add_marker(skip_gpu)
        if item.get_closest_marker("train") is not None and not train_ok:
            item.add_marker(skip_train)
        if item.get_closest_marker("ray") is not None and not ray_ok:
            item.add_marker(skip_ray)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A Ray instance for `--engine ray` tests: the one at $RAY_ADDRESS (CI starts a 2-CPU head node), else
    a local one with 2 CPUs started here; yields its address and disconnects at the end of the session."""
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, logging_level="WARNING")
        else:
            # "local": a new instance even when this machine has (or had) one from `ray start`
            ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen3-VL built offline once per test session (seed 0)."""
    from vlmdata.models.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-model") / "student"
    build_tiny_model(out, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model with the same tokenizer and different weights (a GKD teacher)."""
    from vlmdata.models.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-model") / "teacher"
    build_tiny_model(out, seed=1, teacher=True)
    return out


@pytest.fixture(autouse=True)
def _template_registry():
    """Templates registered from YAML by one test are not known to the next (the registry is per process)."""
    from vlmdata.render import templates

    saved = dict(templates._USER)
    yield
    templates._USER.clear()
    templates._USER.update(saved)
