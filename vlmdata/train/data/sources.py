"""Where training records come from: the datasets of a run and the per-epoch order of their records.

A run reads either `data.train` (one or more validated Arrow datasets) or `data.fusion` (a fusion config).
Both become a list of `Source`s (a name, the memory-mapped dataset, the template to render with, whether the
training split is augmented, the audited lengths) and an `EpochOrder`: for every epoch, position k of the
stream is record `index[k]` of source `source[k]`.

- Fusion: the order is the fusion plan of that epoch (`vlmdata.fuse.plan_epoch`), so the trainer sees exactly
  the records, quotas and interleaving `vlmdata fuse` would write; records come from `FusionStream`, which
  adds `_source`/`_domain`/`_mode`/`_template` to their metadata and applies `max_objects`.
- Plain datasets: the concatenation in a seeded permutation per epoch
  (`PCG64(sha256(["vlmdata.train/1", "order", seed, epoch]))`), so no Python `hash()` or global RNG is involved.

Either way the order is a pure function of (config, dataset sizes, seed, epoch): every process and every
dataloader worker recomputes the same arrays, and a resumed run continues the same stream. With
`data.sample_limit: N` (smoke runs) each dataset keeps only its first N positions of every epoch's stream,
in stream order, after the plan; evaluation sets keep their first N records.

A `data.train`/`data.val` entry may be any dataset form (a `validate --out` folder gives its `data/`, or its
`val/` for `data.val`) or a JSONL file, validated on the fly as a fusion entry's JSONL is
(`vlmdata.validate.inputs`: cached on everything the result depends on, re-checked against the images).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vlmdata.errors import Location, VlmdataError
from vlmdata.io.dataset import is_jsonl_name
from vlmdata.models.qwen import over_length
from vlmdata.train.data import codes

if TYPE_CHECKING:
    from vlmdata.fuse.config import Domain, EntryConfig, FusionConfig

ORDER_VERSION = "vlmdata.train/1"


def _rng(*key: object) -> np.random.Generator:
    text = json.dumps([ORDER_VERSION, *key], separators=(",", ":"), ensure_ascii=False)
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")
    return np.random.Generator(np.random.PCG64(seed))


@dataclass
class Source:
    """One dataset of the run."""

    name: str
    path: str
    dataset: Any
    template: str
    augment: bool
    lengths: np.ndarray | None = None  # audited lengths (int64), None when the dataset has no `length` column
    domain: str = "target"

    def __len__(self) -> int:
        return len(self.dataset)

    def tagged(self, probe: int = 64) -> bool:
        """True when the records carry their own `_source` (a dataset written by `vlmdata fuse`)."""
        n = min(len(self.dataset), probe)
        if n == 0 or "metadata" not in (self.dataset.column_names or []):
            return False
        return any('"_source"' in (m or "") for m in self.dataset.select(range(n))["metadata"])

    def channels(self) -> list[str]:
        """The dataset names this source's samples are tagged with (their `_source`, else the source's name)."""
        if not self.tagged():
            return [self.name]
        names: list[str] = []
        for meta in self.dataset["metadata"]:
            tag = json.loads(meta or "{}").get("_source")
            name = str(tag) if tag else self.name
            if name not in names:
                names.append(name)
        return names

    @property
    def fingerprint(self) -> str:
        return str(getattr(self.dataset, "_fingerprint", "") or "")


@dataclass
class EpochOrder:
    source: np.ndarray  # int array: source id per position
    index: np.ndarray  # int64 array: row of that source per position
    planned: np.ndarray | None = None  # position in the unlimited stream (set when `sample_limit` cut it)

    def __len__(self) -> int:
        return int(self.source.shape[0])

    def counts(self, names: list[str]) -> dict[str, int]:
        found = np.bincount(self.source.astype(np.int64), minlength=len(names))
        return {name: int(found[i]) for i, name in enumerate(names)}


def limit_order(order: EpochOrder, n_sources: int, limit: int | None) -> EpochOrder:
    """Keep each source's first `limit` positions of the stream, in stream order (`data.sample_limit`)."""
    if limit is None:
        return order
    keep = np.zeros(len(order), dtype=bool)
    for i in range(n_sources):
        keep[np.flatnonzero(order.source == i)[:limit]] = True
    kept = np.flatnonzero(keep)
    return EpochOrder(order.source[kept], order.index[kept], kept)


