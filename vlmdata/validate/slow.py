"""The reference path for lines the fast path is not sure about: the pydantic models decide and explain.

With `--allow-extra`, unknown top-level keys move into `metadata` and unknown object keys into the object's
`metadata` before validation (a VD121 warning names them). A valid record becomes a normalised row here (the
contract's one converter, `vlmdata.contract.rows`), with its geometry warnings computed by the same rule
functions the models use.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vlmdata.contract import codes
from vlmdata.contract.explain import explain_bounded, with_repeats
from vlmdata.contract.jsonkeys import repeated_key_issues
from vlmdata.contract.models import Object, Record
from vlmdata.contract.rows import record_row
from vlmdata.contract.rules import Issue, bounds_issues, frame_warning
from vlmdata.validate.ids import derive_id

MAX_LISTED_ISSUES = 100  # per rejected record; the rest are counted per code (`more`)
_RECORD_KEYS = frozenset(Record.model_fields)
_OBJECT_KEYS = frozenset(Object.model_fields)


@dataclass
class SlowOutcome:
    record: Record | None
    issues: list[Issue]
    warnings: list[Issue] = field(default_factory=list)
    raw: bytes = b""  # the bytes that were validated (after --allow-extra moves)
    more: Counter[str] = field(default_factory=Counter)  # issues past MAX_LISTED_ISSUES, per code
    note: str | None = None  # why the explanation is partial, when it is


def _move_extra(raw: bytes) -> tuple[bytes, list[str]]:
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return raw, []
    if not isinstance(value, dict):
        return raw, []
    moved: list[str] = []

    def move(obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        extra = [k for k in obj if k not in allowed]
        meta = obj.get("metadata")
        if not extra or not (meta is None or isinstance(meta, dict)):
            return
        meta = dict(meta or {})
        for k in extra:
            meta[k] = obj.pop(k)
            moved.append(f"{where}{k}")
        obj["metadata"] = meta

    move(value, _RECORD_KEYS, "")
    objs = value.get("objects")
    if isinstance(objs, list):
        for i, o in enumerate(objs):
            if isinstance(o, dict):
                move(o, _OBJECT_KEYS, f"objects[{i}].")
    return (msgspec.json.encode(value) if moved else raw), moved


def explain(raw: bytes, allow_extra: bool = False) -> SlowOutcome:
    moved: list[str] = []
    written = raw
    if allow_extra:
        raw, moved = _move_extra(raw)
    explained = explain_bounded(raw, MAX_LISTED_ISSUES)
    if moved:  # moving re-encoded the line, which keeps one value per key: judge repeats as it was written
        explained = with_repeats(explained, repeated_key_issues(written), MAX_LISTED_ISSUES)
    record = explained.record
    out = SlowOutcome(record, explained.issues, raw=raw, more=explained.more, note=explained.note)
    if record is None:
        return out
    if moved:
        out.warnings.append(
            Issue(codes.EXTRA_MOVED.code, f"moved into metadata: {', '.join(moved)}", None, moved)
        )
    if record.objects and record.width is not None and record.height is not None:
        pts = []
        for i, obj in enumerate(record.objects):
            _, warn = bounds_issues(obj.points, record.width, record.height, f"objects[{i}].{obj.kind}")
            out.warnings += warn
            pts.append(obj.points)
        fw = frame_warning(pts, record.width, record.height)
        if fw is not None:
            out.warnings.append(fw)
    return out


def normalised_row(out: SlowOutcome, images: list[str]) -> dict[str, Any]:
    """The row of a valid record (`vlmdata.contract.rows.record_row`) with its id, derived when absent."""
    rec = out.record
    assert rec is not None
    row = record_row(rec, images)
    if row["id"] is None:
        row["id"] = derive_id(out.raw)
    return row
