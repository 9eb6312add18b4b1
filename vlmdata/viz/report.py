"""`vlmdata report`: what a dataset holds, as data for one self-contained HTML page (`report_html`).

`build_report(datasets, audit=None, gallery=48)` reads each dataset once through the one opener
(`vlmdata.io.dataset.open_dataset`, so a `validate --out` folder, its `data/`/`val/`, a fused or augmented
folder all work) and gathers:

- per source: records, objects, images, records with a summary, chat records, objects per geometry kind. A
  record's source is its `metadata._source` (datasets written by `vlmdata fuse` keep it), else the dataset's
  name (`X` for `X/data`);
- objects per category (`类别=<category>` of the desc, else the plain desc — the rule `render` colours by),
  in total and per source;
- image sizes: a histogram of the longer displayed side;
- token lengths: the histogram and percentiles of an audit report (`vlmdata audit --out report.json`) when
  one is given;
- the validate run's rejects and warnings with file, line, id, code, field and message, read from the
  `validate --out` folder the dataset came from (the folder itself, or the parent of its `data/`/`val/`);
- a gallery: up to `gallery` records with images, taken round-robin over the sources in record order, each
  image downscaled to a JPEG thumbnail (longer side `thumb` px) embedded as a data URI, with its objects in
  the record's own pixel coordinates.

Counting runs on Arrow columns (flattened objects, unique descs mapped to categories once), so a
million-object dataset takes seconds. Every string is kept raw here; `report_html` escapes on output.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.augment.barriers import category_of
from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.io.dataset import dataset_name, locate_dataset, open_dataset

KINDS = GEOMETRY_KINDS
SIZE_EDGES = [0, 256, 512, 768, 1024, 1536, 2048, 3072, 4096, 8192]
MAX_ISSUES = 1000  # rejects / warnings listed per validate run (all of them are in its JSONL files)
MAX_CATEGORIES = 200


@dataclass
class Source:
    name: str
    records: int = 0
    objects: int = 0
    images: int = 0
    with_summary: int = 0
    chat: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))


@dataclass
class ValidateRun:
    folder: str
    lines: int | None = None
    valid: int | None = None
    rejected: int = 0
    warned: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportData:
    datasets: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    categories: dict[str, Counter[str]] = field(default_factory=dict)  # category -> {source: objects}
    long_sides: list[int] = field(default_factory=list)
    lengths: dict[str, Any] | None = None
    validate_runs: list[ValidateRun] = field(default_factory=list)
    gallery: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.sources.values())

    @property
    def objects(self) -> int:
        return sum(s.objects for s in self.sources.values())

    def kinds(self) -> dict[str, int]:
        return {k: sum(s.kinds[k] for s in self.sources.values()) for k in KINDS}

    def category_rows(self) -> list[tuple[str, int, dict[str, int]]]:
        rows = [(name, sum(c.values()), dict(c)) for name, c in self.categories.items()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def size_histogram(self) -> dict[str, list[Any]]:
        sides = np.asarray(self.long_sides, dtype=np.int64)
        edges = list(SIZE_EDGES)
        if len(sides) and sides.max() >= edges[-1]:
            edges.append(int(sides.max()) + 1)
        counts, _ = np.histogram(sides, bins=edges) if len(sides) else (np.zeros(len(edges) - 1), None)
        return {"edges": edges, "counts": [int(c) for c in counts]}


def _metadata(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _record_sources(table: Any, default: str) -> list[str]:
    out = []
    for meta in table.column("metadata").to_pylist():
        source = _metadata(meta).get("_source") if meta and "_source" in meta else None
        out.append(source if isinstance(source, str) and source else default)
    return out


def _count(data: ReportData, table: Any, sources: list[str]) -> None:
    import pyarrow.compute as pc

    names = np.asarray(sources, dtype=object)
    n_images = pc.fill_null(pc.list_value_length(table.column("images")), 0).to_numpy(zero_copy_only=False)
    n_objects = pc.fill_null(pc.list_value_length(table.column("objects")), 0).to_numpy(zero_copy_only=False)
    has_summary = pc.fill_null(pc.greater(pc.utf8_length(table.column("summary")), 0), False).to_numpy(
        zero_copy_only=False
    )
    is_chat = pc.is_valid(table.column("messages")).to_numpy(zero_copy_only=False)
    for name in dict.fromkeys(sources):
        mask = names == name
        src = data.sources.setdefault(name, Source(name))
        src.records += int(mask.sum())
        src.images += int(n_images[mask].sum())
        src.objects += int(n_objects[mask].sum())
        src.with_summary += int(has_summary[mask].sum())
        src.chat += int(is_chat[mask].sum())
    objects = pc.list_flatten(table.column("objects"))
    if len(objects) == 0:
        return
    owner = names[pc.list_parent_indices(table.column("objects")).to_numpy(zero_copy_only=False)]
    kinds = pc.struct_field(objects, "kind").to_numpy(zero_copy_only=False)
    descs = pc.struct_field(objects, "desc")
    unique, index = np.unique(descs.to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    category = np.asarray([category_of(d) for d in unique], dtype=object)[index]
    for name in dict.fromkeys(sources):
        mask = owner == name
        for kind, count in Counter(kinds[mask].tolist()).items():
            data.sources[name].kinds[kind] = data.sources[name].kinds.get(kind, 0) + count
        for cat, count in Counter(category[mask].tolist()).items():
            data.categories.setdefault(cat, Counter())[name] += count


def _long_sides(table: Any) -> list[int]:
    import pyarrow.compute as pc

    w = pc.fill_null(table.column("width"), 0).to_numpy(zero_copy_only=False)
    h = pc.fill_null(table.column("height"), 0).to_numpy(zero_copy_only=False)
    has = pc.fill_null(pc.list_value_length(table.column("images")), 0).to_numpy(zero_copy_only=False) > 0
    return np.maximum(w, h)[has & (np.maximum(w, h) > 0)].astype(int).tolist()


def _validate_folder(path: Path, folder: Path) -> Path | None:
    """The `validate --out` folder a dataset belongs to (it holds report.json and rejects.jsonl)."""
    for candidate in (path, folder, folder.parent):
        if (candidate / "rejects.jsonl").is_file() and (candidate / "report.json").is_file():
            return candidate
    return None


def _issues(path: Path, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    total = 0
    if not path.is_file():
        return rows, 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            total += 1
            if len(rows) >= limit:
                continue
            for issue in entry.get("issues") or [entry]:
                rows.append(
                    {
                        "file": entry.get("file"),
                        "line": entry.get("line"),
                        "id": entry.get("id"),
                        "code": issue.get("code"),
                        "severity": issue.get("severity"),
                        "field": issue.get("field"),
                        "message": issue.get("message"),
                    }
                )
    return rows[:limit], total


def _validate_run(folder: Path) -> ValidateRun:
    run = ValidateRun(str(folder))
    try:
        summary = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        run.lines, run.valid = summary.get("lines_read"), summary.get("valid")
    except (OSError, ValueError):
        pass
    run.rejects, run.rejected = _issues(folder / "rejects.jsonl", MAX_ISSUES)
    run.warnings, run.warned = _issues(folder / "warnings.jsonl", MAX_ISSUES)
    return run


def _thumbnail(path: str, side: int) -> str | None:
    """The image as a JPEG data URI fitting `side`, decoded the one way (`vlmdata.io.decode`: EXIF applied,
    JPEGs at a reduced scale, the decompression-bomb limit); None when it cannot be decoded."""
    from vlmdata.io.decode import load_image_fit
    from vlmdata.io.images import ImageProblem

    try:
        thumb, _ = load_image_fit(path, side)
    except ImageProblem:
        return None
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _gallery_picks(sources: list[str], has_image: np.ndarray, n: int) -> list[int]:
    """Record indices, round-robin over sources in record order, only records with images."""
    queues: dict[str, list[int]] = {}
    for i in np.flatnonzero(has_image).tolist():
        queues.setdefault(sources[i], []).append(i)
    picks: list[int] = []
    depth = 0
    while len(picks) < n and any(depth < len(q) for q in queues.values()):
        for q in queues.values():
            if depth < len(q) and len(picks) < n:
                picks.append(q[depth])
        depth += 1
    return sorted(picks)


def _gallery(ds: Any, sources: list[str], n: int, thumb: int) -> list[dict[str, Any]]:
    import pyarrow.compute as pc

    table = ds.data.table
    has = pc.fill_null(pc.list_value_length(table.column("images")), 0).to_numpy(zero_copy_only=False) > 0
    cards = []
    for i in _gallery_picks(sources, has, n):
        rec = ds[int(i)]
        objects = [
            {
                "kind": o["kind"],
                "points": [float(v) for v in o["points"]],
                "desc": o["desc"],
                "category": category_of(o["desc"]),
                "image_index": int(o.get("image_index") or 0),
            }
            for o in rec.get("objects") or []
        ]
        images = [{"path": p, "src": _thumbnail(p, thumb)} for p in rec.get("images") or []]
        cards.append(
            {
                "id": str(rec.get("id")),
                "source": sources[int(i)],
                "width": int(rec.get("width") or 0),
                "height": int(rec.get("height") or 0),
                "summary": rec.get("summary"),
                "images": images,
                "objects": objects,
                "categories": sorted({o["category"] for o in objects}),
            }
        )
    return cards


def build_report(
    datasets: Sequence[str | os.PathLike[str]],
    audit: str | os.PathLike[str] | None = None,
    gallery: int = 48,
    thumb: int = 384,
    progress: Callable[..., None] | None = None,
) -> ReportData:
    """Gather everything the page shows; `progress(1)` after each dataset."""
    data = ReportData()
    seen_runs: set[str] = set()
    per_dataset = max(1, gallery // max(1, len(datasets))) if gallery > 0 else 0
    for path in datasets:
        folder = locate_dataset(path)
        ds = open_dataset(folder)
        table = ds.data.table
        name = dataset_name(folder)
        sources = _record_sources(table, name)
        _count(data, table, sources)
        data.long_sides += _long_sides(table)
        data.datasets.append({"name": name, "path": str(folder), "records": len(ds)})
        run = _validate_folder(Path(path), folder)
        if run is not None and str(run) not in seen_runs:
            seen_runs.add(str(run))
            data.validate_runs.append(_validate_run(run))
        if per_dataset:
            data.gallery += _gallery(ds, sources, per_dataset, thumb)
        if progress is not None:
            progress(1)
    if audit is not None:
        data.lengths = _audit_lengths(Path(audit))
    return data


def _audit_lengths(path: Path) -> dict[str, Any]:
    from vlmdata.errors import UsageError

    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read the audit report {path}: {exc}", hint="pass `vlmdata audit --out` JSON"
        ) from None
    if not isinstance(report, dict) or "histogram" not in report or "stats" not in report:
        raise UsageError(
            f"{path} is not a `vlmdata audit` report (no histogram/stats)",
            hint="write one with `vlmdata audit DATASET --config run.yaml --out report.json`",
        )
    return {
        "file": str(path),
        "histogram": report["histogram"],
        "stats": report["stats"],
        "global_max_length": report.get("global_max_length"),
        "over_limit": len(report.get("over_limit") or []),
    }


def write_report(
    datasets: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    audit: str | os.PathLike[str] | None = None,
    gallery: int = 48,
    progress: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """Build the page into `out/index.html` under the `--out` rule; returns what the CLI prints."""
    from vlmdata.errors import UsageError
    from vlmdata.io.dataset import image_dirs
    from vlmdata.io.output import check_out, output_dir
    from vlmdata.viz.report_html import render_page

    if not datasets:
        raise UsageError("no dataset given", hint="vlmdata report DATASET… --out DIR")
    if gallery < 0:
        raise UsageError("--gallery must be ≥ 0")
    inputs = [*datasets, audit]
    roots = [d for path in datasets for d in image_dirs(open_dataset(path))]
    check_out(out, command="report", kind="folder", inputs=inputs, roots=roots)  # refuse before the work
    data = build_report(datasets, audit=audit, gallery=gallery, progress=progress)
    with output_dir(out, command="report", inputs=inputs, roots=roots) as tmp:
        (tmp / "index.html").write_text(render_page(data), encoding="utf-8")
    page = Path(out).resolve() / "index.html"
    return {
        "out": str(page),
        "bytes": page.stat().st_size,
        "datasets": data.datasets,
        "records": data.records,
        "objects": data.objects,
        "kinds": data.kinds(),
        "sources": {s.name: {"records": s.records, "objects": s.objects} for s in data.sources.values()},
        "categories": len(data.categories),
        "rejected": sum(r.rejected for r in data.validate_runs),
        "warned": sum(r.warned for r in data.validate_runs),
        "gallery": len(data.gallery),
    }