@dataclass
class Sources:
    """The datasets of one split and how each epoch orders them."""

    split: str
    items: list[Source]
    seed: int
    fusion: Any = None  # FusionConfig when the run fuses
    sample_limit: int | None = None  # `data.sample_limit`: each dataset's first N positions of every epoch
    _orders: dict[int, EpochOrder] = field(default_factory=dict, repr=False)
    _streams: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.items]

    def sizes(self) -> dict[str, int]:
        return {s.name: len(s) for s in self.items}

    def order(self, epoch: int) -> EpochOrder:
        """The stream of `epoch` (cached: a handful of epochs per process)."""
        if epoch not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[epoch] = self._compute_order(epoch)
        return self._orders[epoch]

    def _compute_order(self, epoch: int) -> EpochOrder:
        return limit_order(self._planned_order(epoch), len(self.items), self.sample_limit)

    def _planned_order(self, epoch: int) -> EpochOrder:
        if self.fusion is not None and self.split == "train":
            from vlmdata.fuse.plan import plan_epoch

            plan = plan_epoch(self.fusion, self.sizes(), epoch)
            ids = {name: i for i, name in enumerate(self.names)}
            remap = np.array([ids[n] for n in plan.names], dtype=np.int32)
            return EpochOrder(remap[plan.entry.astype(np.int64)], plan.index.astype(np.int64))
        sizes = np.array([len(s) for s in self.items], dtype=np.int64)
        source = np.repeat(np.arange(len(self.items), dtype=np.int32), sizes)
        index = (
            np.concatenate([np.arange(n, dtype=np.int64) for n in sizes])
            if len(sizes)
            else np.empty(0, np.int64)
        )
        if self.split == "train":
            perm = _rng("order", int(self.seed), int(epoch)).permutation(len(source))
            source, index = source[perm], index[perm]
        return EpochOrder(source, index)

    def lengths(self, epoch: int) -> np.ndarray | None:
        """Audited length of every position of `epoch`, or None when a source lacks the `length` column."""
        if any(s.lengths is None for s in self.items):
            return None
        order = self.order(epoch)
        out = np.zeros(len(order), dtype=np.int64)
        for i, s in enumerate(self.items):
            mask = order.source == i
            assert s.lengths is not None
            out[mask] = s.lengths[order.index[mask]]
        return out

    def record(self, epoch: int, position: int) -> tuple[Source, dict[str, Any]]:
        """The record at `position` of `epoch`, with `_source` (and for fusion the other keys) in its metadata."""
        order = self.order(epoch)
        src = self.items[int(order.source[position])]
        row = int(order.index[position])
        if self.fusion is not None and self.split == "train":
            planned = position if order.planned is None else int(order.planned[position])
            record = self._fusion_stream(epoch)[planned]
        else:
            record = dict(src.dataset[row])
            meta = json.loads(record.get("metadata") or "{}")
            meta.setdefault("_source", src.name)
            record["metadata"] = json.dumps(meta, ensure_ascii=False)
        return src, record

    def _fusion_stream(self, epoch: int) -> Any:
        if epoch not in self._streams:
            from vlmdata.fuse import FusionStream

            if len(self._streams) > 2:
                self._streams.clear()
            self._streams[epoch] = FusionStream(
                self.fusion, epoch, datasets={s.name: s.dataset for s in self.items}
            )
        return self._streams[epoch]

    def manifest(self) -> dict[str, Any]:
        """What identifies this stream: names, paths, sizes and dataset fingerprints (saved in the run folder)."""
        first = self.order(0)
        return {
            "split": self.split,
            "seed": self.seed,
            "sample_limit": self.sample_limit,
            "epoch_0": {"length": len(first), "counts": first.counts(self.names)},
            "fusion": self.fusion.to_manifest() if self.fusion is not None else None,
            "sources": [
                {
                    "name": s.name,
                    "path": s.path,
                    "size": len(s),
                    "fingerprint": s.fingerprint,
                    "template": s.template,
                    "augment": s.augment,
                    "domain": s.domain,
                    "has_lengths": s.lengths is not None,
                }
                for s in self.items
            ],
        }


