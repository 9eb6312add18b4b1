"""JSONL streaming: line numbers, BOM, CRLF, blank lines, giant lines and block boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlmdata.io.jsonl import FileStats, iter_line_batches

CONTENT = b'\xef\xbb\xbf{"a":1}\r\n\n  \n' + b"x" * 100 + b'\n{"b":2}\n' + b"y" * 50 + b'\n\xff\xfe\n{"c":3}'


def _read(path: Path, block: int, limit: int) -> tuple[list[tuple[int, object]], FileStats]:
    stats = FileStats(str(path))
    out: list[tuple[int, object]] = []
    for batch in iter_line_batches(path, stats, block_bytes=block, max_line_bytes=limit):
        out += list(zip(batch.numbers, batch.lines, strict=True))
        out += [(o.number, ("oversized", o.size, o.prefix[:3])) for o in batch.oversized]
    return sorted(out, key=lambda t: t[0]), stats


@pytest.mark.parametrize("block", [1, 2, 3, 5, 16, 64, 1 << 20])
def test_every_line_is_accounted_for_at_any_block_size(tmp_path: Path, block: int) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(CONTENT)
    lines, stats = _read(path, block, 40)
    assert lines == [
        (1, b'{"a":1}'),
        (4, ("oversized", 100, b"xxx")),
        (5, b'{"b":2}'),
        (6, ("oversized", 50, b"yyy")),
        (7, b"\xff\xfe"),
        (8, b'{"c":3}'),
    ]
    assert (stats.lines, stats.blank, stats.crlf, stats.bom) == (8, 2, 1, True)
    assert stats.lines == stats.blank + len(lines)


def test_empty_and_newline_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert _read(empty, 8, 100)[1].lines == 0
    newline = tmp_path / "n.jsonl"
    newline.write_bytes(b"\n")
    lines, stats = _read(newline, 8, 100)
    assert lines == [] and (stats.lines, stats.blank) == (1, 1)


def test_bom_only_at_start_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"a":1}\n\xef\xbb\xbf{"b":2}\n')
    lines, stats = _read(path, 4, 100)
    assert not stats.bom and lines[1] == (2, b'\xef\xbb\xbf{"b":2}')


def test_giant_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_bytes(b'{"a":1}\n' + b"z" * 5000)
    lines, stats = _read(path, 256, 1000)
    assert lines == [(1, b'{"a":1}'), (2, ("oversized", 5000, b"zzz"))] and stats.lines == 2
