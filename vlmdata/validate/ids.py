"""Derived record ids: a SHA-256 of the record's canonical JSON, so an id survives file moves and reorderings.

Canonical JSON is the record decoded into the contract's typed form (numbers as the contract types them, e.g.
`1` in a coordinate list becomes `1.0`; absent and null optional fields dropped), re-encoded compactly with
fields in contract order and every free-form object's keys sorted, UTF-8. Never Python's `hash()`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

ID_PREFIX = "h"
ID_HEX_CHARS = 24  # 96 bits


def _digest(data: bytes) -> str:
    return ID_PREFIX + hashlib.sha256(data).hexdigest()[:ID_HEX_CHARS]


_ENCODER = msgspec.json.Encoder(order="deterministic")


def derive_id_from_struct(record: Any) -> str:
    return _digest(_ENCODER.encode(record))


def derive_id(raw: bytes) -> str:
    """The derived id of one valid JSONL line (raw bytes of the record)."""
    from vlmdata.validate.fast import DECODER

    try:
        return derive_id_from_struct(DECODER.decode(raw))
    except (msgspec.DecodeError, UnicodeDecodeError, OverflowError, RecursionError):
        value = json.loads(raw)
        return _digest(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
