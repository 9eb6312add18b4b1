"""Offline fusion: one epoch of the plan written as an Arrow dataset plus `manifest.json`.

Output layout (`vlmdata fuse CONFIG --out DIR`): `DIR/data/` is the fused dataset (a Hugging Face
`datasets` folder in the normalised schema, loadable with `load_from_disk`), `DIR/manifest.json` says how it
was made. The folder follows the `--out` rule (`vlmdata.io.output`: the config files, every entry's inputs and
the folders of their images are inputs) and is built in a temporary sibling and swapped in atomically.

Memory stays flat: inputs are memory-mapped, the plan is built as memory-mapped arrays in a scratch folder of
the output's temporary folder (`plan_epoch(..., scratch=)`, removed before the swap) and walked in chunks
(`chunk_rows`), each chunk is
gathered with Arrow `take` per entry, tagged, put back in plan order and streamed through the one dataset
writer (`vlmdata.io.writer`, which rotates shards). Nothing in the outputs depends on time, paths of the output or hash seeds, so two
runs on the same inputs are byte-identical (the dataset fingerprint in `state.json` is derived from the plan
digest and the input fingerprints, not drawn at random as `datasets` does for in-memory tables).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata import __version__
from vlmdata.fuse.config import FusionConfig
from vlmdata.fuse.inputs import TableTaker, fingerprint_dir
from vlmdata.fuse.plan import PLAN_VERSION, EpochPlan, plan_epoch
from vlmdata.fuse.records import EntryTags, finalize_table
from vlmdata.io.atomic import atomic_write_json
from vlmdata.io.dataset import image_dirs
from vlmdata.io.output import output_dir
from vlmdata.io.writer import DatasetWriter

CHUNK = 32_768  # most plan positions per chunk
CHUNK_BYTES = 16 * 1024 * 1024  # ... and at most about this many bytes of input records per chunk


@dataclass
class EntrySummary:
    name: str
    domain: str
    mode: str
    template: str
    ratio: float
    replacement: bool
    pool: int
    quota: int
    realised: int

    @property
    def passes(self) -> float:
        return self.quota / self.pool if self.pool else 0.0


@dataclass
class FuseResult:
    plan: EpochPlan
    entries: list[EntrySummary]
    manifest: dict[str, Any]
    out: Path | None = None

    @property
    def total(self) -> int:
        return len(self.plan)


def summarise(config: FusionConfig, plan: EpochPlan) -> list[EntrySummary]:
    realised = plan.counts()
    rows = []
    for (domain, entry), quota, pool in zip(config.entries(), plan.quotas, plan.sizes, strict=True):
        rows.append(
            EntrySummary(
                entry.name,
                domain,
                entry.mode,
                config.template_of(domain, entry),
                entry.ratio,
                entry.replacement,
                pool,
                quota,
                realised[entry.name],
            )
        )
    return rows


def input_sizes(config: FusionConfig) -> tuple[dict[str, int], dict[str, Any], dict[str, Path]]:
    """Pool sizes, the opened (memory-mapped) datasets and the dataset folders of every entry's `data`."""
    from vlmdata.io.dataset import open_dataset
    from vlmdata.validate.inputs import locate_input

    sizes, datasets, folders = {}, {}, {}
    for key, (_, entry) in zip(_keys(config), config.entries(), strict=True):
        folders[entry.name] = locate_input(entry.data, field=f"{key}.data")
        ds = open_dataset(folders[entry.name], field=f"{key}.data")
        datasets[entry.name] = ds
        sizes[entry.name] = len(ds)
    return sizes, datasets, folders


def check_entry_domains(config: FusionConfig, datasets: dict[str, Any]) -> None:
    """Every record of an entry whose template takes its domain from `metadata.domain` has one (VD411
    listing the records otherwise): a missing domain is an error before anything is written, never a
    silent default."""
    check_template_domains(
        (f"{key} {entry.name!r} ({entry.data})", config.template_of(domain, entry), datasets[entry.name])
        for key, (domain, entry) in zip(_keys(config), config.entries(), strict=True)
    )


def check_template_domains(sources: Iterable[tuple[str, str, Any]]) -> None:
    """`check_domains` for each (label, template name, dataset) whose template needs a domain."""
    from vlmdata.render.domains import check_domains
    from vlmdata.render.templates import get_template

    for label, name, dataset in sources:
        template = get_template(name)
        if template.needs_domain:
            check_domains(template, record_rows(dataset), label)


def record_rows(dataset: Any, batch: int = 8192) -> Any:
    """(id, metadata, summary) of every record, read column-wise in batches."""
    part = dataset.select_columns(["id", "metadata", "summary"])
    for rows in part.iter(batch_size=batch):
        yield from zip(rows["id"], rows["metadata"], rows["summary"], strict=True)


def plan_only(config: FusionConfig, epoch: int = 0) -> FuseResult:
    """The plan and its counts, without writing anything (`vlmdata fuse --plan`)."""
    sizes, datasets, _ = input_sizes(config)
    check_entry_domains(config, datasets)
    plan = plan_epoch(config, sizes, epoch)
    return FuseResult(plan, summarise(config, plan), manifest={})


