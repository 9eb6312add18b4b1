"""Streaming JSONL reading in large blocks, with 1-based line numbers and byte-level accounting.

The reader never decodes text: it splits raw bytes on `\\n`, so non-UTF-8 bytes reach the validator intact (and
are reported there), a UTF-8 byte-order mark at the start of the file is stripped and noted, a trailing `\\r`
(CRLF files) is stripped and counted, whitespace-only lines are counted as blank, and a line longer than
`max_line_bytes` is never held in memory: it is skipped to its end and reported with its size, a prefix and a
SHA-256 of its bytes. Every line of the file is accounted for exactly once: `lines == blank + len(records) +
len(oversized)` over all batches.

Shards: a file is read in blocks at fixed offsets (the first block is `max(block_bytes, 3)` bytes, then
`block_bytes` each), and a batch holds the lines whose terminating newline lies in one block. So a byte range
`[start, stop)` whose ends are block boundaries (`shard_ranges`) holds whole batches: reading it with
`iter_line_batches(..., start=start, stop=stop)` yields exactly the batches a read of the whole file yields for
that range, with line numbers counted from the range's first line (`number - 1 + lines before the range` is the
file's line number) and `FileStats` for the range alone (they add up to the whole file's). A line that begins
before `start` is read back from its beginning. `LineBatch.starts` holds each line's byte offset in the file,
so one line can be read again later (`read_line`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
DEFAULT_BLOCK_BYTES = 8 << 20
DEFAULT_MAX_LINE_BYTES = 64 << 20
OVERSIZE_PREFIX = 4096
_BACK = 1 << 16  # bytes read per step when looking back for the start of a line


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
    starts: list[int] = field(default_factory=list)  # byte offset of each line in the file


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
        if len(self.prefix) < OVERSIZE_PREFIX:  # the prefix is the line's first bytes, however it was read
            self.prefix += data[: OVERSIZE_PREFIX - len(self.prefix)]
        self.size += len(data)
        self.hash.update(data)

    def done(self) -> OversizedLine:
        return OversizedLine(self.number, self.size, self.prefix, self.hash.hexdigest())


def first_block_bytes(block_bytes: int, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> tuple[int, int]:
    """(size of the first block, size of every later block) for these reader settings."""
    block = max(1, min(block_bytes, max_line_bytes + 1))
    return max(block, len(BOM)), block


def shard_ranges(
    size: int,
    shard_bytes: int,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> list[tuple[int, int | None]]:
    """Byte ranges `[start, stop)` covering a file of `size` bytes, about `shard_bytes` each, on block
    boundaries; the last range is open (`stop=None`: to the end of the file as it is when read)."""
    first, block = first_block_bytes(block_bytes, max_line_bytes)
    per = max(1, shard_bytes // block)  # blocks per shard

    def boundary(k: int) -> int:
        return 0 if k == 0 else first + (k - 1) * block

    ranges: list[tuple[int, int | None]] = []
    k = 0
    while boundary(k + per) < size:
        ranges.append((boundary(k), boundary(k + per)))
        k += per
    ranges.append((boundary(k), None))
    return ranges


def read_line(path: str | Path, start: int, length: int) -> bytes:
    """The `length` bytes of a line at byte offset `start` (as `LineBatch.starts` records it)."""
    with open(path, "rb") as fh:
        return os.pread(fh.fileno(), length, start)


def _resume(fh: object, start: int, max_line_bytes: int) -> tuple[bytes, _Oversize | None, int]:
    """The part of a line that begins before `start` (carry or an oversized line being skipped), and its offset."""
    fd = fh.fileno()  # type: ignore[attr-defined]
    at = start
    begin = 0
    while at > 0:
        step = min(_BACK, at)
        piece = os.pread(fd, step, at - step)
        nl = piece.rfind(b"\n")
        if nl >= 0:
            begin = at - step + nl + 1
            break
        at -= step
    if begin == 0 and os.pread(fd, len(BOM), 0) == BOM:
        begin = len(BOM)
    if start - begin <= max_line_bytes:
        return os.pread(fd, start - begin, begin), None, begin
    head = os.pread(fd, min(OVERSIZE_PREFIX, start - begin), begin)
    over = _Oversize(1, head)
    at = begin + len(head)
    while at < start:
        piece = os.pread(fd, min(DEFAULT_BLOCK_BYTES, start - at), at)
        over.add(piece)
        at += len(piece)
    return b"", over, begin


def iter_line_batches(
    path: str | Path,
    stats: FileStats,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[LineBatch]:
    """Yield batches of (line number, raw line without its newline) of roughly `block_bytes` each.

    `start`/`stop` (block boundaries, see `shard_ranges`) read one shard of the file; numbers then count from
    the shard's first line."""
    first_size, block_bytes = first_block_bytes(block_bytes, max_line_bytes)
    lineno = 0
    carry = b""
    skipping: _Oversize | None = None
    first = start == 0
    with open(path, "rb") as fh:
        base = 0  # file offset of the first byte of `carry`
        if start:
            carry, skipping, base = _resume(fh, start, max_line_bytes)
            fh.seek(start)
        pos = start
        while stop is None or pos < stop:
            chunk = fh.read(first_size if first else block_bytes)
            if not chunk:
                break
            pos += len(chunk)
            if first:
                first = False
                if chunk.startswith(BOM):
                    stats.bom = True
                    chunk = chunk[len(BOM) :]
                    base = len(BOM)
            stats.bytes += len(chunk)
            batch = LineBatch([], [], nbytes=len(chunk))
            if skipping is not None:
                cut = chunk.find(b"\n")
                if cut < 0:
                    skipping.add(chunk)
                    continue
                skipping.add(chunk[:cut])
                batch.oversized.append(skipping.done())
                skipping = None
                lineno += 1
                stats.lines += 1
                chunk = chunk[cut + 1 :]
                base = pos - len(chunk)
            parts = (carry + chunk).split(b"\n")
            carry = parts.pop()
            if len(carry) > max_line_bytes:
                skipping = _Oversize(lineno + len(parts) + 1, carry)
                carry = b""
            lineno = _add_parts(parts, lineno, batch, stats, max_line_bytes, base)
            base = pos - len(carry)
            if batch.lines or batch.oversized:
                yield batch
        if stop is not None and pos >= stop:
            return  # the line running past `stop` belongs to the next shard
        tail = LineBatch([], [])
        if skipping is not None:
            lineno += 1
            stats.lines += 1
            tail.oversized.append(skipping.done())
        elif carry:
            _add_parts([carry], lineno, tail, stats, max_line_bytes, base)
        if tail.lines or tail.oversized:
            yield tail


def _add_parts(
    parts: list[bytes], lineno: int, batch: LineBatch, stats: FileStats, max_line_bytes: int, at: int
) -> int:
    numbers, lines, starts = batch.numbers, batch.lines, batch.starts
    for part in parts:
        lineno += 1
        size = len(part)
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
            starts.append(at)
        at += size + 1
    stats.lines += len(parts)
    return lineno
