"""What the audit writes: the `length` column of the audited datasets and the report files.

`write_lengths` stores the lengths as an int32 `length` column for length-grouped batching: the dataset folder
is rewritten in place, atomically, and only when it holds nothing but the dataset
(`vlmdata.io.dataset.replace_dataset`); the column is built as an Arrow table, so no `datasets` cache file is
left in the folder. `write_report` writes the JSON report and its histogram PNG beside it under the single-file
`--out` rule (`vlmdata.io.output`; the audited datasets and the run config are inputs); `check_report_out`
applies that rule before the audit runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vlmdata.audit import codes
from vlmdata.errors import UsageError, VlmdataError

if TYPE_CHECKING:
    from vlmdata.audit.audit import AuditReport


def write_lengths(report: AuditReport) -> list[str]:
    """Add/replace the int32 `length` column of every audited dataset folder (atomically); returns the paths."""
    if report.errors:
        raise VlmdataError(
            codes.UNSIZED_RECORDS,
            f"{len(report.errors)} record(s) could not be sized",
            details=[f"{e['dataset']} id={e['id']}: {e['code']} {e['message']}" for e in report.errors[:20]],
        )
    import pyarrow as pa
    from datasets import Dataset, DatasetInfo, Value
    from datasets.table import InMemoryTable

    from vlmdata.io.dataset import open_dataset, replace_dataset

    written = []
    for d in report.datasets:
        if d.path is None:
            raise UsageError("--write-lengths needs dataset folders, not in-memory datasets")
        ds = open_dataset(d.path)
        # built as an Arrow table: `datasets`' own add_column/cast would leave cache files in the folder
        table = ds.data.table if getattr(ds, "_indices", None) is None else ds.flatten_indices().data.table
        if "length" in table.column_names:
            table = table.drop_columns(["length"])
        table = table.append_column("length", pa.array(d.lengths.astype(np.int32), pa.int32()))
        features = ds.features.copy()
        features.pop("length", None)
        features["length"] = Value("int32")
        digest = hashlib.sha256(f"{ds._fingerprint}:length:".encode() + d.lengths.tobytes()).hexdigest()[:16]
        rewritten = Dataset(InMemoryTable(table), info=DatasetInfo(features=features), fingerprint=digest)
        replace_dataset(rewritten, d.path, command="audit --write-lengths")
        written.append(d.path)
    return written


def _report_paths(out: str | Path) -> tuple[Path, Path]:
    target = Path(out)
    return target, target.with_suffix(".png") if target.suffix != ".png" else target.with_name(
        target.name + ".png"
    )


def check_report_out(out: str | Path, inputs: Sequence[Any] = ()) -> None:
    """Refuse an `--out` (or the PNG beside it) that breaks the `--out` rule, before the audit runs."""
    from vlmdata.io.output import check_out

    for path in _report_paths(out):
        check_out(path, command="audit", kind="file", inputs=inputs)


def write_report(report: AuditReport, out: str | Path, inputs: Sequence[Any] = ()) -> tuple[Path, Path]:
    """The report as JSON at `out` and its length histogram as PNG beside it (`out` with `.png`)."""
    from vlmdata.audit.display import histogram_png_bytes
    from vlmdata.io.output import write_output

    target, png = _report_paths(out)
    sources = [*inputs, *(d.path for d in report.datasets)]
    rep = report.to_dict()
    text = json.dumps(rep, ensure_ascii=False, indent=2) + "\n"
    written = write_output(target, text, command="audit", inputs=sources)
    return written, write_output(png, histogram_png_bytes(rep), command="audit", inputs=sources)
