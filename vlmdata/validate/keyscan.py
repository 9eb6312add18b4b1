"""Lines that repeat a key in one JSON object, found among the lines the fast path decoded, at C speed.

msgspec, like every JSON parser, keeps the last value of a repeated key, so the fast path cannot see a repeat
in what it decodes. It can count one: every key of a JSON object ends in a colon, and re-encoding a decoded
record writes each key once, every string with the same colons (a colon is never escaped), raw fields
verbatim and free-form objects (`metadata`, `attributes`, any keys at any depth) with their repeats collapsed.
So a line holds at most as many colons as its re-encoding, exactly as many when nothing was repeated, and

    colons(line) == colons(re-encoded line)  ⇒  no key of the line is repeated.

Three steps, each run only where the one before could not decide:
1. the whole batch at once: colons of the accepted lines (numpy) against colons of their re-encoding (one
   msgspec call). Equal — the common case — means no line repeats a key;
2. per line, the same count; a line may also differ because the fast-path structs leave out an explicit
   `null` or default (`"summary": null`, `"image_index": 0`). Those lines are decoded again into key structs
   (`vlmdata.contract.structs.KRecord`: every field raw text, so every key that was present is written back)
   with their free-form fields re-encoded, and counted again;
3. a line still differing runs the exact check (`vlmdata.contract.jsonkeys.repeated_keys`); only a real repeat
   leaves the fast path, and the models reject it (VD109).
A colon written as a `\\u003a` escape is the one spelling re-encoding adds a colon for; a line holding one goes
straight to the exact check.
"""

from __future__ import annotations

import msgspec
import numpy as np

from vlmdata.contract.jsonkeys import repeated_keys
from vlmdata.contract.structs import FREE_FORM, KRecord

_COLON, _BACKSLASH = 58, 92
_ENCODE = msgspec.json.Encoder().encode
_KEYS = msgspec.json.Decoder(KRecord)
_RECORD_FREE = tuple(name for model, name in FREE_FORM if model == "Record")
_OBJECT_FREE = tuple(name for model, name in FREE_FORM if model == "Object")


def repeated_key_positions(
    lines: list[bytes], blob: bytes, positions: list[int], records: list[object]
) -> set[int]:
    """The positions (into `lines`) among `positions` whose line repeats a key; `records` are the fast-path
    decodes of those lines and `blob` is `b"\\n".join(lines)`."""
    if not positions:
        return set()
    a = np.frombuffer(blob, np.uint8)
    exact = _escaped_colon_lines(a, lines) & set(positions)
    if not exact:
        colons = int(np.count_nonzero(a == _COLON))
        if len(positions) != len(lines):
            accepted = set(positions)
            colons -= sum(line.count(b":") for i, line in enumerate(lines) if i not in accepted)
        if colons == int(np.count_nonzero(np.frombuffer(_ENCODE(records), np.uint8) == _COLON)):
            return set()
    for p, record in zip(positions, records, strict=True):
        if p in exact:
            continue
        count = lines[p].count(b":")
        if _ENCODE(record).count(b":") != count and _key_colons(lines[p]) != count:
            exact.add(p)
    return {p for p in exact if repeated_keys(lines[p])}


def _escaped_colon_lines(a: np.ndarray, lines: list[bytes]) -> set[int]:
    """Lines holding `\\u003a` (a colon written as an escape; an escaped backslash before it only costs an
    exact check)."""
    slashes = np.flatnonzero(a[:-5] == _BACKSLASH) if len(a) > 5 else np.zeros(0, np.int64)
    if not len(slashes):
        return set()
    follow = a[slashes[:, None] + np.arange(1, 6)]
    hit = (
        (follow[:, 0] == ord("u"))
        & (follow[:, 1] == ord("0"))
        & (follow[:, 2] == ord("0"))
        & (follow[:, 3] == ord("3"))
        & ((follow[:, 4] | 0x20) == ord("a"))
    )
    if not hit.any():
        return set()
    starts = np.zeros(len(lines), np.int64)
    np.cumsum(np.fromiter(map(len, lines), np.int64, count=len(lines))[:-1] + 1, out=starts[1:])
    return set((np.searchsorted(starts, slashes[hit], "right") - 1).tolist())


def _key_colons(line: bytes) -> int:
    """Colons of the line re-encoded through the key structs (every present key once, free-form fields with
    their repeats collapsed); -1 when it does not decode."""
    try:
        record = _KEYS.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return -1
    total = _ENCODE(record).count(b":")
    free = [getattr(record, name) for name in _RECORD_FREE]
    if record.objects:
        free += [getattr(o, name) for o in record.objects for name in _OBJECT_FREE]
    for raw in free:
        text = bytes(raw)
        if b":" in text:
            try:
                total += _ENCODE(msgspec.json.decode(text)).count(b":") - text.count(b":")
            except (msgspec.DecodeError, RecursionError):
                return -1
    return total
