"""`audit_dataset`: every record's exact length under a run config, and the report built from them.

The run config gives the tokenizer (`model.path`), the default template and system prompt (`template.name`,
`template.system`), the image bounds (`template.min_pixels` / `max_pixels`, applied as whole 32x32 tokens,
see `vlmdata.audit.images`) and the limit (`global_max_length`). Each record is rendered exactly as training
renders it (`vlmdata.render.resolve_template` + `build_messages`) and sized by `vlmdata.audit.length`.
Records that cannot be sized are collected with their error code instead of stopping the audit; a record is
over the limit when `length >= global_max_length` (it would not fit with the end-of-sequence position).

`write_lengths` stores the lengths as an int32 `length` column (atomically) for length-grouped batching.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.audit import codes
from vlmdata.audit.images import effective_pixel_bounds
from vlmdata.audit.length import size_record
from vlmdata.audit.tokens import TokenCounter
from vlmdata.errors import Location, UsageError, VlmdataError

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
            for i in np.nonzero(d.lengths >= self.global_max_length)[0]:
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
@dataclass(frozen=True)
class AuditConfig:
    """The part of a run config the audit reads: `model`, `template`, `global_max_length`."""

    model: Any
    template: Any
    global_max_length: int


def load_config(run_config: Any) -> Any:
    """The audit's view of a run config: a YAML path, a mapping, or an already loaded `RunConfig`.

    From a file only `model`, `template`, `templates` and `global_max_length` are validated (with the run
    config's own section models, `extends` chain and file-relative paths), so the audit runs where the trainer
    plugins are not installed; `vlmdata train` validates the rest. The template files the config lists are
    registered, so records fused with a user template (`metadata._template`) are sized with it.
    """
    from pydantic import ValidationError

    from vlmdata.config.layers import Layered, load_layered, problems_from_validation_error, raise_problems
    from vlmdata.config.run import ModelConfig, RunConfig, TemplateConfig
    from vlmdata.render.user import config_templates

    if isinstance(run_config, (str, Path)):
        layered = load_layered(run_config)
        data = layered.data
        model = dict(data.get("model") or {})
        raw_path = model.get("path")
        if isinstance(raw_path, str) and raw_path and not Path(raw_path).is_absolute():
            origin = layered.origin_of(("model", "path")) or str(run_config)
            model["path"] = str((Path(origin).parent / raw_path).resolve())
    elif isinstance(run_config, Mapping):
        layered, data = None, copy.deepcopy(dict(run_config))  # template paths are replaced by names in place
        model = dict(data.get("model") or {})
    else:
        return run_config
    problems = config_templates(
        layered if layered is not None else Layered(data), ("templates",), [("template", "name")]
    )
    parsed: dict[str, Any] = {}
    limit_field = RunConfig.model_fields["global_max_length"]
    for key, cls, value in (
        ("model", ModelConfig, model),
        ("template", TemplateConfig, data.get("template") or {}),
    ):
        try:
            parsed[key] = cls.model_validate(value)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, layered, prefix=(key,), model=cls)
    limit = data.get("global_max_length", limit_field.default)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        from vlmdata.config.layers import ConfigProblem

        problems.append(
            ConfigProblem(
                ("global_max_length",),
                f"must be a positive integer, got {limit!r}",
                layered.origin_of(("global_max_length",)) if layered else None,
            )
        )
    raise_problems(problems, what="run config")
    return AuditConfig(parsed["model"], parsed["template"], int(limit))


def _dataset_name(path: Path) -> str:
    return path.parent.name if path.name == "data" and path.parent.name else path.name


def open_dataset(dataset_or_path: Any) -> tuple[Any, str, str | None]:
    """(datasets.Dataset, name, path) for a folder (a dataset, or a `validate --out` folder) or a Dataset."""
    if isinstance(dataset_or_path, (str, Path)):
        from vlmdata.io.dataset import load_dataset

        path = Path(dataset_or_path)
        if not path.exists():
            raise UsageError(f"dataset not found: {path}", hint="pass an Arrow dataset folder")
        if not (path / "dataset_info.json").exists() and (path / "data" / "dataset_info.json").exists():
            path = path / "data"
        return load_dataset(path), _dataset_name(path.resolve()), str(path)
    return dataset_or_path, "dataset", None


def _record_source(metadata: Any, default: str) -> str:
    if isinstance(metadata, str) and '"_source"' in metadata:
        try:
            src = json.loads(metadata).get("_source")
        except (ValueError, AttributeError):
            src = None
        if isinstance(src, str) and src:
            return src
    return default


def _rows(dataset: Any, batch_size: int = 2048):
    if not hasattr(dataset, "column_names"):  # a plain sequence of record dicts
        yield from dataset
        return
    table = getattr(getattr(dataset, "data", None), "table", None)
    if table is not None and getattr(dataset, "_indices", None) is None and table.num_rows == len(dataset):
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
) -> AuditReport:
    """Size every record of one dataset (or a list of datasets) under `run_config`.

    `batch=False` sizes every record one by one (the reference the batch path is tested against).
    `progress(n)` is called after every n more records are sized.
    """
    config = load_config(run_config)
    model_dir = str(config.model.path)
    if counter is None:
        counter = TokenCounter.from_model_dir(model_dir)
    bounds = effective_pixel_bounds(config.template)
    default_template = config.template.name
    system = config.template.system
    inputs = dataset_or_path if isinstance(dataset_or_path, (list, tuple)) else [dataset_or_path]
    started = time.perf_counter()
    report = AuditReport(model_dir, default_template, int(config.global_max_length), bounds, [])
    for item in inputs:
        dataset, name, path = open_dataset(item)
        report.datasets.append(
            _audit_one(
                dataset, name, path, counter, bounds, default_template, system, report, batch, progress
            )
        )
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
            sources.extend(_record_source(m, name) for m in part.column("metadata").to_pylist())
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
        sources.append(_record_source(record.get("metadata"), name))
        one(i, record)
        if progress is not None and (i + 1) % 256 == 0:
            progress(256)
    if progress is not None and n % 256:
        progress(n % 256)
    return DatasetLengths(name, path, ids, sources, lengths, images)


def _plain_table(dataset: Any) -> Any:
    """The Arrow table behind a `datasets.Dataset` in row order, or None."""
    table = getattr(getattr(dataset, "data", None), "table", None)
    if table is None or getattr(dataset, "_indices", None) is not None or table.num_rows != len(dataset):
        return None
    from vlmdata.io.features import COLUMNS

    return table if all(c in table.column_names for c in COLUMNS) else None


def write_lengths(report: AuditReport) -> list[str]:
    """Add/replace the int32 `length` column of every audited dataset folder (atomically); returns the paths."""
    if report.errors:
        raise VlmdataError(
            codes.UNSIZED_RECORDS,
            f"{len(report.errors)} record(s) could not be sized",
            details=[f"{e['dataset']} id={e['id']}: {e['code']} {e['message']}" for e in report.errors[:20]],
        )
    from datasets import Value
    from datasets.utils.logging import disable_progress_bar

    from vlmdata.io.dataset import load_dataset, save_dataset

    disable_progress_bar()

    written = []
    for d in report.datasets:
        if d.path is None:
            raise UsageError("--write-lengths needs dataset folders, not in-memory datasets")
        ds = load_dataset(d.path)
        if "length" in ds.column_names:
            ds = ds.remove_columns("length")
        ds = ds.add_column("length", d.lengths.astype(np.int32).tolist())
        ds = ds.cast_column("length", Value("int32"))
        save_dataset(ds, d.path)
        written.append(d.path)
    return written


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


__all__: Sequence[str] = ("AuditReport", "audit_dataset", "write_lengths", "over_length_error", "load_config")
