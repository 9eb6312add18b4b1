"""The audit spread over workers: each shard sizes a row range of one dataset folder; the driver concatenates.

A record's length depends on nothing but the record, the run config and the tokenizer, so any split of a
dataset into row ranges sized in order and concatenated gives exactly the arrays (and the list of records that
could not be sized, in row order) of one pass. A shard task carries the dataset folder, its row range, the
audit's view of the run config and the user templates registered in the driver (worker processes and Ray
tasks start without them); each worker loads the tokenizer once and keeps it for its later shards, and reads
its rows with pyarrow alone (`vlmdata.io.dataset.read_rows`: no `datasets` import on the workers). Shards
are only built for datasets given as folders (a task opens its folder memory-mapped: every node must reach
it); in-memory datasets are sized in the driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROWS_PER_SHARD = 20_000  # at most; fewer when that would leave workers idle
MIN_ROWS_PER_SHARD = 2_048
PARALLEL_MIN_ROWS = 20_000  # fewer rows are sized in process (starting workers costs ~1 s)


@dataclass(frozen=True)
class ShardConfig:
    """What a shard needs of the run config (the audit's view of it is a model built at run time, which
    does not pickle)."""

    model_dir: str
    template: Any  # the run config's `template` section
    global_max_length: int

    @classmethod
    def of(cls, config: Any) -> ShardConfig:
        return cls(str(config.model.path), config.template, int(config.global_max_length))


@dataclass(frozen=True)
class AuditTask:
    path: str  # the dataset folder
    name: str
    start: int
    stop: int
    config: ShardConfig
    templates: dict[str, Any] = field(default_factory=dict)  # user templates by name
    batch: bool = True


@dataclass
class AuditShard:
    ids: list[str]
    sources: list[str]
    lengths: np.ndarray
    image_tokens: np.ndarray
    errors: list[dict[str, Any]]


_COUNTERS: dict[str, Any] = {}  # tokenizer per model folder, kept for the worker's later shards


def _counter(model_dir: str) -> Any:
    from vlmdata.audit.tokens import TokenCounter

    if model_dir not in _COUNTERS:
        _COUNTERS[model_dir] = TokenCounter.from_model_dir(model_dir)
    return _COUNTERS[model_dir]


def audit_shard(task: AuditTask) -> AuditShard:
    """Size rows `[start, stop)` of the dataset at `task.path` (as `audit_dataset` sizes them)."""
    from vlmdata.audit.audit import AuditReport, _audit_one
    from vlmdata.io.dataset import read_rows
    from vlmdata.models.qwen import effective_pixel_bounds
    from vlmdata.render.templates import known_templates, register_template

    known = known_templates()
    for name, template in task.templates.items():
        if known.get(name) != template:
            register_template(template)
    config = task.config
    bounds = effective_pixel_bounds(config.template)
    report = AuditReport(config.model_dir, config.template.name, config.global_max_length, bounds, [])
    part = read_rows(task.path, task.start, task.stop)  # memory-mapped, without importing `datasets`
    sized = _audit_one(
        part,
        task.name,
        task.path,
        _counter(config.model_dir),
        bounds,
        config.template.name,
        config.template.system,
        report,
        task.batch,
    )
    return AuditShard(sized.ids, sized.sources, sized.lengths, sized.image_tokens, report.errors)


def plan(path: str, name: str, rows: int, workers: int, config: ShardConfig, batch: bool) -> list[AuditTask]:
    """Row ranges of one dataset: about `ROWS_PER_SHARD` each, more shards than workers when it is large."""
    from vlmdata.render.templates import user_templates

    size = max(MIN_ROWS_PER_SHARD, min(ROWS_PER_SHARD, -(-rows // (4 * workers))))
    templates = user_templates()
    path = os.path.abspath(path)  # Ray tasks may run in another working folder
    return [
        AuditTask(path, name, start, min(rows, start + size), config, templates, batch)
        for start in range(0, rows, size)
    ] or [AuditTask(path, name, 0, 0, config, templates, batch)]


def plans(opened: list[tuple[Any, str, str | None]], config: Any, options: Any, batch: bool) -> Any:
    """Shard tasks per dataset (`(dataset, name, folder)` each), or None when everything is sized in the
    driver (one worker, in-memory datasets, or too few rows to be worth a pool)."""
    rows = sum(len(d) for d, _, _ in opened)
    if any(path is None for _, _, path in opened) or not (
        options.distributed or (options.count > 1 and rows >= PARALLEL_MIN_ROWS)
    ):
        return None
    view = ShardConfig.of(config)
    return [plan(str(path), name, len(d), options.count, view, batch) for d, name, path in opened]


def audit_sharded(
    opened: list[tuple[Any, str, str | None]],
    plans: list[list[AuditTask]],
    options: Any,
    report: Any,
    progress: Callable[..., None] | None = None,
) -> list[Any]:
    """Every dataset's shards sized on the engine and concatenated in row order (`DatasetLengths` each); the
    records that could not be sized join `report.errors` in row order."""
    from vlmdata.audit.audit import DatasetLengths
    from vlmdata.io.engine import open_engine

    tasks = [task for tasks in plans for task in tasks]
    out = []
    preload = ["vlmdata.audit.shard", "vlmdata.audit.audit", "vlmdata.audit.batch"]
    with open_engine(options, len(tasks), preload=preload) as engine:
        results = iter(engine.map(audit_shard, tasks))
        for (_, name, path), tasks_of in zip(opened, plans, strict=True):
            parts = []
            for _ in tasks_of:
                parts.append(next(results))
                if progress is not None:
                    progress(len(parts[-1].ids))
            for part in parts:
                report.errors.extend(part.errors)
            out.append(
                DatasetLengths(
                    name,
                    path,
                    [i for part in parts for i in part.ids],
                    [s for part in parts for s in part.sources],
                    np.concatenate([part.lengths for part in parts]),
                    np.concatenate([part.image_tokens for part in parts]),
                )
            )
    return out
