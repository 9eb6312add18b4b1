"""JSONL sources (ODVG, ms-swift, Qwen answers): streamed in blocks with line numbers, one JSON object a line.

Reading goes through `vlmdata.io.jsonl.iter_line_batches` (validate's reader): a BOM is stripped, CRLF
accepted, blank lines counted, and a line longer than the limit is never held in memory. Each block of lines is
one unit of work, so memory stays flat in the size of the file. A line that is not JSON, not an object or too
long is a skipped record (`invalid_json`, `not_object`) whose annotations cannot be counted; every other line
is handed to the format as `(line number, dict)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from vlmdata.importers.report import FileTally
from vlmdata.io.jsonl import FileStats, OversizedLine, iter_line_batches

BLOCK_BYTES = 1 << 20
_DECODER = msgspec.json.Decoder()


@dataclass
class LineShard:
    file: str
    numbers: list[int]
    lines: list[bytes]
    oversized: list[OversizedLine] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # format-wide settings found while planning


def plan_lines(
    src: str, params: dict[str, Any] | None = None, block_bytes: int | None = None
) -> Iterator[LineShard]:
    stats = FileStats(src)
    for batch in iter_line_batches(Path(src), stats, block_bytes=block_bytes or BLOCK_BYTES):
        yield LineShard(src, batch.numbers, batch.lines, batch.oversized, params or {})


def _python_json_ok(line: bytes) -> bool:
    import json

    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def decoded(shard: LineShard, tally: FileTally) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every line of the shard that is a JSON object; the others are tallied."""
    for over in shard.oversized:
        tally.skip_record(
            "invalid_json",
            {"line": over.number},
            f"line of {over.size} bytes exceeds the line limit",
            code="VD103",
        )
    for number, line in zip(shard.numbers, shard.lines, strict=True):
        try:
            obj = _DECODER.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, OverflowError) as exc:
            if _python_json_ok(line):  # NaN / Infinity: Python's json writes them, JSON does not have them
                tally.skip_record("not_finite", {"line": number}, "the line holds NaN or Infinity")
                continue
            code = "VD100" if isinstance(exc, UnicodeDecodeError) else "VD101"
            tally.skip_record("invalid_json", {"line": number}, f"not valid JSON: {exc}", code=code)
            continue
        if not isinstance(obj, dict):
            tally.skip_record("not_object", {"line": number}, f"a JSON {type(obj).__name__}, not an object")
            continue
        yield number, obj
