"""The driver's half of `validate`: dataset-level rules over the shards' candidates, and every output file.

The shards (`vlmdata.validate.shard`) decide everything about a line that depends on that line alone. `Merge`
receives their batches in file order, line order within a file, exactly as a single pass sees them, and
applies what depends on other lines: duplicate ids (the first occurrence is kept, later ones are rejected),
duplicate images (a warning) and train/val overlap (a val record sharing an image with train is rejected).
It writes `rejects.jsonl`, `warnings.jsonl` and the kept rows, batch by batch, through the one dataset
writer (`vlmdata.io.writer`) into `data/` and `val/`. It holds every kept id and image path (to check later
records against them), each with its location packed into one integer.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from vlmdata.contract import codes
from vlmdata.contract.rules import Issue
from vlmdata.io.jsonl import FileStats
from vlmdata.io.writer import DatasetWriter
from vlmdata.validate.report import EXAMPLES_PER_CODE, FileReport, Report
from vlmdata.validate.shard import ENCODER, BatchResult, reject_entry

if TYPE_CHECKING:
    from vlmdata.validate.run import ValidateOptions

_LINE_BITS = 40  # a kept record's location: file index << 40 | line number
_LINE_MASK = (1 << _LINE_BITS) - 1
DUP_ID, DUP_IMAGE, OVERLAP = codes.DUPLICATE_ID.code, codes.DUPLICATE_IMAGE.code, codes.SPLIT_OVERLAP.code


class Merge:
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
            self._reject(fr, line0 + r.line, r.raw, r.issues, r.record_id, r.extra, r.more, r.note)
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
