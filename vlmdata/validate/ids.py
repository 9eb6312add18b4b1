"""Derived record ids: a SHA-256 of the record's canonical JSON, so an id survives file moves and reorderings.

Canonical JSON is the record decoded into the contract's typed form (coordinates as floats, so `1` and `1.0`
agree; absent and null optional fields dropped), re-encoded compactly with fields in contract order and every
free-form object's keys sorted, UTF-8. Formatting, key order and line position never change an id; Python's
`hash()` is never used. Only records without an `id` pay for this (one typed decode + encode + hash).

`derive_id_from_struct` takes a shortcut for the records the fast path accepted: their `FRecord` has the
canonical fields in canonical order with geometries and descs as raw JSON text, so when every desc text holds no
escape and every coordinate is already written as the encoder writes its double
(`vlmdata.validate.coords.shortest_texts`), encoding the struct and dropping the whitespace inside the raw
geometries (`msgspec.json.format(..., indent=-1)`, which copies numbers and strings verbatim) gives the same
canonical bytes without turning any coordinate into a Python float. Tests compare both on random records.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

ID_PREFIX = "h"
ID_HEX_CHARS = 24  # 96 bits


class _CObject(msgspec.Struct, omit_defaults=True, gc=False):
    desc: str
    bbox_2d: list[float] | None = None
    poly: list[float] | None = None
    line: list[float] | None = None
    poly_points: int | None = None
    line_points: int | None = None
    image_index: int = 0
    attributes: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class _CItem(msgspec.Struct, omit_defaults=True, gc=False):
    type: str
    text: str | None = None
    image: str | None = None


class _CMessage(msgspec.Struct, omit_defaults=True, gc=False):
    role: str
    content: str | list[_CItem]


class _CRecord(msgspec.Struct, omit_defaults=True, gc=False):
    id: str | None = None
    images: list[str] | None = None
    width: int | None = None
    height: int | None = None
    objects: list[_CObject] | None = None
    summary: str | None = None
    messages: list[_CMessage] | None = None
    metadata: dict[str, Any] | None = None


_DECODER = msgspec.json.Decoder(_CRecord)
_ENCODER = msgspec.json.Encoder(order="deterministic")


def canonical_json(raw: bytes) -> bytes:
    """The canonical JSON bytes of one record line (valid under the contract)."""
    try:
        return _ENCODER.encode(_DECODER.decode(raw))
    except (msgspec.DecodeError, UnicodeDecodeError, OverflowError, RecursionError):
        value = json.loads(raw)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def derive_id(raw: bytes) -> str:
    return ID_PREFIX + hashlib.sha256(canonical_json(raw)).hexdigest()[:ID_HEX_CHARS]


def derive_id_from_struct(record: object) -> str:
    """`derive_id` of a fast-path `FRecord` whose descs and coordinates are already canonical text."""
    canonical = msgspec.json.format(_ENCODER.encode(record), indent=-1)
    return ID_PREFIX + hashlib.sha256(canonical).hexdigest()[:ID_HEX_CHARS]