def fuse_epoch(
    config: FusionConfig, out: str | Path, epoch: int = 0, progress: Callable[[int, int], None] | None = None
) -> FuseResult:
    """Write epoch `epoch` of the fusion to `out/data` and `out/manifest.json` (atomically, reproducibly)."""
    import dataclasses
    import shutil

    import pyarrow as pa

    sizes, datasets, folders = input_sizes(config)
    check_entry_domains(config, datasets)
    entries = config.entries()
    tags = [EntryTags.of(config, d, e) for d, e in entries]
    takers = [TableTaker(datasets[e.name]) for _, e in entries]
    fingerprints = {name: fingerprint_dir(folder) for name, folder in folders.items()}
    pool = pa.default_memory_pool()
    out = Path(out)
    inputs: list[str | Path] = [*config.files, *folders.values()]
    inputs += [p for _, e in entries for p in (e.data, e.val) if p is not None]
    roots = sorted({d for ds in datasets.values() for d in image_dirs(ds)})
    with output_dir(out, command="fuse", inputs=inputs, roots=roots) as tmp:
        # the epoch's arrays live in memory-mapped files (no memory that grows with the epoch), removed from
        # the output before it is swapped in
        plan = plan_epoch(config, sizes, epoch, scratch=tmp / ".plan")
        writer = DatasetWriter(tmp / "data")
        step = chunk_rows(takers, plan)
        try:
            for start in range(0, len(plan), step):
                chunk = _gather(plan, start, min(start + step, len(plan)), takers, tags)
                writer.write(chunk)
                del chunk  # not alive while the next chunk is gathered
                pool.release_unused()  # hand freed chunk memory back, so the resident set does not creep
                if progress is not None:
                    progress(writer.rows, len(plan))
        except BaseException:
            writer.abort()
            raise
        manifest = build_manifest(config, plan, fingerprints, folders)
        writer.close(manifest["output"]["fingerprint"])
        atomic_write_json(tmp / "manifest.json", manifest)
        if os.name == "nt":  # a mapped file cannot be removed there: the result keeps the arrays in memory
            plan = dataclasses.replace(plan, entry=np.array(plan.entry), index=np.array(plan.index))
        if (tmp / ".plan").exists():  # POSIX keeps an unlinked file while it is mapped: the result reads on
            shutil.rmtree(tmp / ".plan")
    return FuseResult(plan, summarise(config, plan), manifest, out)


def chunk_rows(takers: list[TableTaker], plan: EpochPlan) -> int:
    """Plan positions per chunk: `CHUNK`, fewer when records are large (memory stays bounded).

    A chunk's gathers cost time linear in its rows (`ChunkedGather`) plus a few fixed Arrow calls, so the
    chunk size mostly trades memory for per-call overhead; the byte cap keeps a chunk's tables around
    `CHUNK_BYTES` whatever the record size.
    """
    weights = np.asarray(plan.quotas, dtype=np.float64)
    sizes = np.array([t.nbytes / max(len(t), 1) for t in takers], dtype=np.float64)
    average = float((weights * sizes).sum() / weights.sum()) if weights.sum() else 1.0
    return int(max(1, min(CHUNK, CHUNK_BYTES // max(average, 1.0))))


def _gather(plan: EpochPlan, start: int, stop: int, takers: list[TableTaker], tags: list[EntryTags]) -> Any:
    import pyarrow as pa

    entry = plan.entry[start:stop]
    index = plan.index[start:stop]
    parts, positions = [], []
    for k in np.unique(entry):
        where = np.nonzero(entry == k)[0]
        # ascending reads: mmap-friendly, ~3x faster take
        where = where[np.argsort(index[where], kind="stable")]
        table = takers[int(k)].take(index[where])
        parts.append(finalize_table(table, tags[int(k)], plan.seed, plan.epoch))
        positions.append(where)
    merged = pa.concat_tables(parts).combine_chunks()
    order = np.empty(stop - start, dtype=np.int64)
    order[np.concatenate(positions)] = np.arange(stop - start)
    return merged.take(pa.array(order))


def build_manifest(
    config: FusionConfig,
    plan: EpochPlan,
    fingerprints: dict[str, str],
    folders: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Everything needed to reproduce or resume the stream: merged config, inputs, quotas, seed, versions."""
    summary = summarise(config, plan)
    digest = plan.digest()
    output_fp = hashlib.sha256(
        json.dumps([PLAN_VERSION, __version__, digest, sorted(fingerprints.items())]).encode()
    ).hexdigest()[:16]
    return {
        "vlmdata_version": __version__,
        "plan_version": PLAN_VERSION,
        "numpy_version": np.__version__,
        "seed": config.seed,
        "epoch": plan.epoch,
        "interleave": config.interleave,
        "config_files": config.files,
        "config": config.to_manifest(),
        "inputs": {
            e.name: {
                "data": e.data,
                "dataset": str(folders[e.name] if folders else _locate(e.data)),
                "fingerprint": fingerprints[e.name],
                "records": pool,
            }
            for (_, e), pool in zip(config.entries(), plan.sizes, strict=True)
        },
        "entries": [
            {
                "name": s.name,
                "domain": s.domain,
                "mode": s.mode,
                "template": s.template,
                "ratio": s.ratio,
                "replacement": s.replacement,
                "pool": s.pool,
                "quota": s.quota,
                "realised": s.realised,
            }
            for s in summary
        ],
        "total": len(plan),
        "plan_digest": "sha256:" + digest,
        "output": {"records": len(plan), "fingerprint": output_fp},
    }


def _locate(path: str) -> Path:
    from vlmdata.validate.inputs import locate_input

    return locate_input(path)


def _keys(config: FusionConfig) -> list[str]:
    return [f"targets[{i}]" for i in range(len(config.targets))] + [
        f"sources[{i}]" for i in range(len(config.sources))
    ]
