"""`generate`: write a synthetic dataset folder (JSONL + image files [+ val split] [+ planted defects]).

Output folder (the `--out` rule of `vlmdata.io.output`: built in a temporary sibling, then swapped in; an
existing folder is replaced only when vlmdata wrote it):
- `data.jsonl` — the clean records, with the planted defects (if any) interleaved at seeded positions;
- `val.jsonl` — with `val_fraction > 0`, a held-out share of clean records (never a planted one);
- `images/<shard>/<index>.jpg|png` — one file per record image; `images/corrupt/…` for planted records;
- `corrupt_manifest.json` — with `corrupt > 0`: every planted line (1-based line number, id, defect kind,
  expected code and severity, field path);
- `synth.json` — the options and counts (no timestamps, so the folder is byte-identical for one seed).

Determinism: record i draws from `numpy.random.default_rng([seed, i, stream])` (PCG64, platform-independent),
never from `hash()`, `random` or the clock; JSON is written with a fixed key order. So the output depends on
(options, seed) only, not on PYTHONHASHSEED, the process or the machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.errors import UsageError
from vlmdata.io.output import output_dir
from vlmdata.synth.corrupt import DEFECTS, Defect, Plant, dumps
from vlmdata.synth.imagefiles import ImageJob, encode_image
from vlmdata.synth.records import SynthOptions, build_record, pick_domain, plan_kinds, sample_size

_PLAN, _CORRUPT_BASE = 7_919, 1_000_000_007
MANIFEST_NAME = "corrupt_manifest.json"
INFO_NAME = "synth.json"


@dataclass
class SynthResult:
    out_dir: Path
    data_path: Path
    val_path: Path | None
    manifest_path: Path | None
    records: int  # clean records in data.jsonl
    val_records: int
    planted: int  # planted defective lines in data.jsonl (errors and warnings)
    images: int  # image files written
    kinds: dict[str, int] = field(default_factory=dict)  # clean record kinds
    defects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return self.records + self.planted


def _check(opts: SynthOptions) -> None:
    problems = []
    if opts.n < 0:
        problems.append(f"--n must be >= 0 (got {opts.n})")
    if opts.corrupt < 0:
        problems.append(f"--corrupt must be >= 0 (got {opts.corrupt})")
    if opts.domain not in ("bbu", "rru", "generic", "mixed"):
        problems.append(f"--domain must be bbu, rru, generic or mixed (got {opts.domain!r})")
    if not 32 <= opts.min_size <= opts.max_size:
        problems.append(f"need 32 <= --min-size <= --max-size (got {opts.min_size}, {opts.max_size})")
    if opts.max_size > 8192:
        problems.append(f"--max-size must be <= 8192 (got {opts.max_size})")
    if not 1 <= opts.min_objects <= opts.max_objects:
        problems.append(
            f"need 1 <= --min-objects <= --max-objects (got {opts.min_objects}, {opts.max_objects})"
        )
    if not 0.0 <= opts.val_fraction < 1.0:
        problems.append(f"--val-fraction must be in [0, 1) (got {opts.val_fraction})")
    if problems:
        raise UsageError("; ".join(problems))


def generate(
    out_dir: str | os.PathLike[str], n: int, seed: int = 0, corrupt: int = 0, **options: Any
) -> SynthResult:
    """Write `n` clean synthetic records (plus `corrupt` records of every defect kind) to `out_dir`.

    Options (all keyword): domain (bbu | rru | generic | mixed), min_size / max_size (px of the long side's
    range), min_objects / max_objects, val_fraction, images (False: records only, no files), exif_fraction,
    png_fraction. See `SynthOptions`.
    """
    opts = SynthOptions(n=n, seed=seed, corrupt=corrupt, **options)
    _check(opts)
    out = Path(out_dir)
    start = time.perf_counter()
    with output_dir(out, command="synth", flag="OUT") as tmp:
        result = _write(tmp, opts)
    result.out_dir = out
    result.data_path = out / "data.jsonl"
    result.val_path = out / "val.jsonl" if result.val_path else None
    result.manifest_path = out / MANIFEST_NAME if result.manifest_path else None
    result.seconds = time.perf_counter() - start
    return result


def iter_records(n: int, seed: int = 0, **options: Any) -> Iterator[dict[str, Any]]:
    """The clean records `generate(…, n, seed, **options)` would write (val split included), in index order,
    without writing anything: for benchmarks and tests that need many records fast."""
    opts = SynthOptions(n=n, seed=seed, **{**options, "images": False})
    _check(opts)
    kinds = plan_kinds(opts.n, opts.domain, np.random.default_rng([opts.seed, _PLAN]))
    writer = _Writer(Path("."), images=False)
    counts: dict[str, int] = {}
    for i in range(opts.n):
        yield _clean(writer, opts, i, kinds[i], counts)


class _Writer:
    def __init__(self, root: Path, images: bool) -> None:
        self.root, self.images, self.count = root, images, 0
        self._dirs: set[Path] = set()

    def jobs(self, jobs: list[ImageJob]) -> None:
        if not self.images:
            return
        for job in jobs:
            self._write(job.relpath, encode_image(job))

    def symlink(self, rel: str, target: str) -> None:
        if self.images:
            path = self._prepare(rel)
            os.symlink(target, path)

    def _prepare(self, rel: str) -> Path:
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        return path

    def _write(self, rel: str, data: bytes) -> None:
        self._prepare(rel).write_bytes(data)
        self.count += 1


def _write(tmp: Path, opts: SynthOptions) -> SynthResult:
    plan_rng = np.random.default_rng([opts.seed, _PLAN])
    kinds = plan_kinds(opts.n, opts.domain, plan_rng)
    n_val = int(round(opts.val_fraction * opts.n)) if opts.n > 1 else 0
    val_set = {int(i) for i in plan_rng.choice(opts.n, size=n_val, replace=False)} if n_val else set()
    defects = [d for d in DEFECTS if opts.images or not d.needs_images]
    planted = [d for d in defects for _ in range(opts.corrupt)]
    planted = [planted[int(i)] for i in plan_rng.permutation(len(planted))]
    n_train = opts.n - n_val
    total = n_train + len(planted)
    slots = np.zeros(total, dtype=bool)
    if planted:
        slots[plan_rng.choice(total, size=len(planted), replace=False)] = True

    writer = _Writer(tmp, opts.images)
    kind_counts: dict[str, int] = {}
    manifest: list[dict[str, Any]] = []
    last_id: str | None = None
    deferred: list[tuple[int, Defect]] = []
    clean_iter = iter(range(opts.n))
    line_no = 0
    with open(tmp / "data.jsonl", "wb") as data, open(tmp / "val.jsonl", "wb") if n_val else _Null() as val:
        plant_j = 0
        for is_plant in slots:
            if is_plant:
                defect = planted[plant_j]
                if defect.kind == "duplicate_id" and last_id is None:
                    deferred.append((plant_j, defect))
                else:
                    line_no += 1
                    manifest.append(_plant(writer, data, opts, plant_j, defect, line_no, last_id))
                plant_j += 1
                continue
            i = next(clean_iter)
            while i in val_set:  # val records go to their own file, in order
                record = _clean(writer, opts, i, kinds[i], kind_counts)
                val.write((dumps(record) + "\n").encode("utf-8"))
                i = next(clean_iter)
            record = _clean(writer, opts, i, kinds[i], kind_counts)
            data.write((dumps(record) + "\n").encode("utf-8"))
            line_no += 1
            last_id = record.get("id", last_id)
        for i in clean_iter:  # trailing val records
            record = _clean(writer, opts, i, kinds[i], kind_counts)
            val.write((dumps(record) + "\n").encode("utf-8"))
        for plant_j, defect in deferred:
            if last_id is None:  # no clean record with an id to duplicate (n == 0 or tiny n): not planted
                continue
            line_no += 1
            manifest.append(_plant(writer, data, opts, plant_j, defect, line_no, last_id))

    defect_counts: dict[str, int] = {}
    for entry in manifest:
        defect_counts[entry["kind"]] = defect_counts.get(entry["kind"], 0) + 1
    if planted:
        _write_json(
            tmp / MANIFEST_NAME,
            {
                "file": "data.jsonl",
                "seed": opts.seed,
                "per_kind": opts.corrupt,
                "planted": len(manifest),
                "errors": sum(e["severity"] == "error" for e in manifest),
                "warnings": sum(e["severity"] == "warning" for e in manifest),
                "kinds": {d.kind: {"code": d.code.code, "severity": d.severity} for d in defects},
                "entries": manifest,
            },
        )
    info = {
        "generator": "vlmdata.synth",
        "format": 1,
        "options": asdict(opts),
        "counts": {
            "lines": line_no,
            "clean": n_train,
            "val": n_val,
            "planted": len(manifest),
            "images": writer.count,
            "kinds": dict(sorted(kind_counts.items())),
        },
    }
    _write_json(tmp / INFO_NAME, info)
    return SynthResult(
        tmp,
        tmp / "data.jsonl",
        tmp / "val.jsonl" if n_val else None,
        tmp / MANIFEST_NAME if planted else None,
        n_train,
        n_val,
        len(manifest),
        writer.count,
        dict(sorted(kind_counts.items())),
        dict(sorted(defect_counts.items())),
    )


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> None:
        raise AssertionError("no val split was requested")


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _record_id(opts: SynthOptions, i: int, rng: np.random.Generator, kind: str) -> str | None:
    # A few records carry no id: the contract derives one from their content. Only records whose content is
    # unique by construction (they name their own image files) may: two text-only chats drawn from the same
    # question list can be identical, and identical content derives the same id (a duplicate, VD500).
    anonymous = rng.random() < 0.03
    return None if anonymous and kind != "chat_text" else f"s{opts.seed}-{i:06d}"


def _clean(writer: _Writer, opts: SynthOptions, i: int, kind: str, counts: dict[str, int]) -> dict[str, Any]:
    rng = np.random.default_rng([opts.seed, i, 0])
    domain = pick_domain(rng, opts.domain, kind)
    record_id = _record_id(opts, i, rng, kind)
    key = f"{i // 1000:04d}/{i:06d}"
    record, jobs = build_record(kind, rng, opts, key, (opts.seed, i, 1), domain, record_id)
    writer.jobs(jobs)
    counts[kind] = counts.get(kind, 0) + 1
    return record


def _plant(
    writer: _Writer, data: Any, opts: SynthOptions, j: int, defect: Defect, line_no: int, last_id: str | None
) -> dict[str, Any]:
    idx = _CORRUPT_BASE + j
    rng = np.random.default_rng([opts.seed, idx, 0])
    domain = pick_domain(rng, opts.domain, defect.base)
    if defect.base == "chat_image" and domain == "generic" and opts.domain == "mixed":
        domain = "bbu"
    size = None
    if defect.kind == "exif_mismatch":  # needs a non-square image, or the rotation would not show
        w, h = sample_size(rng, opts)
        size = (w, h) if w != h else (w, max(32, w * 3 // 4))
    record, jobs = build_record(
        defect.base,
        rng,
        opts,
        f"corrupt/c{j:05d}",
        (opts.seed, idx, 1),
        domain,
        f"s{opts.seed}-c{j:05d}",
        size=size,
    )
    for job in jobs:
        job.orientation = 1  # keep the base image plain: only the planted defect may fire
    if defect.kind == "duplicate_id":
        record["id"] = last_id
    record.get("metadata", {}).pop("exif_orientation", None)
    plant = Plant(record, jobs)
    defect.plant(plant, rng)
    writer.jobs(plant.jobs)
    for rel, target in plant.symlinks:
        writer.symlink(rel, target)
    line = plant.raw if plant.raw is not None else dumps(plant.record).encode("utf-8")
    data.write(line + b"\n")
    return {
        "line": line_no,
        "id": plant.record_id,
        "kind": defect.kind,
        "code": defect.code.code,
        "severity": defect.severity,
        "field": plant.field,
    }
