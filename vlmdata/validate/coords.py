"""Bulk parsing of many raw JSON number arrays (`[x1, y1, ...]`) into one flat float64 array.

Per-object float lists are the expensive part of decoding grounding records. The fast path keeps each geometry
as the raw JSON text (`msgspec.Raw`, which the record decode has already checked for syntax), joins all of a
batch's arrays, screens them with byte-level numpy masks (one `[` and one `]` each, a digit before the `]`, only
number characters: anything else, such as `true`, `"3"`, `null`, `NaN` or a nested array, marks that array as
not plain numbers) and decodes the survivors with a single msgspec call. Element counts come from counting
commas per array. If the bulk decode still fails, arrays are decoded one by one so a bad one is isolated.
"""

from __future__ import annotations

import msgspec
import numpy as np

_FLOATS = msgspec.json.Decoder(list[float])
_ALLOWED = np.zeros(256, bool)
for _c in b"0123456789.-+eE,[] \t\r\n":
    _ALLOWED[_c] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[48:58] = True


def _per_array(positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(starts, positions, "right") - 1, minlength=len(starts))


def parse_flat(
    raws: list[bytes] | list[msgspec.Raw], sizes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat float64 values of the good arrays, element count per good array, good mask over `raws`)."""
    n = len(raws)
    if n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)
    if sizes is None:
        sizes = np.fromiter(map(len, raws), np.int64, count=n)
    joined = b",".join(raws)  # type: ignore[arg-type]
    buf = np.frombuffer(joined, np.uint8)
    starts = np.zeros(n, np.int64)
    np.cumsum(sizes[:-1] + 1, out=starts[1:])
    ends = starts + sizes - 1
    good = (buf[starts] == 91) & (buf[ends] == 93) & _DIGIT[buf[np.maximum(ends - 1, 0)]]
    opens = np.flatnonzero(buf == 91)
    if len(opens) != n:
        good &= _per_array(opens, starts) == 1
    closes = np.flatnonzero(buf == 93)
    if len(closes) != n:
        good &= _per_array(closes, starts) == 1
    odd = np.flatnonzero(~_ALLOWED[buf])
    if len(odd):
        good &= _per_array(odd, starts) == 0
    comma_cum = np.cumsum(buf == 44, dtype=np.int32)
    commas = comma_cum[ends] - comma_cum[starts]  # inside each array (the joining commas sit outside)
    lens = commas[good] + 1
    if good.all():
        text = joined.translate(None, b"[]")
    else:  # drop the rejected arrays (with their joining comma) and every bracket in one vectorised pass
        keep = np.repeat(good, sizes + 1)[: len(buf)] & (buf != 91) & (buf != 93)
        text = buf[keep].tobytes().rstrip(b",")
    try:
        values = _FLOATS.decode(b"[" + text + b"]")
        if len(values) == int(lens.sum()):
            return np.array(values, np.float64), lens, good
    except (msgspec.DecodeError, OverflowError):
        pass
    return _one_by_one(raws, good)


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
