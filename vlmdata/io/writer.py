"""The one dataset writer: Arrow tables streamed into a `datasets`-compatible folder, shard by shard.

`DatasetWriter(folder)` takes Arrow tables in the normalised schema (`vlmdata.io.features`) one after the
other and writes them once, never holding more than the current table: a shard is rotated after about
`SHARD_BYTES` of input. `close(fingerprint)` names the shards exactly as `Dataset.save_to_disk` does
(`data-00000-of-00003.arrow`, ...) and writes its `state.json` and `dataset_info.json`, so
`datasets.load_from_disk` (and `vlmdata.io.dataset.open_dataset`) read the folder back memory-mapped. An empty
dataset still gets one (empty) shard, which `load_from_disk` can read.

Nothing written depends on time, the process or the output path: the same tables and fingerprint give the
same bytes. Validate, fuse, augment, summarize and `audit --write-lengths` all write through here; the folder
itself is placed by `vlmdata.io.output` (or `vlmdata.io.atomic.atomic_dir`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

SHARD_BYTES = 500 * 1024 * 1024


class DatasetWriter:
    """Stream Arrow tables into the dataset folder `folder` (created if missing; it must hold no dataset)."""

    def __init__(self, folder: str | Path, features: Any = None, shard_bytes: int | None = None) -> None:
        from datasets.arrow_writer import ArrowWriter

        from vlmdata.io.features import record_features

        self.folder = Path(folder)
        self.features = features if features is not None else record_features()
        self.limit = SHARD_BYTES if shard_bytes is None else shard_bytes
        self._new = ArrowWriter
        self.folder.mkdir(exist_ok=True)
        self.shards: list[Path] = []
        self.rows = 0
        self._bytes = 0
        self._writer: Any = None

    def write(self, table: Any) -> None:
        """Append one Arrow table (its schema must be the writer's features' schema)."""
        if self._writer is None or self._bytes >= self.limit:
            self._close_shard()
            self.shards.append(self.folder / f"shard-{len(self.shards):05d}.arrow")
            self._writer = self._new(features=self.features, path=str(self.shards[-1]))
            self._bytes = 0
        self._writer.write_table(table)
        self._bytes += table.nbytes
        self.rows += table.num_rows

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.finalize()
            self._writer.close()
            self._writer = None

    def close(self, fingerprint: str) -> Path:
        """Finish the last shard and the folder's metadata; returns the folder."""
        import pyarrow as pa

        if not self.shards:
            self.write(pa.Table.from_batches([], self.features.arrow_schema))
        self._close_shard()
        finish_dataset(self.folder, self.shards, self.features, fingerprint)
        return self.folder

    def abort(self) -> None:
        """Close an open shard after a failure (the caller removes the folder)."""
        try:
            self._close_shard()
        except Exception:  # noqa: BLE001 - already failing; the folder is discarded
            self._writer = None


def finish_dataset(data_dir: Path, shard_files: list[Path], features: Any, fingerprint: str) -> None:
    """Name the shards as `save_to_disk` does and write its `state.json` / `dataset_info.json`."""
    from datasets import DatasetInfo

    n = len(shard_files)
    names = []
    for i, path in enumerate(shard_files):
        name = f"data-{i:05d}-of-{n:05d}.arrow"
        os.replace(path, data_dir / name)
        names.append({"filename": name})
    state: dict[str, Any] = {
        "_data_files": names,
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    (data_dir / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    info = asdict(DatasetInfo(features=features))
    (data_dir / "dataset_info.json").write_text(
        json.dumps({k: info[k] for k in sorted(info)}, indent=2), encoding="utf-8"
    )


def write_tables(folder: str | Path, tables: Iterable[Any], fingerprint: str, features: Any = None) -> Path:
    """Write all `tables` as one dataset at `folder` (new, or an empty folder)."""
    writer = DatasetWriter(folder, features)
    try:
        for table in tables:
            writer.write(table)
    except BaseException:
        writer.abort()
        raise
    return writer.close(fingerprint)
