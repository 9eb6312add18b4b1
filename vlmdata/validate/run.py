"""`validate_files`: JSONL files in, an Arrow dataset of the valid records + rejects + report out, atomically.

Per batch of lines (a few MB): the fast path accepts what it is sure of, the pydantic models decide and
explain the rest, then image headers and dataset-level rules (duplicate ids, duplicate images, train/val
overlap) run on the accepted rows in line order. Every line ends up exactly once in the dataset, in
`rejects.jsonl` or in the blank count. Accepted rows are written once, batch by batch, through the one dataset
writer (`vlmdata.io.writer`: `data/`, `val/`). The output folder follows the `--out` rule (`vlmdata.io.output`):
the JSONL files, `--val` files and an explicit `--image-root` are inputs, each JSONL's own folder (the implicit
image root) may hold the output but not be it; the folder is built in a temporary sibling and swapped in at the
end, so a killed run leaves the previous output (or none). The first occurrence of a duplicate id is kept,
later ones are rejected; a val record sharing an image with train is rejected.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
import pyarrow as pa

from vlmdata.contract import codes
from vlmdata.contract.rows import json_text
from vlmdata.contract.rules import Issue
from vlmdata.errors import UsageError, at
from vlmdata.io.features import arrow_schema
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS, resolve_image_path
from vlmdata.io.jsonl import (
    DEFAULT_BLOCK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    FileStats,
    LineBatch,
    iter_line_batches,
)
from vlmdata.io.output import output_dir
from vlmdata.io.writer import DatasetWriter
from vlmdata.validate.fast import FastResult, check_batch, record_ids
from vlmdata.validate.ids import own_id
from vlmdata.validate.imagecheck import ImageChecker
from vlmdata.validate.report import FileReport, Report
from vlmdata.validate.slow import explain, normalised_row

_ENC = msgspec.json.Encoder(order="deterministic")


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


class _Run:
    def __init__(self, tmp: Path, options: ValidateOptions, report: Report) -> None:
        self.o, self.report, self.tmp = options, report, tmp
        self.rejects: IO[bytes] = open(tmp / "rejects.jsonl", "wb")  # noqa: SIM115 - closed in finish()
        self.warnings: IO[bytes] = open(tmp / "warnings.jsonl", "wb")  # noqa: SIM115
        self.writers: dict[str, DatasetWriter] = {}
        self.ids: dict[str, str] = {}
        self.images: dict[str, str] = {}
        self.train_images: set[str] = set()
        self._resolved: dict[str, dict[str, str]] = {}  # base -> image reference -> resolved path
        self.schema = arrow_schema()

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
        entry: dict[str, Any] = {"file": fr.path, "line": line}
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
        self.rejects.write(_ENC.encode(entry) + b"\n")

    # -- one file ------------------------------------------------------------------------------------------
    def file(self, path: Path, split: str) -> None:
        fr = FileReport(str(path), split)
        self.report.files.append(fr)
        stats = FileStats(str(path))
        base = (
            os.path.abspath(self.o.image_root)
            if self.o.image_root
            else os.path.dirname(os.path.abspath(path))
        )
        checker = ImageChecker(base, self.o.image_check, self.o.allow_outside_root, self.o.max_image_pixels)
        done = 0
        for batch in iter_line_batches(path, stats, self.o.block_bytes, self.o.max_line_bytes):
            with at(file=str(path), line=batch.numbers[0] if batch.numbers else None):
                self._batch(fr, batch, split, base, checker)
            if self.o.progress is not None:
                self.o.progress(stats.bytes - done)
                done = stats.bytes
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

    def _batch(self, fr: FileReport, batch: LineBatch, split: str, base: str, checker: ImageChecker) -> None:
        for over in batch.oversized:
            issue = Issue(
                codes.LINE_TOO_LONG.code,
                f"line is {over.size} bytes, limit {self.o.max_line_bytes}",
                None,
                over.size,
            )
            self._reject(
                fr,
                over.number,
                None,
                [issue],
                extra={
                    "raw_prefix": over.prefix.decode("utf-8", "replace"),
                    "raw_bytes": over.size,
                    "raw_sha256": over.sha256,
                },
            )
        lines, numbers = batch.lines, batch.numbers
        fast = check_batch(lines)
        rows, positions, warns = self._rows(fr, fast, lines, numbers, base)
        kept: list[int] = []
        ids = rows.column("id").to_pylist()
        images = rows.column("images").to_pylist()
        wh = zip(rows.column("width").to_pylist(), rows.column("height").to_pylist(), strict=False)
        seen_ids, seen_images, train_images = self.ids, self.images, self.train_images
        is_val, is_train, path = split == "val", split == "train", fr.path
        record_issues = checker.record_issues
        warn_lines: list[bytes] = []
        for r, (p, rid, imgs, (w, h)) in enumerate(zip(positions, ids, images, wh, strict=False)):
            line = numbers[p]
            issues = record_issues(imgs, w, h)
            if rid in seen_ids:
                issues.append(
                    Issue(codes.DUPLICATE_ID.code, f"id already used at {seen_ids[rid]}", "id", rid)
                )
            record_warns = warns.get(p, [])
            for i, img in enumerate(imgs):
                if is_val and img in train_images:
                    issues.append(
                        Issue(
                            codes.SPLIT_OVERLAP.code, "image also used by a train record", f"images[{i}]", img
                        )
                    )
                elif img in seen_images:
                    record_warns.append(
                        Issue(
                            codes.DUPLICATE_IMAGE.code,
                            f"image also used at {seen_images[img]}",
                            f"images[{i}]",
                            img,
                        )
                    )
            if issues:
                self._reject(fr, line, lines[p], issues + record_warns, rid)
                continue
            kept.append(r)
            where = f"{path}:{line}"
            seen_ids[rid] = where
            for img in imgs:
                seen_images.setdefault(img, where)
            if is_train:
                train_images.update(imgs)
            if record_warns:
                self.report.add(fr, line, record_warns, rid)
                warn_lines.extend(
                    _ENC.encode({"file": path, "line": line, "id": rid, **wi.as_dict()})
                    for wi in record_warns
                )
        fr.valid += len(kept)
        if warn_lines:
            warn_lines.append(b"")
            self.warnings.write(b"\n".join(warn_lines))
        self._write_rows(split, rows.take(pa.array(kept, pa.int64())) if len(kept) != rows.num_rows else rows)

    def _rows(
        self, fr: FileReport, fast: FastResult, lines: list[bytes], numbers: list[int], base: str
    ) -> tuple[pa.Table, list[int], dict[int, list[Issue]]]:
        """Accepted rows of a batch (fast + explained) as one table in line order, with their batch positions."""
        recs = fast.records
        warns = dict(fast.warnings)
        cache = self._resolved.setdefault(base, {})

        def resolve(path: str) -> str:
            hit = cache.get(path)
            if hit is None:
                hit = cache[path] = resolve_image_path(path, base)
            return hit

        fast_table = pa.Table.from_arrays(
            [
                pa.array(record_ids(recs, lines, fast.accepted), pa.string()),
                _images_column([r.images or [] for r in recs], resolve),
                pa.array([r.width for r in recs], pa.int32()),
                pa.array([r.height for r in recs], pa.int32()),
                fast.objects_table,
                pa.array([r.summary for r in recs], pa.string()),
                pa.nulls(len(recs), pa.string()),
                pa.array([json_text(r.metadata or {}) for r in recs], pa.string()),
                pa.array([fr.path] * len(recs), pa.string()),
                pa.array([numbers[p] for p in fast.accepted], pa.int64()),
            ],
            schema=self.schema,
        )
        slow_rows: list[dict[str, Any]] = []
        slow_pos: list[int] = []
        for p in fast.unsure:
            out = explain(lines[p], self.o.allow_extra)
            if out.record is None:
                self._reject(
                    fr, numbers[p], lines[p], out.issues, own_id(lines[p]), more=out.more, note=out.note
                )
                continue
            imgs = [resolve(i) for i in out.record.images or []]
            row = normalised_row(out, imgs)
            row["source_file"], row["source_line"] = fr.path, numbers[p]
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

    def finish(self, splits: Sequence[str]) -> None:
        self.rejects.close()
        self.warnings.close()
        for split in splits:
            if split not in self.writers:
                self._write_rows(split, self.schema.empty_table())
            writer = self.writers[split]
            fingerprint = hashlib.sha256(
                f"{split}:{self.report.files and [f.path for f in self.report.files]}:{writer.rows}".encode()
            ).hexdigest()[:16]
            writer.close(fingerprint)


def _images_column(images: list[list[str]], resolve: Callable[[str], str]) -> pa.Array:
    """The `images` column: each distinct reference of the batch is resolved once, then gathered in bulk."""
    lengths = np.fromiter(map(len, images), np.int64, count=len(images))
    flat = pa.array(list(chain.from_iterable(images)), pa.string()).dictionary_encode()
    resolved = pa.array(list(map(resolve, flat.dictionary.to_pylist())), pa.string())
    values = resolved.take(flat.indices)
    offsets = np.zeros(len(images) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


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


def _validate(
    out: Path, inputs: list[Path], vals: list[Path], o: ValidateOptions, report: Report, start: float
) -> Report:
    from vlmdata.io.atomic import atomic_write_json

    # an explicit --image-root is an input; each JSONL's own folder (the implicit root) may hold the output
    explicit = [o.image_root] if o.image_root else []
    implicit = [] if o.image_root else [p.parent for p in inputs + vals]
    with output_dir(out, command="validate", inputs=[*inputs, *vals, *explicit], roots=implicit) as tmp:
        run = _Run(tmp, o, report)
        try:
            for p in inputs:
                run.file(p, "train")
            for p in vals:
                run.file(p, "val")
            run.finish(["train", "val"] if vals else ["train"])
        finally:
            run.rejects.close()
            run.warnings.close()
        report.seconds = time.perf_counter() - start
        atomic_write_json(tmp / "report.json", report.as_dict())
    return report
