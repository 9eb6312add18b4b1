"""The shared dataset layer of the trainer plugins: validated Arrow data in, encoded samples out.

    RunConfig.data ─► Sources (datasets or a fusion config; per-epoch deterministic order)
                  ─► StreamBatchSampler (length-grouped batches of keys (epoch, position, step)), or
                     RolloutBatchSampler (the same keys in the layout of ms-swift's GRPO/GKD trainers)
                  ─► TrainSamples[key] (lazy EXIF-aware image read → online augmentation on the training
                     split → conversation → the backend's encode → over-length check)

Every plugin (`sft`, `gkd`, `grpo`, third-party ones) goes through `open_train_data(config)`; the backend only
supplies its `encode` callable. Nothing here imports torch or ms-swift, so `--dry-run` and the tests of the
data path stay light. Details and the reasoning: docs/train.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vlmdata.train.data.preflight import check_image_budget
from vlmdata.train.data.rollout import RolloutBatchSampler
from vlmdata.train.data.sampler import StreamBatchSampler, group_by_length
from vlmdata.train.data.samples import Encoder, TrainSamples, open_image, over_length_error
from vlmdata.train.data.sources import Source, Sources, check_audited_lengths, open_sources, split_entries

__all__ = [
    "RolloutBatchSampler",
    "Source",
    "Sources",
    "StreamBatchSampler",
    "TrainData",
    "TrainSamples",
    "build_augment_pipeline",
    "check_audited_lengths",
    "check_image_budget",
    "group_by_length",
    "has_val_data",
    "open_image",
    "open_sources",
    "open_train_data",
    "over_length_error",
    "split_entries",
]


def build_augment_pipeline(augmentation: Any) -> Any:
    """The augment area's pipeline for the run's `augmentation` section (None when there is none)."""
    if augmentation is None:
        return None
    data = augmentation.model_dump(mode="json") if hasattr(augmentation, "model_dump") else dict(augmentation)
    if not data or not data.get("ops", True):
        return None
    from vlmdata.augment import AugmentPipeline

    return AugmentPipeline.from_config(data)


@dataclass
class TrainData:
    """The opened data of one run: training and evaluation sources plus the augmentation pipeline."""

    config: Any
    train: Sources
    val: Sources | None
    augment_pipeline: Any = None

    def samples(self, encode: Encoder, split: str = "train") -> TrainSamples | None:
        sources = self.train if split == "train" else self.val
        if sources is None or not sources.items:
            return None
        return TrainSamples(sources, encode, **self.sample_options(split))

    def sample_options(self, split: str = "train") -> dict[str, Any]:
        """The run's settings of a `TrainSamples` of `split` (a plugin's subclass takes the same)."""
        from vlmdata.models.qwen import effective_pixel_bounds

        return {
            "global_max_length": self.config.global_max_length,
            "system": self.config.template.system,
            "pixel_bounds": effective_pixel_bounds(self.config.template),
            "max_image_pixels": self.config.data.max_image_pixels,
            "augment_pipeline": self.augment_pipeline if split == "train" else None,
            "train": split == "train",
        }

    def sampler(
        self,
        batch_size: int,
        *,
        world_size: int = 1,
        rank: int = 0,
        gradient_accumulation_steps: int = 1,
        group_lengths: bool | None = None,
    ) -> StreamBatchSampler:
        group = self.config.training.group_by_length if group_lengths is None else group_lengths
        return StreamBatchSampler(
            self.train,
            batch_size,
            world_size=world_size,
            rank=rank,
            group_lengths=group,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )

    def rollout_sampler(
        self,
        *,
        prompts_per_round: int,
        mini_repeat: int = 1,
        round_repeat: int = 1,
        world_size: int = 1,
        rank: int = 0,
        gradient_accumulation_steps: int = 1,
    ) -> RolloutBatchSampler:
        """The per-epoch batches of a rollout trainer (GRPO, GKD): see `vlmdata.train.data.rollout`."""
        return RolloutBatchSampler(
            self.train,
            prompts_per_round=prompts_per_round,
            mini_repeat=mini_repeat,
            round_repeat=round_repeat,
            world_size=world_size,
            rank=rank,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )

    @property
    def multi_source(self) -> bool:
        """Several datasets feed the run: per-dataset metrics are logged (fusion configs, several `data.train`
        folders, or a dataset written by `vlmdata fuse`, whose records keep their `_source`)."""
        return (
            self.train.fusion is not None
            or len(self.train.items) > 1
            or any(s.tagged() for s in self.train.items)
        )

    def manifest(self) -> dict[str, Any]:
        return {"train": self.train.manifest(), "val": self.val.manifest() if self.val is not None else None}


def has_val_data(config: Any, fusion: Any = None) -> bool:
    """The run has evaluation data: `data.val`, or `val` sets of the fusion targets (and sources with
    `eval_sources: true`: `split_entries`). Reads the fusion config (unless given, already loaded), no dataset."""
    if config.data.val:
        return True
    if not config.data.fusion:
        return False
    if fusion is None:
        from vlmdata.fuse import load_fusion_config

        fusion = load_fusion_config(config.data.fusion)
    return bool(split_entries(fusion, "val"))


def open_train_data(config: Any, *, check_lengths: bool = True) -> TrainData:
    """Open the run's datasets; refuse up front records whose images cannot be encoded under the run's pixel
    budget (VD431/VD433/VD434) and, with `check_lengths`, known over-length records (`VD551`)."""
    train = open_sources(config, "train")
    val = open_sources(config, "val") if has_val_data(config, train.fusion) else None
    if check_lengths:
        check_audited_lengths(train, config.global_max_length)
        if val is not None:
            check_audited_lengths(val, config.global_max_length)
    for sources in (train, val):  # images the resize cannot encode would stop the run mid-epoch
        if sources is not None:
            check_image_budget(sources, config.template)
    return TrainData(config, train, val, build_augment_pipeline(config.augmentation))
