"""`validate_files`: JSONL files in, an Arrow dataset of the valid records + rejects + report out, atomically.

Each file is split into shards (byte ranges on block boundaries, `vlmdata.io.jsonl.shard_ranges`); each shard
is checked on its own (`vlmdata.validate.shard`: fast path, pydantic explanations of the lines it is unsure of,
image headers) in this process or on worker processes / Ray tasks (`vlmdata.io.engine`). This process, the
driver, then merges the shards in file order and applies the dataset-level rules to the candidates of each
batch in line order: duplicate ids, duplicate images, train/val overlap. Because the shards hold whole batches
and the merge sees them in the order a single pass does, the output is the same bytes for any worker count or
engine: the same Arrow shards, `rejects.jsonl` and `warnings.jsonl` in the same order with the same line numbers,
the same `report.json` (but for its `seconds`).

Every line ends up exactly once in the dataset, in `rejects.jsonl` or in the blank count. Accepted rows are
written once, batch by batch, through the one dataset writer (`vlmdata.io.writer`) into `data/` and `val/`. The
whole output folder, and the shard spill of a parallel run (`.shards/` inside it, removed before the swap), is
built in a temporary sibling and renamed into place at the end, so a killed run leaves the previous output (or
none). The first occurrence of a duplicate id is kept, later ones are rejected; a val record sharing an image
with train is rejected. The driver holds every kept id and image path (to check later records against them).
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from vlmdata.contract import codes
from vlmdata.contract.rules import Issue
from vlmdata.errors import UsageError
from vlmdata.io.atomic import atomic_dir
from vlmdata.io.engine import EngineOptions, open_engine
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS
from vlmdata.io.jsonl import DEFAULT_BLOCK_BYTES, DEFAULT_MAX_LINE_BYTES, FileStats, shard_ranges
from vlmdata.io.writer import DatasetWriter
from vlmdata.validate.report import EXAMPLES_PER_CODE, FileReport, Report
from vlmdata.validate.shard import (
    ENCODER,
    BatchResult,
    CheckOptions,
    ShardResult,
    ShardTask,
    check_shard,
    load_shard,
    reject_entry,
    run_shard,
)

MAX_SHARD_BYTES = 256 << 20  # a shard's spill stays about this size at most
SHARDS_PER_WORKER = 8  # enough shards that workers finish together
PARALLEL_MIN_BYTES = 64 << 20  # smaller inputs are checked in process (starting workers costs ~1 s)
_LINE_BITS = 40  # a kept record's location: file index << 40 | line number
_LINE_MASK = (1 << _LINE_BITS) - 1
DUP_ID, DUP_IMAGE, OVERLAP = codes.DUPLICATE_ID.code, codes.DUPLICATE_IMAGE.code, codes.SPLIT_OVERLAP.code


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


class _Merge:
    """The driver's half: dataset-level rules over the candidates, in line order, and every output file."""

    def __init__(self, tmp: Path, options: ValidateOptions, report: Report) -> None:
        self.o, self.report, self.tmp = options, report, tmp
        self.rejects: IO[bytes] = open(tmp / "rejects.jsonl", "wb")  # noqa: SIM115 - closed in close()
        self.warnings: IO[bytes] = open(tmp / "warnings.jsonl", "wb")  # noqa: SIM115
        self.writers: dict[str, DatasetWriter] = {}
        self.paths: list[str] = []  # file index -> path, for the locations below
        self.ids: dict[str, int] = {}  # kept id -> location
        self.images: dict[str, int] = {}  # image of a kept record -> location of the first
        self.train_images: set[str] = set()
        self._where: dict[int, str] = {}  # location -> "file:line", formatted once

    def where(self, location: int) -> str:
        text = self._where.get(location)
        if text is None:
            text = self._where[location] = f"{self.paths[location >> _LINE_BITS]}:{location & _LINE_MASK}"
        return text

    def _duplicate_images(
        self, fr: FileReport, line: int, rid: str, dups: list[tuple[int, str, int]], out: list[bytes]
    ) -> None:
        """`report.add` + the warning lines for a kept record whose only warnings are duplicate images (most
        warnings of a dataset that reuses images), without building `Issue` objects."""
        report = self.report
        report.records_per_code[DUP_IMAGE] += 1
        fr.codes[DUP_IMAGE] += 1
        report.occurrences_per_code[DUP_IMAGE] += len(dups)
        examples = report.examples.setdefault(DUP_IMAGE, [])
        for i, img, at in dups:
            entry = {
                "code": DUP_IMAGE,
                "severity": "warning",
                "message": f"image also used at {self.where(at)}",
                "field": f"images[{i}]",
                "value": img if len(img) <= 200 else img[:199] + "…",  # as `Issue.as_dict` shortens it
            }
            if len(examples) < EXAMPLES_PER_CODE:
                examples.append({"file": fr.path, "line": line, "id": rid, **entry})
            out.append(ENCODER.encode({"file": fr.path, "line": line, "id": rid, **entry}))

    def close(self) -> None:
        self.rejects.close()
        self.warnings.close()

    # -- output --------------------------------------------------------------------------------------------
    def _write_rows(self, split: str, table: pa.Table) -> None:
        if split not in self.writers:
            self.writers[split] = DatasetWriter(self.tmp / ("data" if split == "train" else "val"))
        if table.num_rows:
            self.writers[split].write(table)

    def _reject(
        self,
        fr: FileReport,
        line: int,
        raw: bytes | None,
        issues: list[Issue],
        record_id: str | None = None,
        extra: dict[str, Any] | None = None,
        more: Counter[str] | None = None,
        note: str | None = None,
    ) -> None:
        fr.rejected += 1
        self.report.add(fr, line, issues, record_id, more)
        self.rejects.write(reject_entry(fr.path, line, raw, issues, record_id, extra, more, note))

    # -- one file ------------------------------------------------------------------------------------------
    def open_file(self, path: str, split: str) -> FileReport:
        fr = FileReport(path, split)
        self.report.files.append(fr)
        self.paths.append(path)
        return fr

    def close_file(self, fr: FileReport, stats: FileStats) -> None:
        fr.lines, fr.blank, fr.bytes = stats.lines, stats.blank, stats.bytes
        if stats.bom:
            fr.notes.append(
                Issue(
                    codes.BOM.code, "UTF-8 byte-order mark at the start of the file was stripped", None
                ).as_dict()
                | {"line": 1}
            )
        if stats.crlf:
            fr.notes.append(
                Issue(codes.CRLF.code, f"{stats.crlf} line(s) end with CRLF", None, stats.crlf).as_dict()
            )
        if fr.lines == fr.blank:
            fr.notes.append(Issue(codes.EMPTY_FILE.code, "the file holds no records", None).as_dict())
        for note in fr.notes:
            self.report.add(
                fr, note.get("line"), [Issue(note["code"], note["message"], None, note.get("value"))]
            )

    def batch(self, fr: FileReport, b: BatchResult, line0: int) -> None:
        for r in b.rejects:
            self._reject(fr, line0 + r.line, r.raw, r.issues, None, r.extra, r.more, r.note)
        rows = b.rows
        assert rows is not None
        if line0:
            at = rows.schema.get_field_index("source_line")
            rows = rows.set_column(at, "source_line", pc.add(rows.column(at), pa.scalar(line0, pa.int64())))
        numbers = rows.column("source_line").to_pylist()
        ids = rows.column("id").to_pylist()
        images = rows.column("images").to_pylist()
        path, split = fr.path, fr.split
        is_val, is_train = split == "val", split == "train"
        seen_ids, seen_images, train_images = self.ids, self.images, self.train_images
        file_key = (len(self.paths) - 1) << _LINE_BITS
        found, warned, where = b.issues, b.warnings, self.where
        kept: list[int] = []
        warn_lines: list[bytes] = []
        for k, (line, rid, imgs) in enumerate(zip(numbers, ids, images, strict=True)):
            issues = found.get(k) or []
            first = seen_ids.get(rid)
            if first is not None:
                issues.append(Issue(DUP_ID, f"id already used at {where(first)}", "id", rid))
            dups: list[tuple[int, str, int]] = []  # (image index, image, location of its first use)
            for i, img in enumerate(imgs):
                if is_val and img in train_images:
                    issues.append(Issue(OVERLAP, "image also used by a train record", f"images[{i}]", img))
                else:
                    at = seen_images.get(img)
                    if at is not None:
                        dups.append((i, img, at))
            record_warns = warned.get(k) or []
            if issues:
                raw = b.raws.get(k)
                record_warns += [
                    Issue(DUP_IMAGE, f"image also used at {where(at)}", f"images[{i}]", img)
                    for i, img, at in dups
                ]
                self._reject(fr, line, raw if raw is not None else b.raw(path, k), issues + record_warns, rid)
                continue
            kept.append(k)
            location = file_key | line
            seen_ids[rid] = location
            for img in imgs:
                seen_images.setdefault(img, location)
            if is_train:
                train_images.update(imgs)
            if record_warns:
                record_warns += [
                    Issue(DUP_IMAGE, f"image also used at {where(at)}", f"images[{i}]", img)
                    for i, img, at in dups
                ]
                self.report.add(fr, line, record_warns, rid)
                warn_lines.extend(
                    ENCODER.encode({"file": path, "line": line, "id": rid, **wi.as_dict()})
                    for wi in record_warns
                )
            elif dups:
                self._duplicate_images(fr, line, rid, dups, warn_lines)
        fr.valid += len(kept)
        if warn_lines:
            warn_lines.append(b"")
            self.warnings.write(b"\n".join(warn_lines))
        self._write_rows(split, rows.take(pa.array(kept, pa.int64())) if len(kept) != rows.num_rows else rows)

    def finish(self, splits: Sequence[str]) -> None:
        self.close()
        for split in splits:
            if split not in self.writers:
                self._write_rows(split, pa.Table.from_batches([], self._schema()))
            writer = self.writers[split]
            fingerprint = hashlib.sha256(
                f"{split}:{self.report.files and [f.path for f in self.report.files]}:{writer.rows}".encode()
            ).hexdigest()[:16]
            writer.close(fingerprint)

    @staticmethod
    def _schema() -> pa.Schema:
        from vlmdata.io.features import arrow_schema

        return arrow_schema()


