"""Keys repeated in one JSON object: an error of the record, not a silent last-wins.

JSON parsers (Python's, msgspec's, pydantic's) keep the last value of a repeated key and drop the others, so
`{"bbox_2d": [..], "bbox_2d": [..]}` would validate as whichever came last. `repeated_keys(raw)` is the exact
check (Python's parser with a pairs hook, so escaped spellings of one key count as the same key); the
reference verdict (`vlmdata.contract.explain.explain_line`) reports each repeat as VD109 with its field path.
The fast validation path screens whole batches for candidates first (`vlmdata.validate.keyscan`) and runs
this check only on them; the check itself first proves most lines free of repeats with one msgspec parse and a
colon count (`_surely_unique`, the same argument) and walks only the rest with Python's parser.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from vlmdata.contract import codes
from vlmdata.contract.rules import Issue


class _Object(dict):
    repeated: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object()
    out.repeated = []
    for key, value in pairs:
        if key in out and key not in out.repeated:
            out.repeated.append(key)
        out[key] = value
    return out


def _walk(value: Any, path: str, found: list[tuple[str, str]]) -> None:
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Object):
            found.extend((where, key) for key in node.repeated)
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(node))))


_GENERIC = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder().encode


def _surely_unique(raw: bytes) -> bool:
    """True when the line repeats no key, proven cheaply: every key of a JSON object ends in a colon and
    re-encoding the parsed line writes each key once and every string with its colons, so equal colon counts
    mean nothing was dropped. A colon written as an escape (`\\u003a`, which re-encoding writes as a colon)
    or a line msgspec does not parse proves nothing: the exact check decides."""
    if b"\\u003a" in raw or b"\\u003A" in raw:
        return False
    try:
        again = _ENCODE(_GENERIC.decode(raw))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, OverflowError, TypeError, ValueError):
        return False
    return again.count(b":") == raw.count(b":")


def repeated_keys(raw: bytes | str) -> list[tuple[str, str]]:
    """(path of the object, key) for every key that appears more than once in one object of the line, in
    document order; empty when there is none or the line is not JSON (the models report that)."""
    if _surely_unique(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw):
        return []
    try:
        value = json.loads(raw, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return []
    found: list[tuple[str, str]] = []
    _walk(value, "", found)
    return found


def repeated_key_issues(raw: bytes | str) -> list[Issue]:
    return [
        Issue(
            codes.REPEATED_KEY.code,
            f"key {key!r} appears more than once in one object (JSON keeps only the last value)",
            f"{path}.{key}" if path else key,
            key,
        )
        for path, key in repeated_keys(raw)
    ]
