"""The one normalised Arrow schema every vlmdata dataset uses: the Arrow types of the stored columns that
`vlmdata.contract.rows` names and maps the contract's models onto.

Validated, augmented and fused datasets all share these `Features`, so they concatenate and fuse without Arrow
type errors. Coordinates are float64 pixels of the stored image (contract.md); JSON-valued fields are stored
as JSON strings so arbitrary user metadata never changes the schema.

Columns:
- `id` (string), `images` (list of resolved path strings; empty for text-only chat records)
- `width`, `height` (int32; null when the record has no images)
- `objects`: list of `{desc, kind ∈ GEOMETRY_KINDS (vlmdata.contract.kinds), points: list<float64> (flat x,y,...),
  image_index: int32, attributes: JSON string or null, metadata: JSON string or null}`
- `summary` (string or null), `messages` (JSON string or null), `metadata` (JSON string, `{}` when empty)
- provenance: `source_file` (string), `source_line` (int64, 1-based)
- optional `length` (int32): the audited sequence length, added by `vlmdata audit --write-lengths`.
"""

from __future__ import annotations

from typing import Any

from vlmdata.contract.rows import OBJECT_COLUMNS, RECORD_COLUMNS

COLUMNS = RECORD_COLUMNS
__all__ = ["COLUMNS", "arrow_schema", "record_features"]

# the Arrow type of every stored column (`vlmdata.contract.rows` names them and maps the models onto them)
_OBJECT_TYPES = {
    "desc": "string",
    "kind": "string",
    "points": "float64_list",
    "image_index": "int32",
    "attributes": "string",
    "metadata": "string",
}
_RECORD_TYPES = {
    "id": "string",
    "images": "string_list",
    "width": "int32",
    "height": "int32",
    "objects": "objects",
    "summary": "string",
    "messages": "string",
    "metadata": "string",
    "source_file": "string",
    "source_line": "int64",
}


def record_features(with_length: bool = False) -> Any:
    """The `datasets.Features` of a vlmdata dataset (imported lazily: `datasets` is heavy)."""
    from datasets import Features, List, Value

    def feature(kind: str) -> Any:
        if kind == "float64_list":
            return List(Value("float64"))
        if kind == "string_list":
            return List(Value("string"))
        if kind == "objects":
            return List({name: feature(_OBJECT_TYPES[name]) for name in OBJECT_COLUMNS})
        return Value(kind)

    cols: dict[str, Any] = {name: feature(_RECORD_TYPES[name]) for name in COLUMNS}
    if with_length:
        cols["length"] = Value("int32")
    return Features(cols)


def arrow_schema(with_length: bool = False) -> Any:
    """The same schema as a `pyarrow.Schema` (without `datasets`' metadata), for code that builds Arrow tables
    directly; built with pyarrow alone so shard workers never import `datasets` (tested equal to
    `record_features().arrow_schema`)."""
    import pyarrow as pa

    string = pa.string()
    obj = pa.struct(
        [
            ("desc", string),
            ("kind", string),
            ("points", pa.list_(pa.float64())),
            ("image_index", pa.int32()),
            ("attributes", string),
            ("metadata", string),
        ]
    )
    fields = [
        ("id", string),
        ("images", pa.list_(string)),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("objects", pa.list_(obj)),
        ("summary", string),
        ("messages", string),
        ("metadata", string),
        ("source_file", string),
        ("source_line", pa.int64()),
    ]
    if with_length:
        fields.append(("length", pa.int32()))
    return pa.schema(fields)
