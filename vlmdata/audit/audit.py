"""`audit_dataset`: every record's exact length under a run config, and the report built from them.

The run config gives the tokenizer (`model.path`), the default template and system prompt (`template.name`,
`template.system`), the image bounds (`template.min_pixels` / `max_pixels`, applied as whole 32x32 tokens,
see `vlmdata.models.qwen`) and the limit (`global_max_length`). Each record is rendered exactly as training
renders it (`vlmdata.render.resolve_template` + `build_messages`) and sized by `vlmdata.audit.length`.
Records that cannot be sized are collected with their error code instead of stopping the audit; a record is
over the limit when `length >= global_max_length` (it would not fit with the end-of-sequence position).

What the audit writes — the `length` column (`write_lengths`) and the report files (`write_report`) — lives in
`vlmdata.audit.outputs`, re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.audit import codes
from vlmdata.audit.length import size_record
from vlmdata.audit.tokens import TokenCounter
from vlmdata.errors import Location, VlmdataError
from vlmdata.models.qwen import effective_pixel_bounds, metadata_source, over_length

PERCENTILES = (50, 90, 95, 99)


@dataclass
class DatasetLengths:
    name: str
    path: str | None
    ids: list[str]
    sources: list[str]
    lengths: np.ndarray  # int64, -1 where the record could not be sized
    image_tokens: np.ndarray


@dataclass
class AuditReport:
    model: str
    template: str
    global_max_length: int
    pixel_bounds: tuple[int, int]
    datasets: list[DatasetLengths]
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    # -- derived figures -------------------------------------------------------------------------------------
    def _all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = (
            np.concatenate([d.lengths for d in self.datasets]) if self.datasets else np.zeros(0, np.int64)
        )
        images = (
            np.concatenate([d.image_tokens for d in self.datasets])
            if self.datasets
            else np.zeros(0, np.int64)
        )
        sources = np.array([s for d in self.datasets for s in d.sources], dtype=object)
        ok = lengths >= 0
        return lengths[ok], images[ok], sources[ok]

    @property
    def count(self) -> int:
        return sum(len(d.ids) for d in self.datasets)

    def over_limit(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for d in self.datasets:
            for i in np.nonzero(over_length(d.lengths, self.global_max_length))[0]:
                n, img = int(d.lengths[i]), int(d.image_tokens[i])
                rows.append(
                    {
                        "dataset": d.name,
                        "id": d.ids[i],
                        "length": n,
                        "image_tokens": img,
                        "text_tokens": n - img,
                    }
                )
        rows.sort(key=lambda r: -r["length"])
        return rows

    def smallest_limits(self) -> dict[str, int | None]:
        """Smallest global_max_length with every record (and 99.9% of records) strictly below it."""
        lengths, _, _ = self._all()
        if not len(lengths):
            return {"all": None, "p99_9": None}
        s = np.sort(lengths)
        k = int(np.ceil(0.999 * len(s))) - 1
        return {"all": int(s[-1]) + 1, "p99_9": int(s[k]) + 1}

    def stats(self) -> dict[str, dict[str, Any]]:
        lengths, images, sources = self._all()
        out = {"all": _summary(lengths, images)}
        for name in sorted(set(sources.tolist())):
            mask = sources == name
            out[name] = _summary(lengths[mask], images[mask])
        return out

    def histogram(self, bins: int = 20) -> dict[str, list[int]]:
        lengths, _, _ = self._all()
        if not len(lengths):
            return {"edges": [], "counts": []}
        top = max(int(lengths.max()), self.global_max_length)
        width = max(1, int(np.ceil((top + 1) / bins)))
        edges = [i * width for i in range(bins + 1)]
        counts, _ = np.histogram(lengths, bins=edges)
        return {"edges": edges, "counts": [int(c) for c in counts]}

    @property
    def ok(self) -> bool:
        return not self.errors and not self.over_limit()

    def to_dict(self) -> dict[str, Any]:
        lengths, _, _ = self._all()
        return {
            "ok": self.ok,
            "model": self.model,
            "template": self.template,
            "global_max_length": self.global_max_length,
            "pixel_bounds": {"min_pixels": self.pixel_bounds[0], "max_pixels": self.pixel_bounds[1]},
            "datasets": [{"name": d.name, "path": d.path, "count": len(d.ids)} for d in self.datasets],
            "count": self.count,
            "sized": int(len(lengths)),
            "stats": self.stats(),
            "smallest_global_max_length": self.smallest_limits(),
            "histogram": self.histogram(),
            "over_limit": self.over_limit(),
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


def _summary(lengths: np.ndarray, images: np.ndarray) -> dict[str, Any]:
    if not len(lengths):
        return {"count": 0}
    s = np.sort(lengths)
    out: dict[str, Any] = {"count": int(len(s)), "min": int(s[0])}
    for p in PERCENTILES:  # nearest rank: an actual record's length
        out[f"p{p}"] = int(s[max(0, int(np.ceil(p / 100 * len(s))) - 1)])
    out["max"] = int(s[-1])
    out["mean"] = round(float(s.mean()), 1)
    total = int(lengths.sum())
    out["image_token_share"] = round(int(images.sum()) / total, 4) if total else 0.0
    return out


# -- inputs -------------------------------------------------------------------------------------------------
AUDIT_SECTIONS = ("model", "template", "global_max_length")


def audit_config(run_config: Any) -> Any:
    """The audit's view of a run config: a loaded `RunConfig` as is; a YAML path or a mapping read by the run
    config's own reader (`vlmdata.config.load.load_run_sections`) for the sections the audit uses, so the
    audit runs where the trainer plugins and the training data are not installed. The template files the
    config lists are registered, so records fused with a user template (`metadata._template`) are sized with
    it."""
    if isinstance(run_config, (str, Path, Mapping)):
        from vlmdata.config.load import load_run_sections

        return load_run_sections(run_config, AUDIT_SECTIONS)
    return run_config


def _open(dataset_or_path: Any) -> tuple[Any, str, str | None]:
    """(datasets.Dataset, name, dataset folder) for any form the one opener accepts, or a Dataset as is."""
    if isinstance(dataset_or_path, (str, Path)):
        from vlmdata.io.dataset import dataset_name, locate_dataset, open_dataset

        folder = locate_dataset(dataset_or_path)
        return open_dataset(folder), dataset_name(folder), str(folder)
    return dataset_or_path, "dataset", None


def _rows(dataset: Any, batch_size: int = 2048):
    if not hasattr(dataset, "column_names"):  # a plain sequence of record dicts
        yield from dataset
        return
    table = _arrow_rows(dataset)
    if table is not None:
        for start in range(0, len(dataset), batch_size):  # Arrow → Python directly (faster than formatting)
            yield from table.slice(start, batch_size).to_pylist()
        return
    for start in range(0, len(dataset), batch_size):
        yield from _batch_rows(dataset[start : start + batch_size])


def _batch_rows(batch: Mapping[str, list[Any]]):
    keys = list(batch)
    for values in zip(*(batch[k] for k in keys), strict=True):
        yield dict(zip(keys, values, strict=True))


# -- the audit ----------------------------------------------------------------------------------------------
def audit_dataset(
    dataset_or_path: Any,
    run_config: Any,
    *,
    counter: TokenCounter | None = None,
    batch: bool = True,
    progress: Callable[..., None] | None = None,
    engine: Any = None,
) -> AuditReport:
    """Size every record of one dataset (or a list of datasets) under `run_config`.

    `batch=False` sizes every record one by one (the reference the batch path is tested against).
    `progress(n)` is called after every n more records are sized. `engine` (`vlmdata.io.engine.EngineOptions`;
    default: every usable core) spreads the row ranges of dataset folders over workers
    (`vlmdata.audit.shard`); the report is the same for any worker count. A given `counter` sizes everything
    in this process.
    """
    from vlmdata.io.engine import EngineOptions

    config = audit_config(run_config)
    model_dir = str(config.model.path)
    options = engine if engine is not None else EngineOptions(workers=1 if counter is not None else None)
    if counter is None:
        counter = TokenCounter.from_model_dir(model_dir)
    bounds = effective_pixel_bounds(config.template)
    default_template = config.template.name
    system = config.template.system
    inputs = dataset_or_path if isinstance(dataset_or_path, (list, tuple)) else [dataset_or_path]
    started = time.perf_counter()
    report = AuditReport(model_dir, default_template, int(config.global_max_length), bounds, [])
    opened = [_open(item) for item in inputs]
    from vlmdata.audit import shard

    plans = shard.plans(opened, config, options, batch)
    if plans is None:
        for dataset, name, path in opened:
            report.datasets.append(
                _audit_one(
                    dataset, name, path, counter, bounds, default_template, system, report, batch, progress
                )
            )
    else:
        report.datasets.extend(shard.audit_sharded(opened, plans, options, report, progress))
    report.seconds = time.perf_counter() - started
    return report


def _audit_one(
    dataset: Any,
    name: str,
    path: str | None,
    counter: TokenCounter,
    bounds: tuple[int, int],
    default_template: str,
    system: str | None,
    report: AuditReport,
    batch: bool = True,
    progress: Callable[..., None] | None = None,
) -> DatasetLengths:
    n = len(dataset)
    lengths = np.full(n, -1, dtype=np.int64)
    images = np.zeros(n, dtype=np.int64)
    ids: list[str] = []
    sources: list[str] = []

    def one(i: int, record: Mapping[str, Any]) -> None:
        rid = str(record.get("id"))
        try:
            sized, _ = size_record(record, default_template, counter, bounds, system=system)
        except VlmdataError as exc:
            where = exc.where or Location(record_id=rid)
            report.errors.append(
                {
                    "dataset": name,
                    "id": rid,
                    "code": exc.code_str,
                    "message": exc.message,
                    "where": str(where),
                }
            )
            return
        lengths[i] = sized.length
        images[i] = sized.image_tokens

    table = _plain_table(dataset)
    sizer = None
    if batch and table is not None:
        from vlmdata.audit.batch import BatchSizer
        from vlmdata.render import get_template

        sizer = BatchSizer(counter, get_template(default_template), system, bounds)
    if sizer is not None and sizer.enabled:
        step = 4096
        for start in range(0, n, step):
            part = table.slice(start, step)
            batch_ids = part.column("id").to_pylist()
            ids.extend(str(x) for x in batch_ids)
            sources.extend(metadata_source(m, name) for m in part.column("metadata").to_pylist())
            got, img = sizer.size(part)
            lengths[start : start + len(got)] = got
            images[start : start + len(got)] = img
            for j in np.nonzero(got < 0)[0]:
                one(start + int(j), part.slice(int(j), 1).to_pylist()[0])
            if progress is not None:
                progress(len(got))
        return DatasetLengths(name, path, ids, sources, lengths, images)
    for i, record in enumerate(_rows(dataset)):
        ids.append(str(record.get("id")))
        sources.append(metadata_source(record.get("metadata"), name))
        one(i, record)
        if progress is not None and (i + 1) % 256 == 0:
            progress(256)
    if progress is not None and n % 256:
        progress(n % 256)
    return DatasetLengths(name, path, ids, sources, lengths, images)


def _arrow_rows(dataset: Any) -> Any:
    """The Arrow table holding a dataset's rows in order (a `pyarrow.Table` as is), or None."""
    import pyarrow as pa

    if isinstance(dataset, pa.Table):
        return dataset
    table = getattr(getattr(dataset, "data", None), "table", None)
    if table is None or getattr(dataset, "_indices", None) is not None or table.num_rows != len(dataset):
        return None
    return table


def _plain_table(dataset: Any) -> Any:
    """The Arrow table behind a dataset (a `datasets.Dataset` or an Arrow table) in row order, with the
    normalised columns, or None."""
    table = _arrow_rows(dataset)
    if table is None:
        return None
    from vlmdata.io.features import COLUMNS

    return table if all(c in table.column_names for c in COLUMNS) else None


def over_length_error(report: AuditReport, list_records: bool = True) -> VlmdataError:
    rows = report.over_limit()
    return VlmdataError(
        codes.OVER_LENGTH,
        f"{len(rows)} record(s) at or over global_max_length={report.global_max_length}"
        + ("" if list_records else " (listed above)"),
        details=[]
        if not list_records
        else [
            f"{r['dataset']} id={r['id']} length={r['length']} (image {r['image_tokens']}, text {r['text_tokens']})"
            for r in rows
        ],
    )


from vlmdata.audit.outputs import check_report_out, write_lengths, write_report  # noqa: E402 - re-exported

__all__: Sequence[str] = (
    "AuditReport",
    "audit_config",
    "audit_dataset",
    "write_lengths",
    "write_report",
    "check_report_out",
    "over_length_error",
)
