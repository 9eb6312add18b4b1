"""`--engine ray`: the same shard functions as Ray tasks give the same bytes as one local process; a task
whose worker dies is retried by Ray; an interrupted run leaves the previous output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vlmdata.io.engine import EngineOptions, RayEngine
from vlmdata.validate import ValidateOptions, validate_files

from .test_workers import BLOCK, inputs, run, tree  # noqa: F401 - the module fixture is shared

pytestmark = pytest.mark.ray


def test_ray_writes_the_same_bytes_as_one_process(inputs, ray_cluster: str, tmp_path: Path) -> None:  # noqa: F811
    one = run(inputs, tmp_path / "one", EngineOptions(workers=1))
    distributed = run(inputs, tmp_path / "ray", EngineOptions(engine="ray", ray_address=ray_cluster))
    assert distributed.keys() == one.keys()
    for name in one:
        assert distributed[name] == one[name], name


def test_a_task_whose_worker_dies_is_retried(ray_cluster: str, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()

    def dies_once(task: int) -> int:  # pickled by value: a local function
        flag = flags / str(task)
        if task % 3 == 0 and not flag.exists():
            flag.touch()
            os._exit(1)  # the worker process dies mid-task, as a killed node would
        return task * task

    with RayEngine(None, ray_cluster) as engine:
        assert list(engine.map(dies_once, range(9))) == [t * t for t in range(9)]
    assert sorted(p.name for p in flags.iterdir()) == ["0", "3", "6"]  # each died once, then ran again


def test_an_interrupted_run_leaves_the_previous_output(inputs, ray_cluster: str, tmp_path: Path) -> None:  # noqa: F811
    files, val, _ = inputs
    out = tmp_path / "out"
    engine = EngineOptions(engine="ray", ray_address=ray_cluster)
    options = ValidateOptions(val=[val], block_bytes=BLOCK, shard_bytes=2 * BLOCK, engine=engine)
    validate_files(files[:1], out, options)
    before = tree(out)
    seen: list[int] = []

    def interrupt(nbytes: int) -> None:
        seen.append(nbytes)
        if len(seen) == 5:
            raise KeyboardInterrupt

    options.progress = interrupt
    with pytest.raises(KeyboardInterrupt):
        validate_files(files, out, options)
    assert tree(out) == before
    assert not list(tmp_path.glob(".tmp-out.*"))
