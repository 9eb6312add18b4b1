"""Fusion inputs: content fingerprints and chunked gathers over memory-mapped datasets.

An entry's `data`/`val` is opened by `vlmdata.validate.inputs.open_input`: any dataset form the one opener
(`vlmdata.io.dataset.open_dataset`) accepts, or a `.jsonl` file validated on the fly into the honest cache
described there, fused only if no record was rejected.

Fingerprints are sha256 over the Arrow files' bytes in the dataset's own file order: a dataset that was
rewritten with the same content keeps its fingerprint, any changed byte changes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.io.features import COLUMNS


def fingerprint_dir(folder: str | Path) -> str:
    folder = Path(folder)
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    h = hashlib.sha256()
    for item in state.get("_data_files", []):
        h.update(_sha256_file(folder / item["filename"]).digest())
    return "sha256:" + h.hexdigest()


def _sha256_file(path: Path) -> Any:
    """sha256 of a file read in 1 MiB blocks (`hashlib.file_digest` needs Python 3.11)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h


class TableTaker:
    """Gathers rows of a memory-mapped dataset by index, in the normalised schema, without Python dicts.

    Columns are gathered with `ChunkedGather` (linear in the rows taken, whatever the number of record
    batches in the file; see `vlmdata.fuse.gather`). A column type it does not handle falls back to one Arrow
    `take` per touched record batch.
    """

    def __init__(self, dataset: Any) -> None:
        import pyarrow as pa

        from vlmdata.fuse.gather import ChunkedGather
        from vlmdata.io.features import arrow_schema

        self.schema = arrow_schema()
        table = dataset.data.table if hasattr(dataset.data, "table") else dataset.data
        table = table.select(list(COLUMNS))
        self.regions, batches = _mapped_batches(dataset, table.num_rows)
        self.batches = batches if batches is not None else table.to_batches()
        self.offsets = np.cumsum([0] + [b.num_rows for b in self.batches]).astype(np.int64)
        indices = getattr(dataset, "_indices", None)
        self.mapping = None if indices is None else np.asarray(indices.column(0).to_numpy(), dtype=np.int64)
        self._source_schema = table.schema
        self._columns = {
            f.name: ChunkedGather([b.column(i) for b in self.batches], self.regions)
            for i, f in enumerate(table.schema)
            if self.batches and ChunkedGather.supported(f.type)
        }
        self._pa = pa

    def __len__(self) -> int:
        return len(self.mapping) if self.mapping is not None else int(self.offsets[-1])

    @property
    def nbytes(self) -> int:
        """Bytes of the referenced Arrow buffers (no data is read)."""
        return int(sum(b.nbytes for b in self.batches))

    def take(self, indices: np.ndarray) -> Any:
        pa = self._pa
        rows = np.asarray(indices if self.mapping is None else self.mapping[indices], dtype=np.int64)
        if self.batches and len(self._columns) == len(self._source_schema):
            first = self._columns[self._source_schema[0].name]
            where = first.locate(rows)  # every column has the same record batches: resolve rows once
            arrays = [self._columns[f.name].take_at(*where) for f in self._source_schema]
            taken = pa.Table.from_arrays(arrays, schema=self._source_schema)
        else:
            taken = self._take_per_batch(rows)
        if taken.schema != self.schema:
            taken = taken.cast(self.schema)
        return taken

    def _take_per_batch(self, rows: np.ndarray) -> Any:
        pa = self._pa
        if not self.batches:
            return self._source_schema.empty_table()
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        batch_of = np.searchsorted(self.offsets, ordered, side="right") - 1
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(batch_of)) + 1, [ordered.size]])
        parts = [
            self.batches[int(batch_of[a])].take(pa.array(ordered[a:b] - self.offsets[int(batch_of[a])]))
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
            if b > a
        ]
        taken = pa.Table.from_batches(parts, schema=self._source_schema)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return taken.take(pa.array(inverse))


def _mapped_batches(dataset: Any, rows: int) -> tuple[list[Any], list[Any] | None]:
    """The dataset's Arrow files memory-mapped by us, as gather regions plus their record batches.

    `ChunkedGather` reads flat columns straight from these mappings; a dataset that is not exactly its
    files (in memory, concatenated with in-memory parts) gets no regions and the Arrow fallback.
    """
    import pyarrow as pa

    from vlmdata.fuse.gather import Region

    files = [f["filename"] for f in (getattr(dataset, "cache_files", None) or [])]
    if not files:
        return [], None
    regions, batches = [], []
    try:
        for name in files:
            buffer = pa.memory_map(name).read_buffer()
            regions.append(Region(buffer))
            batches += [b.select(list(COLUMNS)) for b in pa.ipc.open_stream(buffer)]
    except (OSError, pa.ArrowInvalid, KeyError):
        return [], None
    if sum(b.num_rows for b in batches) != rows:
        return [], None
    return regions, batches
