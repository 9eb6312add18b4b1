"""Length-grouped, deterministic, resumable batching over the epoch stream.

Packing is not supported, so every batch is padded to its longest sample; grouping samples of similar length
cuts the padding. The grouping is a pure function of (stream order, audited lengths, batch size, world size):

1. the epoch's stream order (already a seeded shuffle or the fusion plan) is cut into consecutive *mega-batches*
   of `mult` global batches (`mult = clamp(N / (4 · global_batch), 1, 50)`, the rule of transformers'
   `get_length_grouped_indices`);
2. inside a mega-batch positions are sorted by audited length, longest first (ties keep stream order), and cut
   into global batches of `per_device_batch × world_size`;
3. the global batch holding the epoch's longest sample is moved to the front, so a run that cannot fit its
   longest batch in memory fails in the first step, not hours in;
4. rank r takes slice r of every global batch; a short last global batch is filled up with the epoch's first
   positions when several ranks train (every rank needs a non-empty batch), and kept short on one rank.

Without audited lengths (no `length` column) batches follow the stream order unchanged.

Each index the sampler yields is a key `(epoch, position, step)`: `step` is the optimiser step that consumes
the sample (`epoch · updates_per_epoch + batch // gradient_accumulation`), which drives the augmentation
curriculum. Nothing here is stateful except `epoch`, so skipping the first k batches after a resume yields
exactly the batches the interrupted run would have seen next.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

SampleKey = tuple[int, int, int]


def group_by_length(order_lengths: np.ndarray | None, n: int, global_batch: int) -> list[np.ndarray]:
    """Global batches (arrays of stream positions) for one epoch of `n` positions."""
    positions = np.arange(n, dtype=np.int64)
    if order_lengths is None or n == 0:
        return [positions[i : i + global_batch] for i in range(0, n, global_batch)]
    mult = min(max(n // (4 * global_batch), 1), 50)
    mega = global_batch * mult
    batches: list[np.ndarray] = []
    for start in range(0, n, mega):
        chunk = positions[start : start + mega]
        # stable sort on the negated length: longest first, ties in stream order
        chunk = chunk[np.argsort(-order_lengths[chunk], kind="stable")]
        batches += [chunk[i : i + global_batch] for i in range(0, len(chunk), global_batch)]
    longest = int(np.argmax(order_lengths))
    first = next(i for i, b in enumerate(batches) if longest in b)
    if first:
        batches.insert(0, batches.pop(first))
    return batches


class StreamBatchSampler:
    """A batch sampler for `torch.utils.data.DataLoader(batch_sampler=...)` over a `Sources` stream."""

    def __init__(
        self,
        sources: Any,
        batch_size: int,
        *,
        world_size: int = 1,
        rank: int = 0,
        group_lengths: bool = True,
        gradient_accumulation_steps: int = 1,
        drop_last: bool = False,
    ) -> None:
        self.sources = sources
        self.batch_size = int(batch_size)
        self.world_size = int(world_size)
        self.rank = int(rank)
        self.group_lengths = group_lengths
        self.gradient_accumulation_steps = max(1, int(gradient_accumulation_steps))
        self.drop_last = drop_last
        self.epoch = 0
        self._cache: dict[int, list[np.ndarray]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def global_batches(self, epoch: int) -> list[np.ndarray]:
        if epoch not in self._cache:
            if len(self._cache) > 2:
                self._cache.clear()
            n = len(self.sources.order(epoch))
            lengths = self.sources.lengths(epoch) if self.group_lengths else None
            batches = group_by_length(lengths, n, self.batch_size * self.world_size)
            if batches and len(batches[-1]) < self.batch_size * self.world_size:
                if self.drop_last:
                    batches = batches[:-1]
                elif self.world_size > 1:
                    short = batches[-1]
                    fill = np.arange(self.batch_size * self.world_size - len(short), dtype=np.int64) % max(
                        n, 1
                    )
                    batches[-1] = np.concatenate([short, fill])
            self._cache[epoch] = batches
        return self._cache[epoch]

    def rank_batches(self, epoch: int) -> list[list[int]]:
        bs, r = self.batch_size, self.rank
        out = []
        for b in self.global_batches(epoch):
            mine = b[r * bs : (r + 1) * bs] if self.world_size > 1 else b
            out.append([int(p) for p in mine])
        return out

    def updates_per_epoch(self) -> int:
        return math.ceil(len(self) / self.gradient_accumulation_steps)

    def __len__(self) -> int:
        return len(self.global_batches(0))

    def __iter__(self) -> Iterator[list[SampleKey]]:
        epoch = self.epoch
        per_epoch = self.updates_per_epoch()
        for i, batch in enumerate(self.rank_batches(epoch)):
            step = epoch * per_epoch + i // self.gradient_accumulation_steps
            yield [(epoch, p, step) for p in batch]

    def padding_stats(self, epoch: int = 0) -> dict[str, float]:
        """Padding tokens with and without grouping for one epoch (for the run summary and the benchmark)."""
        lengths = self.sources.lengths(epoch)
        if lengths is None:
            return {}
        gb = self.batch_size * self.world_size

        def waste(batches: list[np.ndarray]) -> int:
            return int(sum(len(b) * int(lengths[b].max()) - int(lengths[b].sum()) for b in batches if len(b)))

        plain = waste(group_by_length(None, len(lengths), gb))
        grouped = waste(group_by_length(lengths, len(lengths), gb))
        return {
            "padding_tokens_plain": plain,
            "padding_tokens_grouped": grouped,
            "padding_reduction": (1 - grouped / plain) if plain else 0.0,
        }