def _source_name(path: Path, taken: set[str]) -> str:
    jsonl = is_jsonl_name(path)
    base = path.stem if jsonl else path.name
    if (
        not jsonl
        and base in {"data", "dataset", "train", "val", "validation", "test", ""}
        and path.parent.name
    ):
        base = path.parent.name  # `vlmdata validate --out X` writes X/data (and X/val for a split)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def read_lengths(dataset: Any, name: str) -> np.ndarray | None:
    if "length" not in (dataset.column_names or []):
        return None
    column = dataset.data.column("length")
    if column.null_count:
        raise VlmdataError(
            codes.BAD_LENGTHS,
            f"{column.null_count} record(s) of dataset {name!r} have no audited length",
            where=Location(file=name, field="length"),
        )
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _open(path: str, split: str, field: str, max_image_pixels: int) -> Any:
    """Every data input opens like `vlmdata fuse` opens it: any dataset form, or a JSONL validated on the fly
    (`vlmdata.validate.inputs`: cached on everything the result depends on, refused when a record is rejected),
    its images checked under the run's `data.max_image_pixels`, the limit training decodes them under."""
    from vlmdata.validate.inputs import open_input

    return open_input(path, "data" if split == "train" else "val", field, max_image_pixels)


def split_entries(fusion: FusionConfig, split: str) -> list[tuple[Domain, EntryConfig, str]]:
    """(domain, entry, dataset path) of every fusion entry that feeds `split`: each entry's `data` for
    "train"; for "val" the targets' `val` sets, and the sources' only with `eval_sources: true`. The one
    definition of a fused run's evaluation split."""
    if split == "train":
        return [(domain, entry, entry.data) for domain, entry in fusion.entries()]
    return [
        (domain, entry, entry.val)
        for domain, entry in fusion.entries()
        if entry.val is not None and (domain == "target" or fusion.eval_sources)
    ]


def open_sources(config: Any, split: str = "train") -> Sources:
    """The `Sources` of `split` ("train" or "val") of a `RunConfig`; val may be empty."""
    data = config.data
    seed = int(config.training.seed)
    items: list[Source] = []
    taken: set[str] = set()
    fusion = None
    if data.fusion:
        from vlmdata.fuse import load_fusion_config

        fusion = load_fusion_config(data.fusion)
        for domain, entry, path in split_entries(fusion, split):
            key = f"{entry.name}.{'data' if split == 'train' else 'val'}"
            ds = _open(path, split, key, data.max_image_pixels)
            items.append(
                Source(
                    entry.name,
                    str(path),
                    ds,
                    fusion.template_of(domain, entry),
                    fusion.augment_of(domain, entry) and split == "train",
                    read_lengths(ds, entry.name),
                    domain,
                )
            )
    else:
        for i, path in enumerate(data.train if split == "train" else data.val):
            name = _source_name(Path(path), taken)
            ds = _open(path, split, f"data.{split}[{i}]", data.max_image_pixels)
            items.append(
                Source(name, str(path), ds, config.template.name, split == "train", read_lengths(ds, name))
            )
    if fusion is not None:  # as `vlmdata fuse` checks: a domain template needs a domain on every record
        from vlmdata.fuse.writer import check_template_domains

        check_template_domains((f"fusion entry {s.name!r} ({s.path})", s.template, s.dataset) for s in items)
    if split == "train" and (not items or sum(len(s) for s in items) == 0):
        raise VlmdataError(
            codes.NO_TRAIN_DATA,
            "the run has no training records",
            where=Location(field="data.fusion" if data.fusion else "data.train"),
        )
    return Sources(split, items, seed, fusion if split == "train" else None, data.sample_limit)


def check_audited_lengths(sources: Sources, global_max_length: int, show: int = 20) -> None:
    """Refuse to start when the audited lengths already say a record cannot fit (`length >= global_max_length`)."""
    offenders: list[tuple[str, str, int]] = []
    total = 0
    for s in sources.items:
        if s.lengths is None:
            continue
        bad = np.flatnonzero(over_length(s.lengths, global_max_length))
        total += int(bad.size)
        if bad.size and len(offenders) < show:
            ids = s.dataset.select(bad[: show - len(offenders)].tolist())["id"]
            offenders += [(s.name, str(i), int(s.lengths[b])) for i, b in zip(ids, bad, strict=False)]
    if total:
        details = [f"{name}: id={rid} length={length}" for name, rid, length in offenders]
        if total > len(offenders):
            details.append(f"... and {total - len(offenders)} more")
        raise VlmdataError(
            codes.AUDITED_OVER_LENGTH,
            f"{total} {sources.split} record(s) are at or over global_max_length={global_max_length}",
            where=Location(field="global_max_length"),
            value=global_max_length,
            details=details,
        )
