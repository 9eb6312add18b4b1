"""Bulk parsing of many raw JSON number arrays (`[x1, y1, ...]`) into one flat float64 array.

Per-object float lists are the expensive part of decoding grounding records. The fast path keeps each geometry
as the raw JSON text (`msgspec.Raw`, which the record decode has already checked for syntax), joins all of a
batch's arrays, screens them with byte-level numpy masks (one `[` and one `]` each, a digit before the `]`, only
number characters: anything else, such as `true`, `"3"`, `null`, `NaN` or a nested array, marks that array as
not plain numbers) and parses the survivors in one Arrow string-to-float64 cast (C++, exact, no Python floats).
Element counts come from counting commas per array. If the bulk parse still fails (or yields a non-finite
value), arrays are decoded one by one with msgspec so a bad one is isolated.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FLOATS = msgspec.json.Decoder(list[float])
_ALLOWED = np.zeros(256, bool)
for _c in b"0123456789.-+eE,[] \t\r\n;":
    _ALLOWED[_c] = True
_STRIP = b"[] \t\r\n"
_ALLOWED_BYTES = bytes(np.flatnonzero(_ALLOWED).astype(np.uint8))
_DIGIT = np.zeros(256, bool)
_DIGIT[48:58] = True


def _per_array(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(starts, positions, "right") - 1, minlength=len(starts))


class Tokens(NamedTuple):
    """The number texts behind parsed values: value i is `data[offsets[i]:offsets[i + 1]]`."""

    data: bytes
    offsets: np.ndarray


def parse_flat(
    raws: list[bytes] | list[msgspec.Raw], sizes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Tokens | None]:
    """(flat float64 values of the good arrays, element count per good array, good mask over `raws`, the
    values' texts when they were parsed in bulk)."""
    n = len(raws)
    if n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool), Tokens(b"", np.zeros(1, np.int32))
    if sizes is None:
        sizes = np.fromiter(map(len, raws), np.int64, count=n)
    joined = b";".join(raws)  # `;` cannot occur inside a JSON number array
    buf = np.frombuffer(joined, np.uint8)
    starts = np.zeros(n, np.int64)
    np.cumsum(sizes[:-1] + 1, out=starts[1:])
    ends = starts + sizes - 1
    good = (buf[starts] == 91) & (buf[ends] == 93) & _DIGIT[buf[np.maximum(ends - 1, 0)]]
    if joined.count(b"[") != n:
        good &= _per_array(np.flatnonzero(buf == 91), starts) == 1
    if joined.count(b"]") != n:
        good &= _per_array(np.flatnonzero(buf == 93), starts) == 1
    odd = joined.translate(None, _ALLOWED_BYTES)  # the bytes that are not part of a plain number list
    for value in set(odd):  # usually a few distinct bytes (`true`, a quote): one vectorised pass each
        good &= _per_array(np.flatnonzero(buf == value), starts) == 0
    if good.all():
        text = joined.translate(None, _STRIP)
    else:  # drop the rejected arrays (with their joiner) in one vectorised pass
        text = buf[np.repeat(good, sizes + 1)[: len(buf)]].tobytes().rstrip(b";").translate(None, _STRIP)
    parsed = _parse_numbers(text, int(good.sum()))
    if parsed is not None:
        return parsed[0], parsed[1], good, parsed[2]
    return (*_one_by_one(raws, good), None)


def _parse_numbers(text: bytes, arrays: int) -> tuple[np.ndarray, np.ndarray, Tokens] | None:
    """Parse `1.5,2;-3e2,4,...` (`;` ends an array; JSON number syntax already checked) with Arrow's C++
    parser, no Python floats: (values, count per array, their texts)."""
    if arrays == 0:
        return np.zeros(0), np.zeros(0, np.int64), Tokens(b"", np.zeros(1, np.int32))
    tb = np.frombuffer(text, np.uint8)
    seps = np.flatnonzero((tb == 44) | (tb == 59))
    expected = len(seps) + 1
    array_end = np.flatnonzero(tb[seps] == 59)  # index (among separators) of each array's end
    if len(array_end) != arrays - 1:
        return None
    bounds = np.empty(arrays + 1, np.int64)
    bounds[0] = 0
    bounds[1:-1] = array_end + 1
    bounds[-1] = expected
    lens = np.diff(bounds)
    data = text.translate(None, b",;")
    offsets = np.empty(expected + 1, np.int32)
    offsets[0] = 0
    offsets[1:-1] = seps - np.arange(len(seps))
    offsets[-1] = len(data)
    if (np.diff(offsets) <= 0).any():  # an empty array or value
        return None
    strings = pa.StringArray.from_buffers(expected, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        values = pc.cast(strings, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not np.isfinite(values).all():  # 1e999 and friends: let the slow path say VD113
        return None
    return values, lens, Tokens(data, offsets)


def shortest_texts(values: np.ndarray, tokens: Tokens, which: np.ndarray) -> np.ndarray:
    """Which of the values `which` are written exactly as msgspec writes their double (shortest round-trip
    digits, positional, `.0` on whole numbers), so the text can stand for the float in canonical JSON.

    A sufficient test on the text alone: a plain decimal `-?D+.D+` without exponent, at most 15 digits (every
    such decimal is the only one of at most 15 digits that maps to its double, so no shorter text round-trips),
    no trailing zero after the point but in `X.0`, and a magnitude from 1e-4 to below 1e15, where msgspec
    writes positionally (0 itself included). Anything else (integers written without `.0`, exponents, long
    texts) answers False, and the caller takes the exact path."""
    if not len(which):
        return np.zeros(0, bool)
    data = np.frombuffer(tokens.data, np.uint8)
    start = tokens.offsets[which].astype(np.int64)
    end = tokens.offsets[which + 1].astype(np.int64)
    size = end - start
    v = np.abs(values[which])
    neg = data[start] == 45
    last, before = data[end - 1], data[np.maximum(end - 2, 0)]
    whole = v == np.floor(v)
    ok = (size - neg - 1 <= 15) & ((v == 0) | ((v >= 1e-4) & (v < 1e15)))
    ok &= np.where(
        whole, (last == 48) & (before == 46), last != 48
    )  # X.0 for whole numbers, else no 0 at the end
    if b"e" in tokens.data or b"E" in tokens.data:  # an exponent somewhere: only dotted texts without one
        exp = (data == 101) | (data == 69)
        marks = np.concatenate(([0], np.cumsum(exp, dtype=np.int64)))
        ok &= marks[end] == marks[start]
    # a non-whole value with no exponent has a point; a whole one ends in `.0`: the text is `-?D+.D+`
    return ok


def _one_by_one(
    raws: list[bytes] | list[msgspec.Raw], good: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    good = good.copy()
    parts: list[list[float]] = []
    for i in np.flatnonzero(good):
        try:
            parts.append(_FLOATS.decode(raws[i]))
        except (msgspec.DecodeError, OverflowError):
            good[i] = False
    lens = np.fromiter(map(len, parts), np.int64, count=len(parts))
    flat = np.array([v for p in parts for v in p], np.float64)
    return flat, lens, good