def _check_out(out: Path, inputs: list[Path], image_root: str | Path | None) -> None:
    """The output folder is replaced as a whole, so refuse one that holds inputs or is not a previous output."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out exists and is not a folder: {out}")
    target = out.resolve()
    guarded = [p.resolve() for p in inputs] + ([Path(image_root).resolve()] if image_root else [])
    for p in guarded:
        if p == target or target in p.parents:
            raise UsageError(
                f"--out {out} would replace a folder holding {p}", hint="write the output to a new folder"
            )
    if out.is_dir() and any(out.iterdir()) and not (out / "report.json").is_file():
        raise UsageError(
            f"--out {out} is a non-empty folder that is not a previous `vlmdata validate` output",
            hint="choose a new or empty folder (a previous output is replaced atomically)",
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
    _check_out(out, inputs + vals, o.image_root)
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
    with atomic_dir(out) as tmp:
        parallel = o.engine.distributed or workers > 1
        spill = tmp / ".shards" if parallel else None
        tasks = plan_shards(files, o, workers, str(spill) if spill else None)
        parallel = o.engine.distributed or (workers > 1 and len(tasks) > 1)
        merge = _Merge(tmp, o, report)
        try:
            if parallel:
                assert spill is not None
                spill.mkdir()
                shards = _spilled(tasks, o, workers)
                _prefetch("datasets.arrow_writer")  # the writer's import overlaps the first shards
            else:
                shards = _in_process(tasks)
            fr: FileReport | None = None
            total = FileStats("")
            for task, stats, batches in shards:
                if task.start == 0:  # a new file
                    if fr is not None:
                        merge.close_file(fr, total)
                    fr, total = merge.open_file(task.path, task.split), FileStats(task.path)
                assert fr is not None
                line0 = total.lines
                for b in batches:
                    merge.batch(fr, b, line0)
                    if o.progress is not None:
                        o.progress(b.nbytes)
                for name in ("lines", "blank", "crlf", "bytes"):
                    setattr(total, name, getattr(total, name) + getattr(stats, name))
                total.bom |= stats.bom
            if fr is not None:
                merge.close_file(fr, total)
            if spill is not None and spill.exists():
                shutil.rmtree(spill)
            merge.finish(["train", "val"] if vals else ["train"])
        finally:
            merge.close()
        report.seconds = time.perf_counter() - start
        atomic_write_json(tmp / "report.json", report.as_dict())
    return report
