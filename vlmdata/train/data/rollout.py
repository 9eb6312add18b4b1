"""Batches for ms-swift's rollout trainers (GRPO, GKD) over the per-epoch stream, resumable by position.

ms-swift's GRPO and GKD trainers read their rows through trl's `RepeatSampler`, whose indices are fixed
integers: every epoch would then see epoch 0 of the data stream (the same fusion plan, the same augmentation
draws, a frozen curriculum). `RolloutBatchSampler` yields the same layout with keys `(epoch, position, step)`
instead, so `TrainSamples` builds each row from that epoch's stream, augments it with that epoch's draws, and
the curriculum reads the global optimiser step, exactly as in `sft`.

The layout (trl's `RepeatSampler` as accelerate shards it across processes):

- a *round* is `prompts_per_round` consecutive stream positions (GRPO: `generation_batch_size /
  num_generations` prompts; GKD: `per_device_train_batch_size × world_size`);
- each prompt is repeated `mini_repeat` times in place (GRPO: `num_generations`, the group; GKD: 1), giving
  `prompts_per_round × mini_repeat` samples, split into `world_size` consecutive per-process slices;
- the round is yielded `round_repeat` times (GRPO: `num_iterations × steps_per_generation`; GKD:
  `steps_per_generation`), one micro-batch per process each time: the trainer generates on the first and
  reuses its buffered completions for the others.

A short last round is filled with the epoch's first positions (every process needs a full batch and a group
must be complete), so no record of an epoch is skipped; a few are seen twice in that epoch. Every repeat of a
round carries the same key, the step of the round's first micro-batch (`epoch · updates_per_epoch +
micro_batch // gradient_accumulation_steps`), so the rows of one group are identical. Nothing here is stateful
except `epoch`: skipping the first k batches after a resume yields exactly what the interrupted run read next.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from vlmdata.train.data.sampler import SampleKey


class RolloutBatchSampler:
    def __init__(
        self,
        sources: Any,
        *,
        prompts_per_round: int,
        mini_repeat: int = 1,
        round_repeat: int = 1,
        world_size: int = 1,
        rank: int = 0,
        gradient_accumulation_steps: int = 1,
    ) -> None:
        self.sources = sources
        self.prompts_per_round = int(prompts_per_round)
        self.mini_repeat = int(mini_repeat)
        self.round_repeat = int(round_repeat)
        self.world_size = int(world_size)
        self.rank = int(rank)
        self.gradient_accumulation_steps = max(1, int(gradient_accumulation_steps))
        per_round = self.prompts_per_round * self.mini_repeat
        if min(self.prompts_per_round, self.mini_repeat, self.round_repeat, self.world_size) < 1:
            raise ValueError("rounds, repeats and the world size must be positive")
        if per_round % self.world_size:
            raise ValueError(f"{per_round} samples per round do not split over {self.world_size} processes")
        self.batch_size = per_round // self.world_size  # samples per process per micro-batch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rounds(self, epoch: int) -> list[np.ndarray]:
        """The epoch's rounds of stream positions (the last one filled with the epoch's first positions)."""
        n = len(self.sources.order(epoch))
        if n == 0:
            return []
        k = self.prompts_per_round
        count = math.ceil(n / k)
        positions = np.arange(count * k, dtype=np.int64) % n
        return [positions[i * k : (i + 1) * k] for i in range(count)]

    def __len__(self) -> int:
        return len(self.rounds(0)) * self.round_repeat

    def updates_per_epoch(self) -> int:
        return math.ceil(len(self) / self.gradient_accumulation_steps)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        epoch = self.epoch
        per_epoch = self.updates_per_epoch()
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        for r, positions in enumerate(self.rounds(epoch)):
            mine = np.repeat(positions, self.mini_repeat)[lo:hi]
            step = epoch * per_epoch + (r * self.round_repeat) // self.gradient_accumulation_steps
            batch = [(epoch, int(p), step) for p in mine]
            for _ in range(self.round_repeat):
                yield list(batch)
