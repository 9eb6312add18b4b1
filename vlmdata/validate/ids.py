"""Derived record ids: a SHA-256 of the record's canonical JSON, so an id survives file moves and reorderings.

The id is a function of the typed record, not of how its line was written. Canonical JSON is the record
decoded into the contract's typed form (`vlmdata.contract.structs.CRecord`, derived from the models) and
re-encoded compactly, fields in contract order and every free-form object's keys sorted, UTF-8, where values
the contract treats as equal encode alike:
- numbers by their typed value: coordinates are floats, so `1`, `1.0` and `1e0` agree, and a coordinate of
  `-0.0` is the point `0.0` (they compare equal and draw the same pixel);
- absent, `null` and default fields are dropped (`image_index: 0`, `summary: null`), and an empty free-form
  object (`metadata: {}`, `attributes: {}`) is the same as none: the record's metadata is stored as `{}`
  either way.
Formatting, key order and line position never change an id; Python's `hash()` is never used. Only records
without an `id` pay for this (one typed decode + encode + hash).

`derive_id_from_struct` takes a shortcut for the records the fast path accepted: their `FRecord` has the
canonical fields in canonical order (both derived from the models) with geometries and descs as raw JSON
text, so when every desc text holds no escape, every coordinate is already written as the encoder writes its
double (`vlmdata.validate.coords.shortest_texts`) and is not `-0.0`, and no free-form object is empty,
encoding the struct and dropping the whitespace inside the raw geometries (`msgspec.json.format(...,
indent=-1)`, which copies numbers and strings verbatim) gives the same canonical bytes without turning any
coordinate into a Python float. The fast path checks those conditions (`fast._ids`); tests compare both ways
on random records.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.contract.structs import CRecord

ID_PREFIX = "h"
ID_HEX_CHARS = 24  # 96 bits

_DECODER = msgspec.json.Decoder(CRecord)
_ENCODER = msgspec.json.Encoder(order="deterministic")


def _typed(record: Any) -> Any:
    """`record` with its equal values made identical (in place): -0.0 coordinates, empty free-form objects."""
    if record.metadata == {}:
        record.metadata = None
    for obj in record.objects or ():
        for kind in GEOMETRY_KINDS:
            points = getattr(obj, kind)
            if points is not None and 0.0 in points:  # -0.0 == 0.0: the C-level scan finds both
                setattr(obj, kind, [v + 0.0 for v in points])  # -0.0 + 0.0 == +0.0
        if obj.attributes == {}:
            obj.attributes = None
        if obj.metadata == {}:
            obj.metadata = None
    return record


def canonical_json(raw: bytes) -> bytes:
    """The canonical JSON bytes of one record line (valid under the contract)."""
    try:
        return _ENCODER.encode(_typed(_DECODER.decode(raw)))
    except (msgspec.DecodeError, UnicodeDecodeError, OverflowError, RecursionError):
        value = json.loads(raw)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def derive_id(raw: bytes) -> str:
    return ID_PREFIX + hashlib.sha256(canonical_json(raw)).hexdigest()[:ID_HEX_CHARS]


def derive_id_from_struct(record: object) -> str:
    """`derive_id` of a fast-path `FRecord` whose descs and coordinates are already canonical text."""
    canonical = msgspec.json.format(_ENCODER.encode(record), indent=-1)
    return ID_PREFIX + hashlib.sha256(canonical).hexdigest()[:ID_HEX_CHARS]


class _OwnId(msgspec.Struct, gc=False):
    id: Any = None


_OWN_ID = msgspec.json.Decoder(_OwnId)


def own_id(raw: bytes) -> str | None:
    """The `id` a line gives itself (a non-empty string), read from a line that may break the contract in
    any other way; None when it has none or is not a JSON object."""
    try:
        value = _OWN_ID.decode(raw).id
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, OverflowError):
        return None
    return value if isinstance(value, str) and value else None
