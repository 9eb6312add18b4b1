"""The stored row: how a record of the contract is kept in the Arrow datasets, and the one converter.

Every field of the pydantic models has exactly one storage rule here (`RECORD_STORAGE`, `OBJECT_STORAGE`):
the row column it becomes, or `None` for a field that is checked and then dropped (the declared point
counts). An object's geometry becomes two columns: `kind` (its key, one of `GEOMETRY_KINDS`) and `points`
(the flat float list). Free-form JSON fields are stored as deterministic JSON text (`json_text`: compact,
keys sorted), so arbitrary user metadata never changes the schema; a record's `metadata` is `"{}"` when
absent. `RECORD_COLUMNS`/`OBJECT_COLUMNS` are the columns in order; `vlmdata.io.features` gives them their
Arrow types and the fast validation path builds the same columns in bulk.

Converters: `record_row` (a validated `Record` → row columns), `row_record` (a stored row → the contract JSON
object that validates back to the same row). A model field without a storage rule, or a rule naming a column
that does not exist, raises at import: adding a field means adding it to the model, here, and to the Arrow
types (a parity test lists anything missed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.contract.models import Object, Record

RECORD_COLUMNS: tuple[str, ...] = (
    "id",
    "images",
    "width",
    "height",
    "objects",
    "summary",
    "messages",
    "metadata",
    "source_file",  # provenance: set by the writer, not a field of the record
    "source_line",
)
OBJECT_COLUMNS: tuple[str, ...] = ("desc", "kind", "points", "image_index", "attributes", "metadata")
GEOMETRY_COLUMNS = ("kind", "points")

RECORD_STORAGE: dict[str, str | None] = {
    "id": "id",
    "images": "images",
    "width": "width",
    "height": "height",
    "objects": "objects",
    "summary": "summary",
    "messages": "messages",
    "metadata": "metadata",
}
OBJECT_STORAGE: dict[str, str | tuple[str, str] | None] = {
    "desc": "desc",
    **{kind: GEOMETRY_COLUMNS for kind in GEOMETRY_KINDS},
    "poly_points": None,
    "line_points": None,
    "image_index": "image_index",
    "attributes": "attributes",
    "metadata": "metadata",
}
JSON_COLUMNS = {"record": ("messages", "metadata"), "object": ("attributes", "metadata")}
PROVENANCE_COLUMNS = ("source_file", "source_line")


def _check_storage() -> None:
    problems = []
    for model, storage, columns in (
        (Record, RECORD_STORAGE, set(RECORD_COLUMNS) - set(PROVENANCE_COLUMNS)),
        (Object, OBJECT_STORAGE, set(OBJECT_COLUMNS)),
    ):
        fields = set(model.model_fields)
        if set(storage) != fields:
            problems.append(
                f"{model.__name__}: fields without a storage rule {sorted(fields - set(storage))}, "
                f"rules without a field {sorted(set(storage) - fields)}"
            )
        used: set[str] = set()
        for target in storage.values():
            used.update((target,) if isinstance(target, str) else target or ())
        if used != columns:
            problems.append(f"{model.__name__}: rules cover {sorted(used)}, columns are {sorted(columns)}")
    if problems:
        raise TypeError("the stored row and the contract models disagree: " + "; ".join(problems))


_check_storage()

_ENCODER = msgspec.json.Encoder(order="deterministic")


def json_text(value: Any) -> str | None:
    """The stored text of a free-form JSON value: compact, keys sorted (None stays None)."""
    return None if value is None else _ENCODER.encode(value).decode()


def object_row(obj: Object) -> dict[str, Any]:
    return {
        "desc": obj.desc,
        "kind": obj.kind,
        "points": obj.points,
        "image_index": obj.image_index,
        "attributes": json_text(obj.attributes),
        "metadata": json_text(obj.metadata),
    }


def record_row(rec: Record, images: list[str]) -> dict[str, Any]:
    """The row columns of a validated record (without `id` when it has none, and without provenance);
    `images` are the resolved image paths."""
    return {
        "id": rec.id,
        "images": images,
        "width": rec.width,
        "height": rec.height,
        "objects": [object_row(o) for o in rec.objects or []],
        "summary": rec.summary,
        "messages": json_text([m.model_dump(exclude_none=True) for m in rec.messages])
        if rec.messages is not None
        else None,
        "metadata": json_text(rec.metadata or {}),
    }


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def row_object(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored object as a contract object (geometry under its kind key; defaults left out)."""
    obj: dict[str, Any] = {"desc": row["desc"], row["kind"]: list(row["points"])}
    if int(row.get("image_index") or 0):
        obj["image_index"] = int(row["image_index"])
    for key in JSON_COLUMNS["object"]:
        if row.get(key) is not None:
            obj[key] = _decoded(row[key])
    return obj


def row_record(row: Mapping[str, Any], images: list[str] | None = None) -> dict[str, Any]:
    """A stored row as a contract record (JSON-ready) that validates back to the same row; `images`
    replaces the stored paths (e.g. with new files), in the messages' image items too. Provenance and the
    audited `length` are left out."""
    out: dict[str, Any] = {"id": row["id"]}
    paths = list(row.get("images") or []) if images is None else list(images)
    if paths:
        out["images"] = paths
        out["width"], out["height"] = row["width"], row["height"]
    if paths or row.get("objects"):
        out["objects"] = [row_object(o) for o in row.get("objects") or []]
    if row.get("summary") is not None:
        out["summary"] = row["summary"]
    if row.get("messages") is not None:
        messages = _decoded(row["messages"])
        out["messages"] = messages if images is None else with_images(messages, paths)
    out["metadata"] = _decoded(row.get("metadata")) or {}
    return out


def with_images(messages: list[dict[str, Any]], paths: list[str]) -> list[dict[str, Any]]:
    """The messages with their image items pointing at `paths` in order (`<image>` tags need nothing)."""
    todo = iter(paths)
    out = []
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, list):
            content = [
                {**item, "image": next(todo, item.get("image"))} if item.get("type") == "image" else item
                for item in content
            ]
        out.append({**msg, "content": content})
    return out
