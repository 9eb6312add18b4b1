"""Saving and loading vlmdata Arrow datasets (Hugging Face `datasets` on disk, the normalised schema).

A record in Python is a plain dict with the columns of `vlmdata.io.features` (objects as dicts with
`desc`, `kind`, `points`, `image_index`, `attributes`, `metadata`). `save_records` writes atomically, so a
killed run leaves the previous dataset (or none) in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vlmdata.io.atomic import atomic_dir
from vlmdata.io.features import COLUMNS


def normalise_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Fill optional columns with their empty values and JSON-encode JSON-valued fields given as objects."""
    out: dict[str, Any] = {col: record.get(col) for col in COLUMNS}
    out["images"] = list(out["images"] or [])
    objects = []
    for obj in out["objects"] or []:
        o = {
            "desc": obj["desc"],
            "kind": obj["kind"],
            "points": [float(v) for v in obj["points"]],
            "image_index": int(obj.get("image_index") or 0),
            "attributes": _json_or_none(obj.get("attributes")),
            "metadata": _json_or_none(obj.get("metadata")),
        }
        objects.append(o)
    out["objects"] = objects
    out["messages"] = _json_or_none(out["messages"])
    meta = out["metadata"]
    out["metadata"] = (
        "{}" if meta is None else (meta if isinstance(meta, str) else json.dumps(meta, ensure_ascii=False))
    )
    out["source_file"] = out["source_file"] or ""
    out["source_line"] = int(out["source_line"] or 0)
    if "length" in record:
        out["length"] = record["length"]
    return out


def _json_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def records_to_dataset(records: Iterable[Mapping[str, Any]]) -> Any:
    """An in-memory `datasets.Dataset` in the normalised schema."""
    from datasets import Dataset

    from vlmdata.io.features import record_features

    rows = [normalise_record(r) for r in records]
    with_length = bool(rows) and all("length" in r for r in rows)
    features = record_features(with_length=with_length)
    columns = {name: [r.get(name) for r in rows] for name in features}
    return Dataset.from_dict(columns, features=features)


def save_dataset(dataset: Any, path: str | Path) -> Path:
    """Write a `datasets.Dataset` to `path` atomically."""
    target = Path(path)
    with atomic_dir(target) as tmp:
        # An empty dataset would otherwise be written with zero shards, which `load_from_disk` cannot read.
        dataset.save_to_disk(str(tmp), num_shards=1 if len(dataset) == 0 else None)
    return target


def save_records(records: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    return save_dataset(records_to_dataset(records), path)


def load_dataset(path: str | Path) -> Any:
    """Load a vlmdata dataset saved with `save_dataset` (memory-mapped)."""
    from datasets import load_from_disk

    from vlmdata.errors import UsageError

    p = Path(path)
    if not (p / "dataset_info.json").exists() and not (p / "state.json").exists():
        raise UsageError(
            f"not a vlmdata Arrow dataset: {p}",
            hint="pass the folder written by `vlmdata validate --out` (its `data/` subfolder)",
        )
    return load_from_disk(str(p))


def decode_json_field(value: str | None, default: Any = None) -> Any:
    return default if value is None else json.loads(value)
