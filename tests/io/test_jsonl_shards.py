"""Reading a JSONL file shard by shard gives exactly the batches of one whole-file read."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vlmdata.io.jsonl import (
    BOM,
    FileStats,
    iter_line_batches,
    read_line,
    shard_ranges,
)


def _batches(path: Path, block: int, limit: int, start: int = 0, stop: int | None = None):
    stats = FileStats(str(path))
    out = []
    for b in iter_line_batches(path, stats, block, limit, start=start, stop=stop):
        over = [(o.number, o.size, o.prefix, o.sha256) for o in b.oversized]
        out.append((b.numbers, b.lines, b.starts, over, b.nbytes))
    return out, stats


def _sharded(path: Path, block: int, limit: int, shard: int):
    size = path.stat().st_size
    ranges = shard_ranges(size, shard, block, limit)
    starts = [a for a, _ in ranges]
    assert starts == sorted(set(starts)) and starts[0] == 0 and ranges[-1][1] is None
    assert all(stop == nxt for (_, stop), (nxt, _) in zip(ranges, ranges[1:], strict=False))
    total, before = FileStats(str(path)), 0
    merged = []
    for start, stop in ranges:
        batches, stats = _batches(path, block, limit, start, stop)
        for numbers, lines, starts_, over, nbytes in batches:
            shifted = [(n + before, s, p, h) for n, s, p, h in over]
            merged.append(([n + before for n in numbers], lines, starts_, shifted, nbytes))
        before += stats.lines
        for name in ("lines", "blank", "crlf", "bytes"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        total.bom |= stats.bom
    return merged, total


LINE = st.one_of(
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"x")),
    st.sampled_from([b"", b"  ", b'{"a":1}', b"\r", b'{"b":2}\r', b"z" * 90, b"\xff\xfe"]),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(LINE, max_size=25),
    bom=st.booleans(),
    final_newline=st.booleans(),
    block=st.integers(1, 40),
    limit=st.integers(1, 60),
    shard=st.integers(1, 120),
)
def test_shards_equal_the_whole_file(
    tmp_path_factory, lines, bom, final_newline, block, limit, shard
) -> None:
    path = tmp_path_factory.mktemp("j") / "a.jsonl"
    data = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path.write_bytes(data)
    whole, stats = _batches(path, block, limit)
    merged, total = _sharded(path, block, limit, shard)
    assert merged == whole
    assert (total.lines, total.blank, total.crlf, total.bytes, total.bom) == (
        stats.lines,
        stats.blank,
        stats.crlf,
        stats.bytes,
        stats.bom,
    )
    for numbers, raw, starts, _, _ in whole:  # every line can be read back from its offset
        for line, start in zip(raw, starts, strict=True):
            assert read_line(path, start, len(line)) == line
        assert len(numbers) == len(raw) == len(starts)


def test_an_oversized_line_across_shards_is_hashed_whole(tmp_path: Path) -> None:
    big = b"q" * 10_000
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a":1}\n' + big + b'\n{"b":2}\n')
    merged, _ = _sharded(path, 64, 1000, 128)
    over = [o for batch in merged for o in batch[3]]
    assert over == [(2, 10_000, big[:4096], hashlib.sha256(big).hexdigest())]
    assert [n for batch in merged for n in batch[0]] == [1, 3]


def test_shard_ranges_on_block_boundaries() -> None:
    assert shard_ranges(0, 100, 10) == [(0, None)]
    assert shard_ranges(35, 20, 10) == [(0, 20), (20, None)]
    assert shard_ranges(45, 20, 10) == [(0, 20), (20, 40), (40, None)]
    # a block below 3 bytes: the first block is 3 bytes (room for the byte-order mark)
    assert shard_ranges(9, 2, 2) == [(0, 3), (3, 5), (5, 7), (7, None)]
