"""Streaming JSONL reading in large blocks, with 1-based line numbers and byte-level accounting.

The reader never decodes text: it splits raw bytes on `\\n`, so non-UTF-8 bytes reach the validator intact (and
are reported there), a UTF-8 byte-order mark at the start of the file is stripped and noted, a trailing `\\r`
(CRLF files) is stripped and counted, whitespace-only lines are counted as blank, and a line longer than
`max_line_bytes` is never held in memory: it is skipped to its end and reported with its size, a prefix and a
SHA-256 of its bytes. Every line of the file is accounted for exactly once: `lines == blank + len(records) +
len(oversized)` over all batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
DEFAULT_BLOCK_BYTES = 8 << 20
DEFAULT_MAX_LINE_BYTES = 64 << 20
OVERSIZE_PREFIX = 4096


@dataclass
class OversizedLine:
    number: int
    size: int
    prefix: bytes
    sha256: str


@dataclass
class LineBatch:
    numbers: list[int]
    lines: list[bytes]
    oversized: list[OversizedLine] = field(default_factory=list)
    nbytes: int = 0


@dataclass
class FileStats:
    path: str
    lines: int = 0
    blank: int = 0
    crlf: int = 0
    bom: bool = False
    bytes: int = 0


class _Oversize:
    def __init__(self, number: int, head: bytes) -> None:
        self.number = number
        self.size = len(head)
        self.prefix = head[:OVERSIZE_PREFIX]
        self.hash = hashlib.sha256(head)

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.hash.update(data)

    def done(self) -> OversizedLine:
        return OversizedLine(self.number, self.size, self.prefix, self.hash.hexdigest())


def iter_line_batches(
    path: str | Path,
    stats: FileStats,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[LineBatch]:
    """Yield batches of (line number, raw line without its newline) of roughly `block_bytes` each."""
    block_bytes = max(1, min(block_bytes, max_line_bytes + 1))
    lineno = 0
    carry = b""
    skipping: _Oversize | None = None
    first = True
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(max(block_bytes, len(BOM)) if first else block_bytes)
            if not chunk:
                break
            if first:
                first = False
                if chunk.startswith(BOM):
                    stats.bom = True
                    chunk = chunk[len(BOM) :]
            stats.bytes += len(chunk)
            batch = LineBatch([], [], nbytes=len(chunk))
            if skipping is not None:
                pos = chunk.find(b"\n")
                if pos < 0:
                    skipping.add(chunk)
                    continue
                skipping.add(chunk[:pos])
                batch.oversized.append(skipping.done())
                skipping = None
                lineno += 1
                stats.lines += 1
                chunk = chunk[pos + 1 :]
            parts = (carry + chunk).split(b"\n")
            carry = parts.pop()
            if len(carry) > max_line_bytes:
                skipping = _Oversize(lineno + len(parts) + 1, carry)
                carry = b""
            lineno = _add_parts(parts, lineno, batch, stats, max_line_bytes)
            if batch.lines or batch.oversized:
                yield batch
        tail = LineBatch([], [])
        if skipping is not None:
            lineno += 1
            stats.lines += 1
            tail.oversized.append(skipping.done())
        elif carry:
            _add_parts([carry], lineno, tail, stats, max_line_bytes)
        if tail.lines or tail.oversized:
            yield tail


def _add_parts(
    parts: list[bytes], lineno: int, batch: LineBatch, stats: FileStats, max_line_bytes: int
) -> int:
    numbers, lines = batch.numbers, batch.lines
    for part in parts:
        lineno += 1
        if part.endswith(b"\r"):
            stats.crlf += 1
            part = part[:-1]
        if not part or part.isspace():
            stats.blank += 1
        elif len(part) > max_line_bytes:
            over = _Oversize(lineno, part)
            batch.oversized.append(over.done())
        else:
            numbers.append(lineno)
            lines.append(part)
    stats.lines += len(parts)
    return lineno
