"""Opening and saving vlmdata Arrow datasets: the one opener every command reads through.

`open_dataset(path, split)` accepts every form a vlmdata dataset comes in, so every command takes the same
inputs:

- a dataset folder itself (`state.json` + `dataset_info.json`): what `Dataset.save_to_disk` writes, and the
  `data/`, `val/` folders below;
- a `vlmdata validate --out` folder: its `data/` (train split), or its `val/` with `split="val"`;
- a `vlmdata fuse` or `vlmdata augment` output folder: its `data/`.

`split` matters only for a folder that holds splits; a dataset folder named directly is opened as is. The
dataset must have the normalised columns (`vlmdata.io.features.COLUMNS`; VD523). A path that is none of these
is VD520, a usage error (exit 2) when it came from the command line and a config problem (exit 1) when it
came from a config key (`field`). JSONL files are not datasets here: `vlmdata.validate.inputs.open_input`
validates them on the fly for fusion and run configs.

A record in Python is a plain dict with the columns of `vlmdata.io.features` (objects as dicts with `desc`,
`kind`, `points`, `image_index`, `attributes`, `metadata`). `save_dataset` writes through the one dataset
writer (`vlmdata.io.writer`), atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from vlmdata.errors import EXIT_PROBLEMS, EXIT_USAGE, Location, VlmdataError
from vlmdata.io import codes
from vlmdata.io.atomic import atomic_dir, output_lock
from vlmdata.io.features import COLUMNS

Split = Literal["data", "val"]
SPLITS: dict[str, str] = {"data": "data", "train": "data", "val": "val"}
DATASET_FILES = ("state.json", "dataset_info.json")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def is_jsonl_name(path: str | os.PathLike[str]) -> bool:
    """A path named like a contract JSONL file (`.jsonl`, `.ndjson`, `.json`): validated on the fly where a
    data input may be JSONL (`vlmdata.validate.inputs`)."""
    return Path(path).suffix in JSONL_SUFFIXES


def is_dataset_dir(path: str | Path) -> bool:
    p = Path(path)
    return all((p / name).is_file() for name in DATASET_FILES)


def _error(code: Any, message: str, path: Path, field: str | None, hint: str | None = None) -> VlmdataError:
    return VlmdataError(
        code,
        message,
        where=Location(file=str(path), field=field),
        hint=hint,
        exit_code=EXIT_PROBLEMS if field else EXIT_USAGE,
    )


def locate_dataset(path: str | os.PathLike[str], split: str = "data", field: str | None = None) -> Path:
    """The Arrow dataset folder behind `path` (any accepted form, see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    p = Path(path)
    if is_dataset_dir(p):
        return p
    sub = p / SPLITS[split]
    if is_dataset_dir(sub):
        return sub
    if not p.exists():
        raise _error(codes.NOT_A_DATASET, f"dataset not found: {p}", p, field, hint="check the path")
    if p.is_file():
        hint = (
            "validate it first (`vlmdata validate FILE --out DIR`) and pass DIR" if is_jsonl_name(p) else None
        )
        raise _error(codes.NOT_A_DATASET, f"not a vlmdata Arrow dataset: {p} is a file", p, field, hint)
    if split == "val" and is_dataset_dir(p / "data"):
        raise _error(
            codes.NOT_A_DATASET,
            f"{p} holds no val split (no {p / 'val'} dataset)",
            p,
            field,
            hint="validate the val JSONL with `--val` or point at the val dataset itself",
        )
    if (p / "dataset_dict.json").is_file():
        raise _error(
            codes.NOT_A_DATASET,
            f"{p} is a DatasetDict; pass one of its split folders",
            p,
            field,
            hint=f"e.g. {p / 'train'}",
        )
    raise _error(codes.NOT_A_DATASET, f"not a vlmdata Arrow dataset: {p}", p, field)


def dataset_name(folder: str | Path) -> str:
    """A readable name for a dataset folder: `X` for `X/data` and `X/val`, else the folder's own name."""
    p = Path(os.path.abspath(folder))
    if p.name in ("data", "val") and p.parent.name:
        return p.parent.name
    return p.name


def open_dataset(path: str | os.PathLike[str], split: str = "data", field: str | None = None) -> Any:
    """A memory-mapped `datasets.Dataset` in the normalised schema, from any accepted form of `path`."""
    from datasets import load_from_disk

    folder = locate_dataset(path, split, field)
    try:
        ds = load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001 - datasets raises several types for a damaged folder
        raise _error(codes.NOT_A_DATASET, f"cannot open dataset {folder}: {exc}", folder, field) from None
    if not hasattr(ds, "column_names") or isinstance(getattr(ds, "column_names", None), dict):
        raise _error(codes.NOT_A_DATASET, f"{folder} is not a single dataset", folder, field)
    missing = [c for c in COLUMNS if c not in ds.column_names]
    if missing:
        raise _error(codes.SCHEMA, f"dataset {folder} lacks columns {missing}", folder, field)
    return ds


def read_rows(folder: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Any:
    """Rows `[start, stop)` of a dataset folder (as `locate_dataset` returns it) as one Arrow table, memory-mapped
    and read with pyarrow alone: the rows `open_dataset(folder)[start:stop]` holds, without importing `datasets`
    (about a second and a half a process), which is what a shard task on a worker needs."""
    import pyarrow as pa

    root = Path(folder)
    state = json.loads((root / "state.json").read_text(encoding="utf-8"))
    if state.get("_indices_data_files"):  # an index mapping over the rows: let `datasets` apply it
        ds = open_dataset(root)
        part = ds.select(range(start, len(ds) if stop is None else min(stop, len(ds))))
        return part.flatten_indices().data.table
    parts = [
        pa.ipc.open_stream(pa.memory_map(str(root / entry["filename"]))).read_all()
        for entry in state["_data_files"]
    ]
    table = pa.concat_tables(parts) if len(parts) != 1 else parts[0]
    end = table.num_rows if stop is None else min(stop, table.num_rows)
    return table.slice(start, max(0, end - start))


def load_dataset(path: str | os.PathLike[str], split: str = "data") -> Any:
    """`open_dataset` (the name earlier versions used)."""
    return open_dataset(path, split)


def image_dirs(dataset: Any) -> list[str]:
    """The distinct folders of the images a dataset references (for the `--out` rule's `roots`), found one
    record batch at a time (memory stays that of a batch, whatever the dataset's size)."""
    import pyarrow.compute as pc

    table = getattr(getattr(dataset, "data", None), "table", None)
    if table is None or "images" not in table.column_names:
        return []
    found: set[str] = set()
    for chunk in table.column("images").chunks:
        flat = pc.list_flatten(chunk)
        if len(flat):
            folders = pc.unique(pc.replace_substring_regex(flat, pattern=r"/[^/]*$", replacement=""))
            found.update(f or "/" for f in folders.to_pylist() if f is not None)
    return sorted(found)


# -- writing ------------------------------------------------------------------------------------------------
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


def write_dataset(dataset: Any, folder: str | Path) -> Path:
    """Write a `datasets.Dataset` into `folder` (new or empty) through the one dataset writer."""
    from datasets import config

    from vlmdata.io.writer import DatasetWriter

    writer = DatasetWriter(folder, dataset.features)
    try:
        for table in dataset.with_format("arrow").iter(config.DEFAULT_MAX_BATCH_SIZE):
            writer.write(table)
    except BaseException:
        writer.abort()
        raise
    return writer.close(dataset._fingerprint)


def save_dataset(dataset: Any, path: str | Path) -> Path:
    """Write a `datasets.Dataset` to `path` atomically (library use; commands use `vlmdata.io.output`)."""
    target = Path(path)
    with output_lock(target), atomic_dir(target) as tmp:
        write_dataset(dataset, tmp)
    return target


def save_records(records: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    return save_dataset(records_to_dataset(records), path)


def replace_dataset(dataset: Any, folder: str | Path, command: str) -> Path:
    """Rewrite the dataset folder `folder` in place with `dataset` (e.g. a new column), atomically.

    Only a folder holding nothing but a dataset's own files (and vlmdata's output marker, which is kept) is
    replaced; anything else in it is refused with VD003, so no file the user put there is lost.
    """
    from vlmdata.errors import UsageError
    from vlmdata.io.output import MARKER

    target = Path(folder)
    with output_lock(target, what=command):
        allowed = set(DATASET_FILES) | {MARKER}
        try:
            state = json.loads((target / "state.json").read_text(encoding="utf-8"))
            allowed |= {str(f["filename"]) for f in state.get("_data_files", [])}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        extra = sorted(set(os.listdir(target)) - allowed)
        if extra:
            raise UsageError(
                f"{target} holds {', '.join(extra[:5])}, which is not part of the dataset; "
                f"`vlmdata {command}` would lose it",
                hint="move those entries out of the dataset folder",
                code=codes.OUT_FOREIGN_FOLDER,
            )
        with atomic_dir(target, keep=(MARKER,)) as tmp:
            write_dataset(dataset, tmp)
    return target


def decode_json_field(value: str | None, default: Any = None) -> Any:
    return default if value is None else json.loads(value)
