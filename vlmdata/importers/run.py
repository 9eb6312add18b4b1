"""`import_source`: one format's plan → its units converted in order → `OUT.jsonl` + `OUT.import.json`.

The runner owns everything around the per-unit conversion: argument checks (unknown format, options the format
does not take, a bad `--desc-template`, a missing source or image root: usage errors, exit 2, before anything
is read), the `--out` rule, the streamed atomic output and the report. The format's plan is read here, in
the driver; because `convert` is a pure function of (unit, context), its units are mapped over the one engine
(`vlmdata.io.engine`: this process, local worker processes or Ray tasks, `engine=`) and their results fed to
`ImportReport.add` and the output in plan order, so the JSONL and the report are the same bytes for any
worker count. At most a window of units runs ahead of the writer (memory stays bounded); a plan of fewer
than `PARALLEL_MIN_UNITS` units is converted here (starting workers costs about a second). Each worker keeps
its own copy of the context, image-header cache included, for all the units of a run it converts.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vlmdata.errors import UsageError, VlmdataError, at
from vlmdata.importers.codes import SOURCE_NOT_FOUND
from vlmdata.importers.common import Context, ImportOptions
from vlmdata.importers.desc import DescTemplate
from vlmdata.importers.images import Sizer
from vlmdata.importers.output import report_path
from vlmdata.importers.registry import FORMAT_OPTIONS, FORMATS
from vlmdata.importers.report import ImportReport, ShardResult
from vlmdata.io.engine import EngineOptions, open_engine
from vlmdata.io.output import check_out, output_file, write_output

PARALLEL_MIN_UNITS = 3  # fewer units of work are converted in this process

_FLAG = {
    "crowd": "--crowd",
    "boxes_only": "--boxes-only",
    "label_map": "--label-map",
    "split": "--split",
    "frame": "--frame",
}


def _check_options(fmt: str, options: ImportOptions) -> None:
    spec = FORMATS[fmt]
    defaults = ImportOptions()
    for f in fields(ImportOptions):
        if f.name in FORMAT_OPTIONS and f.name not in spec.options:
            if getattr(options, f.name) != getattr(defaults, f.name):
                takers = ", ".join(n for n, s in FORMATS.items() if f.name in s.options)
                raise UsageError(f"{_FLAG[f.name]} does not apply to {fmt}", hint=f"it applies to: {takers}")
    if not spec.makes_descs and options.desc_template != defaults.desc_template:
        raise UsageError(f"--desc-template does not apply to {fmt}: it imports conversations, not objects")
    if options.crowd not in ("polygon", "skip"):
        raise UsageError(f"--crowd must be polygon or skip, not {options.crowd!r}")
    if options.frame not in ("auto", "grid", "pixel"):
        raise UsageError(f"--frame must be auto, grid or pixel, not {options.frame!r}")
    if options.label_map is not None and not Path(options.label_map).is_file():
        raise UsageError(f"--label-map not found: {options.label_map}")


@dataclass(frozen=True)
class ConvertTask:
    """One unit of a format's plan, as a task for the engine."""

    run: str  # the run's token: a worker keeps one context per run
    ctx: Context
    unit: Any


_CONTEXTS: dict[str, Context] = {}  # the current run's context in a worker process (with its image cache)


def convert_unit(task: ConvertTask) -> ShardResult:
    """`convert` of the task's format on its unit (a unit the plan already accounted is returned as is)."""
    if isinstance(task.unit, ShardResult):
        return task.unit
    ctx = _CONTEXTS.get(task.run)
    if ctx is None:
        _CONTEXTS.clear()
        ctx = _CONTEXTS[task.run] = task.ctx
    with at(file=ctx.source):
        return FORMATS[ctx.format].convert(task.unit, ctx)


def _results(units: Iterator[Any], ctx: Context, engine: EngineOptions | None) -> Iterator[ShardResult]:
    """The plan's units converted, in plan order: here, or over the engine when there are enough of them."""
    first = list(itertools.islice(units, PARALLEL_MIN_UNITS))
    options = engine or EngineOptions()
    if not options.distributed and (options.count <= 1 or len(first) < PARALLEL_MIN_UNITS):
        options = EngineOptions(workers=1)
    run = f"{os.getpid()}-{time.time_ns()}"
    # a context pickled to a worker carries its header cache empty (`HeaderProbe`): each worker fills its own
    tasks = (ConvertTask(run, ctx, unit) for unit in itertools.chain(first, units))
    hint = len(first) if len(first) < PARALLEL_MIN_UNITS else 1 << 30  # the plan's length is not known
    try:
        with open_engine(options, hint, preload=["vlmdata.importers.run"]) as pool:
            yield from pool.map(convert_unit, tasks)
    finally:
        _CONTEXTS.clear()


def import_source(
    fmt: str,
    src: str | Path,
    out: str | Path,
    options: ImportOptions | None = None,
    engine: EngineOptions | None = None,
    progress: Callable[..., None] | None = None,
) -> ImportReport:
    """Import `src` (format `fmt`) into contract JSONL at `out`; returns the report (also written beside it).
    `engine` (default: every usable core) spreads the conversion; the output is the same for any.
    `progress(n)` is called after every n more annotations are accounted for (imported or skipped)."""
    options = options or ImportOptions()
    if fmt not in FORMATS:
        raise UsageError(f"unknown import format {fmt!r}", hint="formats: " + ", ".join(FORMATS))
    spec = FORMATS[fmt]
    _check_options(fmt, options)
    source = Path(src)
    if not source.exists():
        raise VlmdataError(
            SOURCE_NOT_FOUND, f"{fmt} source not found: {src}", hint=f"SRC is a {spec.source}", exit_code=2
        )
    root = Path(options.image_root) if options.image_root else spec.default_root(source)
    if not root.is_dir():
        raise UsageError(f"image root is not a folder: {root}", hint="pass --image-root DIR")
    desc = DescTemplate(options.desc_template, spec.fields, fmt)
    inputs = [source, options.label_map]
    for path, flag in ((out, "--out"), (report_path(out), "--out (its report)")):
        check_out(path, command="import", kind="file", inputs=inputs, roots=[root], flag=flag)
    ctx = Context(fmt, str(src), options, Sizer(str(root), options.probe, options.max_image_pixels), desc)
    report = ImportReport(fmt, str(src), str(out), ctx.root, options.as_dict())
    start = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small dicts: the cyclic collector would rescan them for nothing
    try:
        with output_file(out, command="import", inputs=inputs, roots=[root]) as tmp, open(tmp, "wb") as fh:
            for result in _results(spec.plan(str(src), ctx), ctx, engine):
                if result.lines:
                    fh.write(b"".join(result.lines))
                report.add(result)
                if progress is not None:
                    progress(sum(t.annotations.total for t in result.tallies))
    finally:
        if gc_was_enabled:
            gc.enable()
    report.extra.update(ctx.extra)
    report.seconds = time.perf_counter() - start
    text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
    write_output(report_path(out), text, command="import", inputs=inputs, roots=[root])
    return report
