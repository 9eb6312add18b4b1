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
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Ray cluster for `--engine ray` tests: $RAY_ADDRESS (CI starts a 2-CPU head node), else
    a 2-CPU head node started here as its own process (`ray start --block`) and ended with the session. The
    test process itself only connects for the length of a run (the engine disconnects what it connected), so no
    other test sees Ray initialised: ms-swift switches to Ray-based training when it is."""
    import socket
    import subprocess
    import sys
    import time

    address = os.environ.get("RAY_ADDRESS")
    if address:
        yield address
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the client side of it (a local, short-lived node)
    log = tmp_path_factory.mktemp("ray") / "ray.log"
    with open(log, "wb") as sink:
        head = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ray.scripts.scripts",
                "start",
                "--head",
                "--block",
                "--num-cpus=2",
                f"--port={port}",
                "--include-dashboard=false",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        check = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); ray.shutdown()"
        deadline = time.monotonic() + 120
        while subprocess.run([sys.executable, "-c", check], env=env, capture_output=True).returncode != 0:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the local Ray head node did not start: {log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(1)
        yield address
    finally:
        head.terminate()  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


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


@pytest.fixture
def header_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path validate's one header cache actually reads (`imagecheck.HeaderProbe`), in order."""
    import vlmdata.validate.imagecheck as imagecheck
    from vlmdata.io.images import probe_image

    seen: list[str] = []

    def counting(path: str, max_pixels: int | None = None) -> object:
        seen.append(path)
        return probe_image(path, max_pixels)

    monkeypatch.setattr(imagecheck, "probe_image", counting)
    return seen
