"""The plumbing both output parsers share: strict JSON (duplicate keys and NaN refused), line splitting and the
`<DOMAIN=X>, <TASK=Y>` header shape. Dense outputs are read by `vlmdata.eval.parse`, summaries by
`vlmdata.eval.summary`."""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

HEADER_RE = re.compile(r"^<DOMAIN=([A-Za-z0-9_]+)>, <TASK=([A-Z]+)>$")


class ParseResult(Protocol):
    duplicate_keys: bool
    issues: list[str]


class DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def loads_strict(text: str) -> Any:
    """json.loads that rejects duplicate keys (raises DuplicateKeyError) and NaN/Infinity."""

    def _bad_constant(name: str) -> Any:
        raise ValueError(f"non-finite number {name}")

    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)


def split_lines(text: str) -> list[str]:
    return [line for line in text.strip().replace("\r\n", "\n").split("\n")]


def parse_header(line: str) -> tuple[str, str] | None:
    m = HEADER_RE.match(line.strip())
    return (m.group(1), m.group(2)) if m else None


FAILED = object()


def load_json(line: str, result: ParseResult) -> Any:
    """The line's JSON value, or `FAILED` with the reason (duplicate key or syntax) recorded on `result`."""
    try:
        return loads_strict(line)
    except DuplicateKeyError as exc:
        result.duplicate_keys = True
        result.issues.append(f"duplicate key {exc.args[0]!r}")
    except (ValueError, RecursionError) as exc:
        result.issues.append(f"JSON does not parse: {exc}")
    return FAILED
