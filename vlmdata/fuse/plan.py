"""The epoch plan: which record of which entry sits at every position of an epoch.

The plan is a pure function of (config, dataset sizes, epoch): no state, no clock, no Python `hash()`. Any
process or dataloader worker recomputes it from the config and lands on the same arrays, and position k of
the stream is `(entry[k], index[k])`, so resuming at k is O(1) once the plan exists.

Quotas (exact, every epoch):
- target: `round_half_up(ratio × pool)`; sources: `round_half_up(ratio × T)` with T the sum of the target
  quotas. Rounding is half-up on the ratio as written in decimal (`Fraction(repr(ratio))`), so 0.5 × 3 is 2
  and 0.1 × 10 is exactly 1 (no binary-float surprises).
- without replacement (the default): `q // n` whole passes over the pool plus a seeded subset of `q % n`
  records. At ratio ≤ 1 this is a permutation of the pool truncated to q; at 1.0 every record appears exactly
  once; beyond the pool, per-record counts differ by at most one. With `replacement: true`, q i.i.d. draws.

Random streams: each entry draws from `PCG64(sha256(["vlmdata.fuse/1", "entry", seed, epoch, name]))`, where
`seed` is the entry's own `seed` if set, else the config's. Names are unique, so two entries never share a
stream. The epoch order draws from a separate key. `max_objects` subsets use keyed hashes of (seed, epoch,
entry, record id, object position) (`ObjectSubsetter`), so a record's subset is the same wherever and
whenever it is read within an epoch, and many records are capped in one vectorised step.

Order: `interleave: shuffle` permutes all draws; `stratified` gives entry k's j-th draw the key
`(j + u_k) / q_k` (u_k a seeded offset in [0, 1)) and sorts by key, spreading each entry evenly over the epoch:
every prefix of length m holds m·q_k/N ± (1 + (K − 2)·q_k/N) draws of entry k (K entries; ±1 for two). Both orders avoid gathers through a
permutation: the shuffle permutes packed `(entry << 40) | index` values in place, the stratified order sorts
packed integer keys (see `_shuffled`, `_stratified`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.errors import VlmdataError
from vlmdata.fuse import codes
from vlmdata.fuse.config import FusionConfig

PLAN_VERSION = "vlmdata.fuse/1"


def stream_seed(*key: object) -> int:
    """A 128-bit seed from a stable hash of the JSON of `key` (independent of PYTHONHASHSEED)."""
    text = json.dumps([PLAN_VERSION, *key], separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")


def rng_for(*key: object) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(stream_seed(*key)))


def round_half_up(ratio: float, count: int) -> int:
    return math.floor(Fraction(repr(float(ratio))) * count + Fraction(1, 2))


@dataclass(frozen=True)
class EpochPlan:
    """Position p of the epoch reads record `index[p]` of entry `names[entry[p]]`."""

    entry: np.ndarray
    index: np.ndarray
    names: tuple[str, ...]
    quotas: tuple[int, ...] = ()
    sizes: tuple[int, ...] = ()
    seed: int = 0
    epoch: int = 0
    domains: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.entry.shape[0])

    def counts(self) -> dict[str, int]:
        """Realised draws per entry (equal to the quotas by construction; recomputed, not copied)."""
        realised = (
            np.bincount(self.entry, minlength=len(self.names))
            if len(self)
            else np.zeros(len(self.names), np.int64)
        )
        return {name: int(c) for name, c in zip(self.names, realised, strict=True)}

    def digest(self) -> str:
        """sha256 of the plan arrays (little-endian int64): two equal digests mean the same stream."""
        h = hashlib.sha256()
        step = 1 << 20  # in slices: no full-size copies of the plan
        for array in (self.entry, self.index):
            for start in range(0, len(array), step):
                h.update(np.ascontiguousarray(array[start : start + step], dtype="<i8").data)
        h.update(json.dumps(list(self.names)).encode("utf-8"))
        return h.hexdigest()


def entry_seed(config: FusionConfig, entry_seed_value: int | None) -> int:
    return config.seed if entry_seed_value is None else entry_seed_value


def compute_quotas(config: FusionConfig, sizes: Mapping[str, int]) -> dict[str, int]:
    """Per-entry draw counts for one epoch (the same for every epoch)."""
    _check_sizes(config, sizes)
    quotas: dict[str, int] = {}
    for t in config.targets:
        quotas[t.name] = round_half_up(t.ratio, int(sizes[t.name]))
    total_targets = sum(quotas.values())
    for s in config.sources:
        quotas[s.name] = round_half_up(s.ratio, total_targets)
    for name, q in quotas.items():
        if q > 0 and int(sizes[name]) == 0:
            raise VlmdataError(
                codes.EMPTY_POOL, f"entry {name!r} must draw {q} records from an empty dataset", value=0
            )
    return quotas


def draw_entry(
    pool: int,
    quota: int,
    rng: np.random.Generator,
    replacement: bool = False,
    ordered: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """`quota` record indices in [0, pool): whole passes plus a seeded remainder (written into `out` when
    given, e.g. a memory map).

    With `ordered` the draws also come in a seeded order (stratified interleaving keeps each entry's order);
    otherwise the order is left to the epoch shuffle and the passes stay in index order (cheaper).
    """
    draws = np.empty(quota, dtype=np.int64) if out is None else out
    if quota == 0:
        return draws
    if replacement:
        draws[:] = rng.integers(0, pool, size=quota, dtype=np.int64)
        return draws
    passes, remainder = divmod(quota, pool)
    whole = passes * pool
    for k in range(passes):  # pass by pass: no temporary the size of the quota
        draws[k * pool : (k + 1) * pool] = np.arange(pool, dtype=np.int64)
    if remainder:
        draws[whole:] = rng.choice(pool, size=remainder, replace=False, shuffle=ordered)
    if ordered and passes:
        rng.shuffle(np.asarray(draws))  # a memory map shuffled through a plain view (the same draws, in C)
    return draws


def plan_epoch(
    config: FusionConfig, sizes: Mapping[str, int], epoch: int = 0, scratch: str | Path | None = None
) -> EpochPlan:
    """The exact plan of `epoch` (see the module docstring).

    With `scratch` (a folder) every array as long as the epoch lives in a memory-mapped file there, built and
    shuffled in place and converted in slices, so the plan costs no memory that grows with the epoch (the
    offline writer); the arrays are the same either way."""
    if epoch < 0:
        raise VlmdataError(codes.SIZES_MISMATCH, "epoch must be >= 0", value=epoch)
    quotas = compute_quotas(config, sizes)
    entries = config.entries()
    names = tuple(e.name for _, e in entries)
    stratified = config.interleave == "stratified"
    counts = np.array([quotas[n] for n in names], dtype=np.int64)
    total = int(counts.sum())
    alloc = _Arrays(Path(scratch) if scratch is not None else None)
    packed = alloc.new("packed", total, np.int64)
    draws, start = [], 0
    for (_, e), q in zip(entries, counts, strict=True):
        rng = rng_for("entry", entry_seed(config, e.seed), int(epoch), e.name)
        out = packed[start : start + int(q)]
        draws.append(draw_entry(int(sizes[e.name]), int(q), rng, e.replacement, stratified, out))
        start += int(q)
    entry_dtype = np.int16 if len(names) < 2**15 else np.int32
    if stratified:
        entry_ids, index = _stratified(config, names, counts, draws, int(epoch), alloc, entry_dtype)
    else:
        entry_ids, index = _shuffled(config, counts, packed, int(epoch), alloc, entry_dtype)
    return EpochPlan(
        entry=entry_ids,
        index=index,
        names=names,
        quotas=tuple(int(c) for c in counts),
        sizes=tuple(int(sizes[n]) for n in names),
        seed=config.seed,
        epoch=int(epoch),
        domains=tuple(d for d, _ in entries),
    )


_INDEX_BITS = 40  # record indices < 2**40 (a trillion records per dataset); entry ids in the bits above


_SLICE = 1 << 20  # positions converted per step when the arrays are memory-mapped


class _Arrays:
    """New arrays in memory, or as memory-mapped files in a scratch folder."""

    def __init__(self, scratch: Path | None) -> None:
        self.scratch = scratch

    def new(self, name: str, n: int, dtype: Any) -> np.ndarray:
        if self.scratch is None or n == 0:
            return np.empty(n, dtype=dtype)
        self.scratch.mkdir(parents=True, exist_ok=True)
        return np.lib.format.open_memmap(self.scratch / f"{name}.npy", mode="w+", dtype=dtype, shape=(n,))

    def steps(self, n: int) -> range:
        return range(0, n, _SLICE if self.scratch is not None else max(n, 1))


def _shuffled(
    config: FusionConfig, counts: np.ndarray, packed: np.ndarray, epoch: int, alloc: _Arrays, entry_dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """One in-place shuffle of packed (entry << 40 | index) values: no gathers through a permutation."""
    start = 0
    for k, q in enumerate(counts):
        packed[start : start + int(q)] |= np.int64(k) << np.int64(_INDEX_BITS)
        start += int(q)
    # a plain ndarray view: numpy shuffles an ndarray subclass (a memory map) element by element in Python
    rng_for("order", config.seed, epoch).shuffle(np.asarray(packed))
    n = len(packed)
    entry_ids, index = alloc.new("entry", n, entry_dtype), alloc.new("index", n, np.int64)
    for at in alloc.steps(n):
        part = packed[at : at + _SLICE] if alloc.scratch is not None else packed
        entry_ids[at : at + len(part)] = part >> np.int64(_INDEX_BITS)
        index[at : at + len(part)] = part & np.int64((1 << _INDEX_BITS) - 1)
    return entry_ids, index


def _stratified(
    config: FusionConfig,
    names: tuple[str, ...],
    counts: np.ndarray,
    draws: list[np.ndarray],
    epoch: int,
    alloc: _Arrays,
    entry_dtype: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Sort the draws by `(j + u_k) / q_k` as 44-bit fixed point, ties broken by entry order.

    Keys are packed as `fixed << 16 | k` and sorted as plain integers (much faster than an argsort); each
    entry's draws then fill its positions in their own order, since an entry's keys increase with j.
    """
    if len(names) >= 1 << 16:
        raise VlmdataError(
            codes.SIZES_MISMATCH, "stratified interleaving supports at most 65535 entries", value=len(names)
        )
    n = int(counts.sum())
    merged = alloc.new("keys", n, np.int64)
    start = 0
    for k, (name, q) in enumerate(zip(names, counts, strict=True)):
        q = int(q)
        if q == 0:
            continue
        offset = rng_for("stratify", config.seed, epoch, name).random()
        for at in alloc.steps(q):
            j = np.arange(at, min(q, at + (_SLICE if alloc.scratch is not None else q)), dtype=np.float64)
            fixed = np.floor((j + offset) / q * float(1 << 44)).astype(np.int64)
            merged[start + at : start + at + len(j)] = (fixed << np.int64(16)) | np.int64(k)
        start += q
    merged.sort()  # keys are unique: one order whatever the algorithm
    entry_ids, index = alloc.new("entry", n, entry_dtype), alloc.new("index", n, np.int64)
    taken = np.zeros(len(names), np.int64)  # draws of each entry placed so far
    for at in alloc.steps(n):
        part = merged[at : at + _SLICE] if alloc.scratch is not None else merged
        ids = (part & np.int64(0xFFFF)).astype(entry_dtype)
        entry_ids[at : at + len(part)] = ids
        out = index[at : at + len(part)]
        for k, d in enumerate(draws):
            mine = ids == k
            m = int(np.count_nonzero(mine))
            if m:
                out[mine] = d[taken[k] : taken[k] + m]
                taken[k] += m
    return entry_ids, index


class ObjectSubsetter:
    """`max_objects` subsets for one (seed, epoch, entry): vectorised over many records at once.

    Each object j of record r gets the key `splitmix64(h(r) + j)`, with h(r) the first 8 bytes of
    sha256(prefix + record id); a record keeps its `cap` objects of smallest key, in their original order.
    The keys depend only on (seed, epoch, entry, record id, j), so a record's subset is the same in the offline
    writer, in every worker, and on every read within the epoch.
    """

    def __init__(self, seed: int, epoch: int, entry_name: str) -> None:
        prefix = json.dumps(
            [PLAN_VERSION, "objects", seed, int(epoch), entry_name], separators=(",", ":"), ensure_ascii=False
        )
        self._prefix = hashlib.sha256((prefix + "\x00").encode("utf-8"))

    def record_keys(self, record_ids: list[str]) -> np.ndarray:
        out = np.empty(len(record_ids), dtype=np.uint64)
        for i, rid in enumerate(record_ids):
            h = self._prefix.copy()
            h.update(str(rid).encode("utf-8"))
            out[i] = int.from_bytes(h.digest()[:8], "little")
        return out

    def keep_mask(self, record_ids: list[str], lengths: np.ndarray, cap: int) -> np.ndarray:
        """Boolean mask over the concatenated objects of `record_ids` (lengths[i] objects each)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        total = int(lengths.sum())
        row = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        j = np.arange(total, dtype=np.int64) - starts[row]
        keys = _splitmix64(self.record_keys(record_ids)[row] + j.astype(np.uint64))
        order = np.lexsort((j, keys, row))  # by row, then key (ties by position)
        rank = np.empty(total, dtype=np.int64)
        rank[order] = np.arange(total) - starts[row[order]]
        return rank < cap


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def object_subset(
    seed: int, epoch: int, entry_name: str, record_id: str, n_objects: int, cap: int
) -> np.ndarray:
    """Sorted indices of the objects a `max_objects` cap keeps: a seeded subset, original order kept."""
    if n_objects <= cap:
        return np.arange(n_objects)
    mask = ObjectSubsetter(seed, epoch, entry_name).keep_mask([record_id], np.array([n_objects]), cap)
    return np.nonzero(mask)[0]


def _check_sizes(config: FusionConfig, sizes: Mapping[str, int]) -> None:
    names = config.entry_names()
    missing = [n for n in names if n not in sizes]
    extra = sorted(set(sizes) - set(names))
    bad = [
        n
        for n in names
        if n in sizes and (not isinstance(sizes[n], (int, np.integer)) or not 0 <= int(sizes[n]) < 2**40)
    ]
    if missing or extra or bad:
        raise VlmdataError(
            codes.SIZES_MISMATCH,
            f"sizes do not match the config's entries (missing {missing}, unknown {extra}, invalid {bad})",
        )
