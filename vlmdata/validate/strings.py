"""Bulk handling of many raw JSON strings (`msgspec.Raw` slices such as `"类别=BBU设备"`) without Python str objects.

The fast path keeps object descs as raw JSON text. Here a whole batch of them is checked at once: each must be
a JSON string (quoted), non-empty, valid UTF-8 and free of newline, carriage return and tab. Raw control
characters cannot occur inside a JSON string (the record decode rejected them), so a forbidden character can
only arrive through an escape; strings without a backslash are their own UTF-8 content and become an Arrow
string column straight from the bytes. Strings with escapes are decoded together in one msgspec call.
"""

from __future__ import annotations

import re

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_STRINGS = msgspec.json.Decoder(list[str])
_FORBIDDEN = re.compile("[\n\r\t]")


def _per_item(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(starts, positions, "right") - 1, minlength=len(starts))


def parse_strings(raws: list[msgspec.Raw]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(Arrow string column of the decoded values, bad mask, escaped mask): bad = not a desc the contract
    accepts; escaped = its JSON text holds a backslash (so it is not its own canonical text)."""
    n = len(raws)
    escaped = np.zeros(n, bool)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, bool), escaped
    sizes = np.fromiter(map(len, raws), np.int64, count=n)
    joined = b"".join(raws)
    buf = np.frombuffer(joined, np.uint8)
    starts = np.zeros(n, np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    ends = starts + sizes - 1
    bad = (sizes < 3) | (buf[starts] != 34) | (buf[ends] != 34)  # not a string, or the empty string
    if bad.any():  # rare: some desc is not a string at all; its record goes to the models anyway
        column = pa.array([bytes(r)[1:-1].decode("utf-8", "replace") for r in raws], pa.string())
        return (
            column,
            bad | np.fromiter((not _utf8(bytes(r)) or b"\\" in bytes(r) for r in raws), bool, count=n),
            escaped,
        )
    keep = np.ones(len(buf), bool)
    keep[starts] = False
    keep[ends] = False
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(sizes - 2, out=offsets[1:])
    column = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf[keep].tobytes()))
    try:
        column.validate(full=True)
    except pa.ArrowInvalid:  # some desc is not valid UTF-8: find it
        bad |= np.fromiter((not _utf8(bytes(r)) for r in raws), bool, count=n)
        column = pa.array([bytes(r)[1:-1].decode("utf-8", "replace") for r in raws], pa.string())
    if b"\\" in joined:
        escaped = (_per_item(np.flatnonzero(buf == 92), starts) > 0) & ~bad
        idx = np.flatnonzero(escaped)
        try:
            values = _STRINGS.decode(b"[" + b",".join(raws[i] for i in idx) + b"]")
        except (msgspec.DecodeError, UnicodeDecodeError):
            values = None
        if values is None:
            bad |= escaped
        else:
            wrong = np.fromiter(
                (_FORBIDDEN.search(v) is not None or not v for v in values), bool, len(values)
            )
            bad[idx[wrong]] = True
            if not wrong.all():  # a bad desc rejects its record anyway: only good ones need their value
                fix = np.zeros(n, bool)
                fix[idx[~wrong]] = True
                column = pc.replace_with_mask(
                    column,
                    pa.array(fix),
                    pa.array([v for v, w in zip(values, wrong, strict=True) if not w], pa.string()),
                )
    return column, bad, escaped


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
