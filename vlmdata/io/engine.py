"""Where shard tasks run: in this process, on local worker processes, or as tasks on a Ray cluster.

The data commands split their input into deterministic shards (byte ranges of JSONL files, row ranges of
Arrow datasets), run one pure function per shard and merge the results in shard order in the driver (this
process), which alone writes the final outputs. `Engine.map(fn, tasks)` is the one way they do it: results
come back in task order whatever order the tasks finish in, and at most `window` tasks run ahead of the
consumer, so the spill a task leaves behind stays bounded.

- `workers=1` runs every task here, one after the other.
- `workers=N` (the default: the cores this process may use, `os.sched_getaffinity`) runs them on N local
  worker processes forked from a fork server that has imported the task's module once (no per-task start-up;
  no threads of this process are forked). Workers ignore Ctrl-C; the driver stops them when it fails.
- `engine="ray"` submits each task as a Ray task (`ray.init(address=...)` from `ray_address` or
  `RAY_ADDRESS`; without either, a new local Ray instance), and disconnects at the end of the run when it
  connected (a Ray the caller initialised stays). Ray is imported only here, only then. A task
  whose worker dies is retried by Ray (`max_retries`); tasks therefore write their spill atomically and
  idempotently. Inputs, the output folder and the spill must be on storage every node can reach, mounted at
  the same path; a task runs in the driver's working folder when its node has it, so relative paths given
  on the command line resolve as they do on the driver.

A task that raises stops the run: the remaining tasks are cancelled and the exception reaches the caller
(whose output folder, built in a temporary sibling, is then removed).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from vlmdata.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

ENGINES = ("local", "ray")
RAY_RETRIES = 3


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineOptions:
    """How a data command spreads its shards: `workers` (None: every usable core), `engine`, `ray_address`."""

    workers: int | None = None
    engine: str = "local"
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")
        if self.ray_address is not None and self.engine != "ray":
            raise UsageError("--ray-address needs --engine ray")

    @property
    def count(self) -> int:
        return self.workers if self.workers is not None else default_workers()

    @property
    def distributed(self) -> bool:
        return self.engine == "ray"

    def public(self) -> dict[str, Any]:
        return {"engine": self.engine, "workers": self.workers}


class Engine:
    """Runs tasks in this process (the base class) and yields their results in order."""

    workers = 1

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()
        self.close()

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop whatever still runs (the run failed)."""

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        for task in tasks:
            yield fn(task)


class _Windowed(Engine):
    """Submit ahead, collect in order; cancel everything still pending when the consumer stops early."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.window = 2 * workers
        self.pending: deque[Any] = deque()

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Any:
        raise NotImplementedError

    def _result(self, handle: Any) -> Any:
        raise NotImplementedError

    def _cancel(self, handles: list[Any]) -> None:
        raise NotImplementedError

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        it = iter(tasks)
        pending = self.pending
        try:
            for task in it:
                pending.append(self._submit(fn, task))
                if len(pending) >= self.window:
                    break
            while pending:
                result = self._result(pending[0])
                pending.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(self._submit(fn, nxt))
                yield result
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        handles = list(self.pending)
        self.pending.clear()
        self._cancel(handles)


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import pyarrow as pa

        pa.set_cpu_count(1)  # one core per worker: no thread pools fighting each other
        pa.set_io_thread_count(1)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass


class LocalEngine(_Windowed):
    def __init__(self, workers: int, preload: Iterable[str] = ()) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        super().__init__(workers)
        ctx = mp.get_context("forkserver")
        # the main module too: workers forked from the server then never re-run it (a CLI's imports, once)
        ctx.set_forkserver_preload(["__main__", "vlmdata.io.engine", *preload])
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Any:
        return self.pool.submit(fn, task)

    def _result(self, handle: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool:
            from vlmdata.errors import VlmdataError
            from vlmdata.io import codes

            raise VlmdataError(
                codes.WORKER_LOST, f"a worker process died ({self.workers} workers)", exit_code=2
            ) from None

    def _cancel(self, handles: list[Any]) -> None:
        for h in handles:
            h.cancel()
        if any(not h.done() for h in handles):  # running tasks would write on into a folder about to go
            for p in list((getattr(self.pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    p.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayEngine(_Windowed):
    def __init__(self, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            from vlmdata.errors import MISSING_DEPENDENCY

            raise UsageError(
                "--engine ray needs Ray installed",
                hint='pip install "vlmdata[ray]" on the driver and on every node',
                code=MISSING_DEPENDENCY,
            ) from None
        self.ray = ray
        self._connected = not ray.is_initialized()  # ours to disconnect when done
        if self._connected:
            import logging

            kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address is None:  # a new local instance (not one a `ray start` on this machine left behind)
                address = "local"
                kwargs["include_dashboard"] = False
                if workers is not None:
                    kwargs["num_cpus"] = workers
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                from vlmdata.io import codes

                raise UsageError(
                    f"cannot connect to the Ray cluster at {address}: {exc}", code=codes.ENGINE_UNREACHABLE
                ) from None
        total = int(ray.cluster_resources().get("CPU", 1))
        super().__init__(workers or max(1, total))
        self.cwd = os.getcwd()
        self._remote: dict[Callable[..., Any], Any] = {}

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Any:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self.ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(_in_folder)
        return remote.remote(self.cwd, fn, task)

    def _result(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def close(self) -> None:
        """Disconnect from the cluster when this engine connected (a caller's own `ray.init` stays)."""
        if self._connected and self.ray.is_initialized():
            self.ray.shutdown()
        self._connected = False

    def _cancel(self, handles: list[Any]) -> None:
        for h in handles:
            with contextlib.suppress(Exception):
                self.ray.cancel(h, force=True)
        for h in handles:  # wait until nothing runs any more (cancelled tasks raise; that is expected)
            with contextlib.suppress(Exception):
                self.ray.get(h)


def _in_folder(cwd: str, fn: Callable[[Any], Any], task: Any) -> Any:
    """Run `fn(task)` in the driver's working folder when this node has it (so relative paths resolve as on
    the driver; storage every node reaches is mounted at the same place)."""
    if os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)
    return fn(task)


def open_engine(options: EngineOptions | None, tasks: int, preload: Iterable[str] = ()) -> Engine:
    """The engine for `tasks` shard tasks: in process when one worker (or one task) is enough."""
    o = options or EngineOptions()
    if o.distributed:
        return RayEngine(o.workers, o.ray_address)
    workers = min(o.count, tasks)
    if workers <= 1:
        return Engine()
    return LocalEngine(workers, preload)


__all__ = ["ENGINES", "Engine", "EngineOptions", "LocalEngine", "RayEngine", "default_workers", "open_engine"]
