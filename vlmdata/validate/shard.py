"""The per-shard half of `validate`: everything about a line that does not depend on other lines.

A shard is a byte range of one JSONL file (`vlmdata.io.jsonl.shard_ranges`). `check_shard` reads it batch by
batch and, per batch, runs the fast path, the pydantic explanations of the lines it is unsure of and the image
header checks, and builds the Arrow rows of every record that passed them (the *candidates*). What it cannot
decide alone (duplicate ids, duplicate images, train/val overlap) is left to the driver (`vlmdata.validate.run`),
which merges shards in file order and so sees exactly what a single pass sees.

Line numbers here count from the shard's first line (the driver adds the lines of the shards before it), so a
shard never reads anything outside its range but the start of a line that began before it. `run_shard` is the
same work as a task for a worker process or a Ray task: it spills each batch's rows to an Arrow file and the
rest to a pickle in a folder the driver reads (`spill`), writing both atomically, so a retried task simply
writes them again. Nothing here depends on how the file was split, which is why any worker count gives the same
output.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from vlmdata.contract import codes
from vlmdata.contract.rows import json_text
from vlmdata.contract.rules import Issue
from vlmdata.errors import at
from vlmdata.io.features import arrow_schema
from vlmdata.io.images import resolve_image_path
from vlmdata.io.jsonl import FileStats, LineBatch, iter_line_batches
from vlmdata.validate.fast import FastResult, check_batch
from vlmdata.validate.ids import own_id
from vlmdata.validate.imagecheck import ImageChecker
from vlmdata.validate.slow import explain, normalised_row

ENCODER = msgspec.json.Encoder(order="deterministic")


@dataclass(frozen=True)
class CheckOptions:
    """The options a shard needs (picklable; no callbacks)."""

    allow_extra: bool
    image_check: bool
    allow_outside_root: bool
    max_image_pixels: int | None
    max_line_bytes: int
    block_bytes: int


@dataclass(frozen=True)
class ShardTask:
    index: int  # position of the shard in the run (files in order, ranges in order)
    path: str  # the input as the user named it (reports and `source_file` use it)
    split: str
    base: str  # folder relative image references resolve against (absolute)
    start: int
    stop: int | None
    check: CheckOptions
    spill: str | None = None  # folder `run_shard` writes into
    source: str = ""  # the file to read, absolute (a Ray task may run in another folder); default `path`


@dataclass
class Reject:
    """A line the shard rejects on its own (oversized, or the models said no); `extra` goes into the entry."""

    line: int
    raw: bytes | None
    issues: list[Issue]
    extra: dict[str, Any] | None = None
    more: Counter[str] | None = None  # issues past the listed ones, per code
    note: str | None = None  # why the explanation is partial, when it is
    record_id: str | None = None  # the id the line gives itself, if any


@dataclass
class BatchResult:
    rejects: list[Reject]  # in the order a single pass writes them
    n_rows: int
    starts: np.ndarray  # byte offset of each candidate's line (to read it again if the driver rejects it)
    lengths: np.ndarray
    issues: dict[int, list[Issue]]  # candidate -> record-level issues (images): rejected whatever else
    warnings: dict[int, list[Issue]]  # candidate -> warnings of the record itself
    raws: dict[int, bytes]  # raw lines of the candidates with issues
    nbytes: int  # input bytes this batch consumed (progress)
    first_line: int  # the batch's first line, counted from the shard's (0: none)
    rows: pa.Table | None = None  # candidates in line order; None once spilled
    lines: list[bytes] | None = field(default=None, repr=False)  # the batch's lines, in process only
    positions: list[int] | None = field(default=None, repr=False)  # candidate -> index into `lines`

    def raw(self, path: str, k: int) -> bytes:
        if self.lines is not None and self.positions is not None:
            return self.lines[self.positions[k]]
        from vlmdata.io.jsonl import read_line

        return read_line(path, int(self.starts[k]), int(self.lengths[k]))


@dataclass
class ShardResult:
    index: int
    stats: FileStats
    rows_path: str
    side_path: str


def reject_entry(
    path: str,
    line: int,
    raw: bytes | None,
    issues: list[Issue],
    record_id: str | None,
    extra: dict[str, Any] | None,
    more: Counter[str] | None = None,
    note: str | None = None,
) -> bytes:
    """One line of `rejects.jsonl`."""
    entry: dict[str, Any] = {"file": path, "line": line}
    if record_id is not None:
        entry["id"] = record_id
    entry["issues"] = [i.as_dict() for i in issues]
    if more:
        entry["more_issues"] = dict(sorted(more.items()))  # past the listed ones, counted per code
    if note:
        entry["note"] = note
    if raw is not None:
        try:
            entry["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["raw"] = raw.decode("utf-8", "replace")
            entry["raw_base64"] = base64.b64encode(raw).decode()
    entry.update(extra or {})
    return ENCODER.encode(entry) + b"\n"


class _Shard:
    def __init__(self, task: ShardTask) -> None:
        self.task, self.o = task, task.check
        self.schema = arrow_schema()
        self.checker = ImageChecker(
            task.base, self.o.image_check, self.o.allow_outside_root, self.o.max_image_pixels
        )
        self._resolved: dict[str, str] = {}

    def resolve(self, path: str) -> str:
        hit = self._resolved.get(path)
        if hit is None:
            hit = self._resolved[path] = resolve_image_path(path, self.task.base)
        return hit

    def batch(self, batch: LineBatch) -> BatchResult:
        rejects = [
            Reject(
                over.number,
                None,
                [
                    Issue(
                        codes.LINE_TOO_LONG.code,
                        f"line is {over.size} bytes, limit {self.o.max_line_bytes}",
                        None,
                        over.size,
                    )
                ],
                {
                    "raw_prefix": over.prefix.decode("utf-8", "replace"),
                    "raw_bytes": over.size,
                    "raw_sha256": over.sha256,
                },
            )
            for over in batch.oversized
        ]
        lines, numbers = batch.lines, batch.numbers
        rows, positions, warns = self._rows(check_batch(lines), lines, numbers, rejects)
        issues: dict[int, list[Issue]] = {}
        warnings: dict[int, list[Issue]] = {}
        raws: dict[int, bytes] = {}
        record_issues = self.checker.record_issues
        images = rows.column("images").to_pylist()
        wh = zip(rows.column("width").to_pylist(), rows.column("height").to_pylist(), strict=True)
        for k, (p, imgs, (w, h)) in enumerate(zip(positions, images, wh, strict=True)):
            found = record_issues(imgs, w, h)
            if found:
                issues[k] = found
                raws[k] = lines[p]
            if p in warns:
                warnings[k] = warns[p]
        starts = np.asarray(batch.starts, np.int64)[positions] if positions else np.zeros(0, np.int64)
        lengths = np.fromiter((len(lines[p]) for p in positions), np.int64, count=len(positions))
        return BatchResult(
            rejects,
            rows.num_rows,
            starts,
            lengths,
            issues,
            warnings,
            raws,
            batch.nbytes,
            batch.numbers[0] if batch.numbers else 0,
            rows,
            lines,
            positions,
        )

    def _rows(
        self, fast: FastResult, lines: list[bytes], numbers: list[int], rejects: list[Reject]
    ) -> tuple[pa.Table, list[int], dict[int, list[Issue]]]:
        """Candidates of a batch (fast + explained) as one table in line order, with their batch positions."""
        recs = fast.records
        warns = dict(fast.warnings)
        path = self.task.path
        fast_table = pa.Table.from_arrays(
            [
                pa.array(fast.ids, pa.string()),
                images_column([r.images or [] for r in recs], self.resolve),
                pa.array([r.width for r in recs], pa.int32()),
                pa.array([r.height for r in recs], pa.int32()),
                fast.objects_table,
                pa.array([r.summary for r in recs], pa.string()),
                pa.nulls(len(recs), pa.string()),
                pa.array([json_text(r.metadata or {}) for r in recs], pa.string()),
                pa.array([path] * len(recs), pa.string()),
                pa.array([numbers[p] for p in fast.accepted], pa.int64()),
            ],
            schema=self.schema,
        )
        slow_rows: list[dict[str, Any]] = []
        slow_pos: list[int] = []
        for p in fast.unsure:
            out = explain(lines[p], self.o.allow_extra)
            if out.record is None:
                rejects.append(
                    Reject(numbers[p], lines[p], out.issues, None, out.more, out.note, own_id(lines[p]))
                )
                continue
            row = normalised_row(out, [self.resolve(i) for i in out.record.images or []])
            row["source_file"], row["source_line"] = path, numbers[p]
            slow_rows.append(row)
            slow_pos.append(p)
            if out.warnings:
                warns[p] = out.warnings
        if not slow_rows:
            return fast_table, fast.accepted, warns
        table = pa.concat_tables([fast_table, pa.Table.from_pylist(slow_rows, schema=self.schema)])
        positions = fast.accepted + slow_pos
        order = np.argsort(np.asarray(positions), kind="stable")
        return table.take(pa.array(order)), [positions[i] for i in order], warns


def images_column(images: list[list[str]], resolve: Callable[[str], str]) -> pa.Array:
    """The `images` column: each distinct reference of the batch is resolved once, then gathered in bulk."""
    lengths = np.fromiter(map(len, images), np.int64, count=len(images))
    flat = pa.array(list(chain.from_iterable(images)), pa.string()).dictionary_encode()
    resolved = pa.array(list(map(resolve, flat.dictionary.to_pylist())), pa.string())
    values = resolved.take(flat.indices)
    offsets = np.zeros(len(images) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def check_shard(task: ShardTask, stats: FileStats) -> Iterator[BatchResult]:
    """The shard's batches, in order; `stats` holds the shard's line accounting once the iterator is done."""
    shard = _Shard(task)
    try:
        for batch in iter_line_batches(
            task.source or task.path,
            stats,
            task.check.block_bytes,
            task.check.max_line_bytes,
            start=task.start,
            stop=task.stop,
        ):
            with at(file=task.path, line=batch.numbers[0] if batch.numbers else None):
                result = shard.batch(batch)
            yield result
    except Exception as exc:  # the driver makes the position's line absolute (it knows the lines before)
        with contextlib.suppress(AttributeError, TypeError):
            exc._vlmdata_shard = task  # type: ignore[attr-defined]
        raise


# -- as a task ----------------------------------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def run_shard(task: ShardTask) -> ShardResult:
    """`check_shard` as a task: spill its batches into `task.spill` and return where they are."""
    import gc

    assert task.spill is not None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as in a single pass: nothing allocated here is cyclic
    try:
        folder = Path(task.spill)
        rows_path = folder / f"shard-{task.index:06d}.arrow"
        side_path = folder / f"shard-{task.index:06d}.pickle"
        stats = FileStats(task.path)
        batches: list[BatchResult] = []

        def write_rows(tmp: Path) -> None:
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, arrow_schema()) as writer:
                for result in check_shard(task, stats):
                    assert result.rows is not None
                    writer.write_table(result.rows)
                    result.rows = result.lines = result.positions = None
                    batches.append(result)

        _atomic(rows_path, write_rows)
        side = pickle.dumps((stats, batches), protocol=pickle.HIGHEST_PROTOCOL)
        _atomic(side_path, lambda tmp: tmp.write_bytes(side))
        return ShardResult(task.index, stats, str(rows_path), str(side_path))
    finally:
        if gc_was_enabled:
            gc.enable()


def load_shard(result: ShardResult) -> tuple[FileStats, Iterator[BatchResult]]:
    """The batches `run_shard` spilled, with their rows read back (memory-mapped), in order."""
    stats, batches = pickle.loads(Path(result.side_path).read_bytes())

    def iterate() -> Iterator[BatchResult]:
        table = pa.ipc.open_file(pa.memory_map(result.rows_path)).read_all()  # the map lives with `table`
        at = 0
        for b in batches:
            b.rows = table.slice(at, b.n_rows)
            at += b.n_rows
            yield b

    return stats, iterate()
