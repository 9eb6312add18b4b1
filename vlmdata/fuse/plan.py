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
stream. The epoch order draws from a separate key. `max_objects` subsets draw from a key that adds the record
id, so a record's subset is the same wherever and whenever it is read within an epoch.

Order: `interleave: shuffle` permutes all draws; `stratified` gives entry k's j-th draw the key
`(j + u_k) / q_k` (u_k a seeded offset in [0, 1)) and sorts by key, spreading each entry evenly over the epoch:
every prefix of length m holds m·q_k/N ± 2 draws of entry k.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

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
        h.update(np.ascontiguousarray(self.entry, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(self.index, dtype="<i8").tobytes())
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
    pool: int, quota: int, rng: np.random.Generator, replacement: bool = False, ordered: bool = False
) -> np.ndarray:
    """`quota` record indices in [0, pool): whole passes plus a seeded remainder.

    With `ordered` the draws also come in a seeded order (stratified interleaving keeps each entry's order);
    otherwise the order is left to the epoch shuffle and the passes stay in index order (cheaper).
    """
    if quota == 0:
        return np.empty(0, dtype=np.int64)
    if replacement:
        return rng.integers(0, pool, size=quota, dtype=np.int64)
    passes, remainder = divmod(quota, pool)
    draws = np.empty(quota, dtype=np.int64)
    whole = passes * pool
    if passes:
        draws[:whole].reshape(passes, pool)[:] = np.arange(pool, dtype=np.int64)
    if remainder:
        draws[whole:] = rng.choice(pool, size=remainder, replace=False, shuffle=ordered)
    if ordered and passes:
        rng.shuffle(draws)
    return draws


def plan_epoch(config: FusionConfig, sizes: Mapping[str, int], epoch: int = 0) -> EpochPlan:
    """The exact plan of `epoch` (see the module docstring)."""
    if epoch < 0:
        raise VlmdataError(codes.SIZES_MISMATCH, "epoch must be >= 0", value=epoch)
    quotas = compute_quotas(config, sizes)
    entries = config.entries()
    names = tuple(e.name for _, e in entries)
    stratified = config.interleave == "stratified"
    draws = []
    for _, e in entries:
        rng = rng_for("entry", entry_seed(config, e.seed), int(epoch), e.name)
        draws.append(draw_entry(int(sizes[e.name]), quotas[e.name], rng, e.replacement, ordered=stratified))
    counts = np.array([quotas[n] for n in names], dtype=np.int64)
    total = int(counts.sum())
    entry_dtype = np.int16 if len(names) < 2**15 else np.int32
    if stratified:
        order = _stratified_order(config, names, counts, int(epoch))
    else:
        order = np.arange(total, dtype=np.int32 if total < 2**31 else np.int64)
        rng_for("order", config.seed, int(epoch)).shuffle(order)
    entry_ids = np.repeat(np.arange(len(names), dtype=entry_dtype), counts)[order]
    index = (np.concatenate(draws) if draws else np.empty(0, dtype=np.int64))[order]
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


def _stratified_order(
    config: FusionConfig, names: tuple[str, ...], counts: np.ndarray, epoch: int
) -> np.ndarray:
    keys = []
    for name, q in zip(names, counts, strict=True):
        q = int(q)
        if q == 0:
            keys.append(np.empty(0))
            continue
        offset = rng_for("stratify", config.seed, epoch, name).random()
        keys.append((np.arange(q, dtype=np.float64) + offset) / q)
    return np.argsort(np.concatenate(keys) if keys else np.empty(0), kind="stable")


def object_subset(
    seed: int, epoch: int, entry_name: str, record_id: str, n_objects: int, cap: int
) -> np.ndarray:
    """Sorted indices of the objects a `max_objects` cap keeps: a seeded subset, original order kept."""
    if n_objects <= cap:
        return np.arange(n_objects)
    rng = rng_for("objects", seed, int(epoch), entry_name, str(record_id))
    return np.sort(rng.choice(n_objects, size=cap, replace=False))


def _check_sizes(config: FusionConfig, sizes: Mapping[str, int]) -> None:
    names = config.entry_names()
    missing = [n for n in names if n not in sizes]
    extra = sorted(set(sizes) - set(names))
    bad = [
        n for n in names if n in sizes and (not isinstance(sizes[n], (int, np.integer)) or int(sizes[n]) < 0)
    ]
    if missing or extra or bad:
        raise VlmdataError(
            codes.SIZES_MISMATCH,
            f"sizes do not match the config's entries (missing {missing}, unknown {extra}, invalid {bad})",
        )
