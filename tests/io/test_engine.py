"""The local engine: results in task order, failures stop the run, a dead worker is a clear error.

Tasks are standard-library functions: worker processes unpickle a task's function by its module name, and
test modules are not importable by name there.
"""

from __future__ import annotations

import math
import os

import pytest

from vlmdata.errors import UsageError, VlmdataError
from vlmdata.io.engine import Engine, EngineOptions, LocalEngine, default_workers, open_engine


def test_default_workers_are_the_usable_cores() -> None:
    assert default_workers() == len(os.sched_getaffinity(0))
    assert EngineOptions().count == default_workers()
    assert EngineOptions(workers=3).count == 3


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--workers"):
        EngineOptions(workers=0)
    with pytest.raises(UsageError, match="--engine"):
        EngineOptions(engine="dask")
    with pytest.raises(UsageError, match="--ray-address needs --engine ray"):
        EngineOptions(ray_address="127.0.0.1:6379")


def test_one_worker_or_one_task_runs_in_process() -> None:
    assert type(open_engine(EngineOptions(workers=1), 10)) is Engine
    assert type(open_engine(EngineOptions(workers=4), 1)) is Engine
    with open_engine(EngineOptions(workers=1), 3) as engine:
        assert list(engine.map(math.factorial, [3, 4, 5])) == [6, 24, 120]


def test_results_come_back_in_task_order() -> None:
    tasks = [3000, 2, 2500, 1, 2800, 5, 4, 2000, 3, 7] * 3  # heavy and light tasks finish out of order
    with LocalEngine(3) as engine:
        assert engine.window == 6
        got = list(engine.map(math.factorial, tasks))
    assert got == [math.factorial(t) for t in tasks]


def test_a_failing_task_stops_the_run_with_its_exception() -> None:
    with pytest.raises(ValueError, match="math domain error"), LocalEngine(2) as engine:
        for _ in engine.map(math.sqrt, [1.0, 4.0, -1.0] + [9.0] * 50):
            pass
    assert engine.pool._shutdown_thread  # the pool is shut down, not left running


def test_a_dead_worker_is_vd008() -> None:
    with pytest.raises(VlmdataError) as info, LocalEngine(2) as engine:
        list(engine.map(os._exit, [3, 3]))
    assert info.value.code_str == "VD008" and info.value.exit_code == 2
