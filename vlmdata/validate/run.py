"""`validate_files`: JSONL files in, an Arrow dataset of the valid records + rejects + report out, atomically.

Each file is split into shards (byte ranges on block boundaries, `vlmdata.io.jsonl.shard_ranges`); each shard
is checked on its own (`vlmdata.validate.shard`: fast path, pydantic explanations of the lines it is unsure of,
image headers) in this process or on worker processes / Ray tasks (`vlmdata.io.engine`). This process, the
driver, then merges the shards in file order (`vlmdata.validate.merge`) and applies the dataset-level rules to
the candidates of each batch in line order: duplicate ids, duplicate images, train/val overlap. Because the
shards hold whole batches and the merge sees them in the order a single pass does, the output is the same
bytes for any worker count or engine: the same Arrow shards, `rejects.jsonl` and `warnings.jsonl` in the same
order with the same line numbers, the same `report.json` (but for its `seconds`).

Every line ends up exactly once in the dataset, in `rejects.jsonl` or in the blank count. The output folder
follows the `--out` rule (`vlmdata.io.output`): the JSONL files, `--val` files and an explicit `--image-root`
are inputs, each JSONL's own folder (the implicit image root) may hold the output but not be it; the folder,
and the shard spill of a parallel run (`.shards/` inside it, removed before the swap), is built in a temporary
sibling and swapped in at the end, so a killed run leaves the previous output (or none).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import UsageError, at, position_of
from vlmdata.io.engine import EngineOptions, open_engine
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS
from vlmdata.io.jsonl import DEFAULT_BLOCK_BYTES, DEFAULT_MAX_LINE_BYTES, FileStats, shard_ranges
from vlmdata.io.output import output_dir
from vlmdata.validate.merge import Merge
from vlmdata.validate.report import FileReport, Report
from vlmdata.validate.shard import (
    BatchResult,
    CheckOptions,
    ShardResult,
    ShardTask,
    check_shard,
    load_shard,
    run_shard,
)

MAX_SHARD_BYTES = 256 << 20  # a shard's spill stays about this size at most
SHARDS_PER_WORKER = 8  # enough shards that workers finish together
PARALLEL_MIN_BYTES = 64 << 20  # smaller inputs are checked in process (starting workers costs ~1 s)


@dataclass
class ValidateOptions:
    image_root: str | Path | None = None
    allow_extra: bool = False
    image_check: bool = True
    allow_outside_root: bool = False
    val: Sequence[str | Path] = ()
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    block_bytes: int = DEFAULT_BLOCK_BYTES
    progress: Callable[[int], None] | None = field(default=None, repr=False)  # called with bytes just read
    engine: EngineOptions = field(default_factory=EngineOptions)  # workers / engine; never changes the output
    shard_bytes: int | None = None  # None: sized from the input and the worker count

    def public(self) -> dict[str, Any]:
        return {
            "image_root": str(self.image_root) if self.image_root else None,
            "allow_extra": self.allow_extra,
            "image_check": self.image_check,
            "allow_outside_root": self.allow_outside_root,
            "val": [str(v) for v in self.val],
            "max_image_pixels": self.max_image_pixels,
            "max_line_bytes": self.max_line_bytes,
        }

    def check(self) -> CheckOptions:
        return CheckOptions(
            self.allow_extra,
            self.image_check,
            self.allow_outside_root,
            self.max_image_pixels,
            self.max_line_bytes,
            self.block_bytes,
        )


def validate_files(
    paths: Sequence[str | Path], out_dir: str | Path, options: ValidateOptions | None = None
) -> Report:
    """Validate JSONL files against the contract; write `out_dir/{data,rejects.jsonl,warnings.jsonl,report.json}`."""

    o = options or ValidateOptions()
    inputs = [Path(p) for p in paths]
    vals = [Path(v) for v in o.val]
    if not inputs:
        raise UsageError("no input files given", hint="vlmdata validate DATA.jsonl --out DIR")
    for p in inputs + vals:
        if not p.is_file():
            raise UsageError(f"input not found or not a file: {p}", hint="check the path")
        if not os.access(p, os.R_OK):
            raise UsageError(f"input is not readable: {p}", hint="check the file's permissions")
    if o.image_root is not None and not Path(o.image_root).is_dir():
        raise UsageError(f"--image-root is not a folder: {o.image_root}")
    if o.max_line_bytes < 1 or (o.max_image_pixels is not None and o.max_image_pixels < 1):
        raise UsageError("--max-line-bytes and --max-image-pixels must be positive")
    out = Path(out_dir)
    report = Report(str(out), options=o.public())
    start = time.perf_counter()
    # Everything allocated here is acyclic; the cyclic GC would only rescan the growing id/image maps.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(out, inputs, vals, o, report, start)
    finally:
        if gc_was_enabled:
            gc.enable()


def plan_shards(
    files: Sequence[tuple[Path, str]], o: ValidateOptions, workers: int, spill: str | None
) -> list[ShardTask]:
    """The shard tasks of a run, in order: every file's byte ranges, train files first, then val."""
    sizes = [p.stat().st_size for p, _ in files]
    total = sum(sizes)
    block = max(1, min(o.block_bytes, o.max_line_bytes + 1))
    if o.shard_bytes is not None:
        shard = o.shard_bytes
    elif workers <= 1 or total < PARALLEL_MIN_BYTES:  # one worker, or too little to be worth a pool
        shard = max(sizes, default=0) + 1
    else:
        shard = min(MAX_SHARD_BYTES, max(block, total // (SHARDS_PER_WORKER * workers)))
    check = o.check()
    root = os.path.abspath(o.image_root) if o.image_root else None
    tasks: list[ShardTask] = []
    for (path, split), size in zip(files, sizes, strict=True):
        base = root or os.path.dirname(os.path.abspath(path))
        for start, stop in shard_ranges(size, shard, o.block_bytes, o.max_line_bytes):
            tasks.append(
                ShardTask(
                    len(tasks), str(path), split, base, start, stop, check, spill, os.path.abspath(path)
                )
            )
    return tasks


def _in_process(tasks: list[ShardTask]) -> Iterator[tuple[ShardTask, FileStats, Iterator[BatchResult]]]:
    for task in tasks:
        stats = FileStats(task.path)
        yield task, stats, check_shard(task, stats)


def _spilled(
    tasks: list[ShardTask], o: ValidateOptions, workers: int
) -> Iterator[tuple[ShardTask, FileStats, Iterator[BatchResult]]]:
    with open_engine(o.engine, len(tasks), preload=["vlmdata.validate.shard"]) as engine:
        results: Iterator[ShardResult] = engine.map(run_shard, tasks)
        for task, result in zip(tasks, results, strict=True):
            stats, batches = load_shard(result)
            yield task, stats, batches
            for name in (result.rows_path, result.side_path):
                Path(name).unlink()


def _prefetch(module: str) -> None:
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def _validate(
    out: Path, inputs: list[Path], vals: list[Path], o: ValidateOptions, report: Report, start: float
) -> Report:
    from vlmdata.io.atomic import atomic_write_json

    files = [(p, "train") for p in inputs] + [(p, "val") for p in vals]
    workers = o.engine.count
    # an explicit --image-root is an input; each JSONL's own folder (the implicit root) may hold the output
    explicit = [o.image_root] if o.image_root else []
    implicit = [] if o.image_root else [p.parent for p in inputs + vals]
    with output_dir(out, command="validate", inputs=[*inputs, *vals, *explicit], roots=implicit) as tmp:
        parallel = o.engine.distributed or workers > 1
        spill = tmp / ".shards" if parallel else None
        tasks = plan_shards(files, o, workers, str(spill) if spill else None)
        parallel = o.engine.distributed or (workers > 1 and len(tasks) > 1)
        merge = Merge(tmp, o, report)
        try:
            if parallel:
                assert spill is not None
                spill.mkdir()
                shards = _spilled(tasks, o, workers)
                _prefetch("datasets.arrow_writer")  # the writer's import overlaps the first shards
            else:
                shards = _in_process(tasks)
            _merge_all(merge, shards, o)
            if spill is not None and spill.exists():
                shutil.rmtree(spill)
            merge.finish(["train", "val"] if vals else ["train"])
        finally:
            merge.close()
        report.seconds = time.perf_counter() - start
        atomic_write_json(tmp / "report.json", report.as_dict())
    return report


def _merge_all(
    merge: Merge, shards: Iterator[tuple[ShardTask, FileStats, Iterator[BatchResult]]], o: ValidateOptions
) -> None:
    """Every shard's batches into `merge`, file by file; an unexpected error names its file and line."""
    fr: FileReport | None = None
    total = FileStats("")
    try:
        for task, stats, batches in shards:
            if task.start == 0:  # a new file
                if fr is not None:
                    merge.close_file(fr, total)
                fr, total = merge.open_file(task.path, task.split), FileStats(task.path)
            assert fr is not None
            line0 = total.lines
            for b in batches:
                with at(file=task.path, line=line0 + b.first_line if b.first_line else None):
                    merge.batch(fr, b, line0)
                if o.progress is not None:
                    o.progress(b.nbytes)
            for name in ("lines", "blank", "crlf", "bytes"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            total.bom |= stats.bom
    except Exception as exc:
        # raised in a shard: its line counts from the shard's start; the lines before it are merged by now
        failed = getattr(exc, "_vlmdata_shard", None)
        where = position_of(exc)
        if failed is not None and failed.start and where is not None and where.line is not None:
            exc._vlmdata_position = dataclasses.replace(where, line=where.line + total.lines)  # type: ignore[attr-defined]
        raise
    if fr is not None:
        merge.close_file(fr, total)
