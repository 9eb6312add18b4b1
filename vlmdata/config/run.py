"""The run configuration: one pydantic model per YAML section, unknown keys rejected at every level.

The sections mirror what a training run needs and nothing else: `model`, `template`, `templates` (template
files written in YAML), `global_max_length`, `data`, `augmentation`, `tuner`, `training`, `rlhf`,
`deepspeed`. Checks that only involve one section live
in that section's model (so pydantic reports them together with every other field error); checks that span
sections live in `vlmdata.config.checks`. Paths are stored as absolute strings: the loader resolves every
relative path against the file that set it before validation. Every section is a `ConfigModel`: unknown keys,
NaN/infinity and booleans written for numbers are refused, and numeric fields carry their bounds.

Two sections belong to areas above this one and stay raw data here: `rlhf` (the selected trainer plugin's
`config_model`) and `augmentation` (the augment area's `AugmentationConfig`, so `vlmdata augment` and
training read one schema). The training layer's loader (`vlmdata.train.config.load_train_config`) validates
both and puts the models in their place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from vlmdata.config.base import ConfigModel
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS
from vlmdata.render.templates import DEFAULT_TEMPLATE

DTYPE_ALIASES = {
    "bf16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float": "float32",
}
DEEPSPEED_PRESETS = ("zero0", "zero1", "zero2", "zero3", "zero2_offload", "zero3_offload")
SCHEDULERS_WITH_FLOOR = ("cosine", "cosine_with_min_lr")
MAX_PIXELS = 2**28  # per image; 16384² px, far above any Qwen3-VL budget
MAX_DECODE_PIXELS = 65535 * 65535  # the largest image a JPEG header can describe
MAX_LENGTH = 1 << 20  # tokens
MAX_BATCH = 65536
MAX_COUNT = 10**9  # steps, epochs' worth of batches, node counts


def hf_metric_name(name: str) -> str:
    """`eval/x` (logging.jsonl), `eval_x` (transformers) or `x` → `eval_x`, the name transformers selects on."""
    bare = name[len("eval/") :] if name.startswith("eval/") else name
    bare = bare[len("eval_") :] if bare.startswith("eval_") else bare
    return "eval_" + bare


class Section(ConfigModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ModelConfig(Section):
    path: str = Field(
        description="Local model folder (a Qwen3-VL checkpoint or `vlmdata tiny-model` output)."
    )
    dtype: Literal["bfloat16", "float16", "float32", "auto"] = "bfloat16"
    attn_impl: Literal["sdpa", "eager", "flash_attention_2", "flash_attention_3"] = "sdpa"

    @field_validator("dtype", mode="before")
    @classmethod
    def _alias_dtype(cls, value: Any) -> Any:
        return DTYPE_ALIASES.get(value, value) if isinstance(value, str) else value


class TemplateConfig(Section):
    name: str = Field(
        default=DEFAULT_TEMPLATE,
        description="A template name (`vlmdata prompts list`) or a template YAML file; neutral grounding by default.",
    )
    system: str | None = None
    max_pixels: int = Field(default=1048576, gt=0, le=MAX_PIXELS)
    min_pixels: int = Field(default=3136, gt=0, le=MAX_PIXELS)

    @field_validator("system")
    @classmethod
    def _plain_system(cls, value: str | None) -> str | None:
        # the system prompt is rendered into every sample: it may not write chat structure either
        if value is not None:
            from vlmdata.contract.text import text_issues

            issues = text_issues(value, "system", "system")
            if issues:
                raise ValueError(f"{issues[0].code}: {issues[0].message}")
        return value

    @model_validator(mode="after")
    def _pixels_ordered(self) -> TemplateConfig:
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) exceeds max_pixels ({self.max_pixels})")
        return self


class DataConfig(Section):
    train: list[str] = Field(default_factory=list)
    val: list[str] = Field(default_factory=list)
    fusion: str | None = None
    sample_limit: int | None = Field(
        default=None,
        gt=0,
        description="Smoke runs: each dataset keeps its first N positions of every epoch's stream (after the "
        "fusion plan or the seeded order); evaluation sets their first N records.",
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        gt=0,
        le=MAX_DECODE_PIXELS,
        description="Decompression-bomb limit (width × height) when training decodes an image; the same "
        "default as `vlmdata validate --max-image-pixels`. Raise both together for genuinely large images.",
    )

    _list = field_validator("train", "val", mode="before")(_as_list)


class TunerConfig(Section):
    train_type: Literal["lora", "full"] = "lora"
    use_dora: bool = False
    freeze_llm: bool = False
    freeze_vit: bool = True
    freeze_aligner: bool = True
    target_modules: list[str] = Field(default_factory=lambda: ["all-linear"])
    target_regex: str | None = None
    modules_to_save: list[str] = Field(default_factory=list)
    lora_rank: int = Field(default=8, gt=0, le=65536)
    lora_alpha: float = Field(default=32.0, gt=0)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)

    _list = field_validator("target_modules", "modules_to_save", mode="before")(_as_list)

    @field_validator("target_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class TrainingConfig(Section):
    output_dir: str | None = Field(
        default=None, description="Run folder; default runs/<config name> under the working directory."
    )
    num_train_epochs: float = Field(default=1.0, gt=0, le=1_000_000)
    max_steps: int = Field(
        default=-1,
        ge=-1,
        le=MAX_COUNT,
        description="-1: run num_train_epochs; otherwise stop after this many optimiser steps.",
    )
    per_device_train_batch_size: int = Field(default=1, gt=0, le=MAX_BATCH)
    per_device_eval_batch_size: int = Field(default=1, gt=0, le=MAX_BATCH)
    effective_batch_size: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    gradient_accumulation_steps: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    learning_rate: float = Field(default=1e-4, gt=0)
    vit_lr: float | None = Field(default=None, gt=0)
    aligner_lr: float | None = Field(default=None, gt=0)
    lr_scheduler_type: Literal[
        "cosine",
        "cosine_with_min_lr",
        "linear",
        "constant",
        "constant_with_warmup",
        "polynomial",
        "inverse_sqrt",
    ] = "cosine"
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    min_lr_ratio: float | None = Field(default=None, ge=0, lt=1)
    min_lr: float | None = Field(default=None, ge=0)
    weight_decay: float = Field(default=0.1, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    gradient_checkpointing: bool = True
    checkpoint_every_n_layers: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="With gradient_checkpointing: recompute only every n-th decoder layer of the language "
        "model (1 = all of them); the others keep their activations. Trades memory back for speed. "
        "docs/train.md, 'Partial checkpointing'.",
    )
    liger_kernel: bool = Field(
        default=False,
        description="Fused output projection + loss (the logits are never materialised): sft uses Liger's "
        "Qwen3-VL kernels on a GPU and vlmdata's chunked projection on a CPU; gkd uses vlmdata's fused "
        "linear JSD. docs/train.md, 'Fused kernels'.",
    )
    bf16: bool | None = Field(default=None, description="None follows model.dtype.")
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    logging_steps: int = Field(default=5, gt=0, le=MAX_COUNT)
    save_steps: int = Field(default=500, gt=0, le=MAX_COUNT)
    eval_steps: int | None = Field(
        default=None, gt=0, description="None: evaluate every save_steps when data.val is set."
    )
    save_total_limit: int | None = Field(
        default=None, gt=0, description="Keep at most N checkpoints (the best one is never deleted)."
    )
    save_strategy: Literal["steps", "epoch"] = "steps"
    eval_strategy: Literal["steps", "epoch", "no"] | None = Field(
        default=None, description="None: `steps` when the run has evaluation data, else `no`."
    )
    metric_for_best_model: str | None = Field(
        default=None,
        description="An evaluation metric the run logs (`eval_loss`, `eval/token_acc`, `eval_bbu_loss`, "
        "`eval_reward`, …), stored as `eval_<name>`; selects the best checkpoint.",
    )
    greater_is_better: bool | None = Field(
        default=None,
        description="None: inferred from the metric's name (lower for *loss, higher for *acc/reward).",
    )
    load_best_model_at_end: bool = Field(
        default=False,
        description="Reload the best checkpoint when training ends (default metric: eval_loss).",
    )
    dataloader_num_workers: int = Field(default=0, ge=0, le=256)
    group_by_length: bool = True
    resume_from_checkpoint: str | None = Field(
        default=None,
        description="Continue an interrupted run: weights, optimizer, schedule, step and data position.",
    )
    init_from_checkpoint: str | None = Field(
        default=None,
        description="Start from an earlier run's weights (stage 2 of a recipe) with a fresh optimizer and schedule.",
    )
    nproc_per_node: int = Field(default=1, gt=0, le=1024)
    nnodes: int = Field(default=1, gt=0, le=MAX_COUNT)
    node_rank: int = Field(default=0, ge=0)
    master_addr: str = "127.0.0.1"
    master_port: int = Field(default=29500, gt=0, lt=65536)
    report_to: list[str] = Field(default_factory=lambda: ["tensorboard"])

    _list = field_validator("report_to", mode="before")(_as_list)

    @field_validator("metric_for_best_model")
    @classmethod
    def _eval_metric_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip()
        if name in ("", "eval_", "eval/"):
            raise ValueError("name an evaluation metric, e.g. eval_loss")
        return hf_metric_name(name)

    @model_validator(mode="after")
    def _thinned_checkpointing_needs_checkpointing(self) -> TrainingConfig:
        if self.checkpoint_every_n_layers > 1 and not self.gradient_checkpointing:
            raise ValueError(
                f"checkpoint_every_n_layers: {self.checkpoint_every_n_layers} needs gradient_checkpointing: "
                "true (without it no layer is recomputed)"
            )
        return self

    @field_validator("report_to")
    @classmethod
    def _known_reporters(cls, value: list[str]) -> list[str]:
        allowed = {"tensorboard", "wandb", "swanlab", "none"}
        bad = [v for v in value if v not in allowed]
        if bad:
            raise ValueError(f"unknown reporter(s) {bad}; allowed: {sorted(allowed)}")
        return value

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    def resolved_gradient_accumulation_steps(self, world_size: int | None = None) -> int:
        """Gradient accumulation: explicit, or derived from `effective_batch_size` and the world size."""
        if self.effective_batch_size is None:
            return self.gradient_accumulation_steps or 1
        per_step = self.per_device_train_batch_size * (world_size or self.world_size)
        return max(1, self.effective_batch_size // per_step)

    @property
    def backend_scheduler(self) -> tuple[str, dict[str, float]]:
        """The transformers scheduler name and kwargs: a floor turns `cosine` into `cosine_with_min_lr`."""
        kwargs: dict[str, float] = {}
        if self.min_lr_ratio is not None:
            kwargs["min_lr_rate"] = self.min_lr_ratio
        if self.min_lr is not None:
            kwargs["min_lr"] = self.min_lr
        if kwargs:
            return "cosine_with_min_lr", kwargs
        return self.lr_scheduler_type, kwargs


class RunConfig(Section):
    plugin: str = "sft"
    model: ModelConfig
    template: TemplateConfig = Field(default_factory=lambda: TemplateConfig())
    templates: list[str] = Field(
        default_factory=list,
        description="Template YAML files or folders (relative to the file that lists them), known by name.",
    )
    global_max_length: int = Field(
        default=4096,
        gt=0,
        le=MAX_LENGTH,
        description="The single length knob: template max_length and model max length.",
    )
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    augmentation: Any = Field(
        default=None, description="The augment area's section; validated by its AugmentationConfig."
    )
    tuner: TunerConfig = Field(default_factory=lambda: TunerConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    rlhf: Any = Field(
        default=None, description="The selected plugin's section; validated by its config_model."
    )
    deepspeed: str | None = Field(
        default=None, description=f"One of {DEEPSPEED_PRESETS} or a DeepSpeed JSON file."
    )

    _files: list[str] = PrivateAttr(default_factory=list)

    @property
    def files(self) -> list[str]:
        """The YAML files this config was merged from, lowest layer first."""
        return list(self._files)

    @field_validator("deepspeed")
    @classmethod
    def _deepspeed_known(cls, value: str | None) -> str | None:
        if value is None or value in DEEPSPEED_PRESETS or value.endswith(".json"):
            return value
        raise ValueError(f"expected one of {list(DEEPSPEED_PRESETS)} or a path to a .json file")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-ready) of the merged, validated config, as a run folder stores it."""
        out = self.model_dump(mode="json")
        for key in ("rlhf", "augmentation"):
            value = getattr(self, key)
            if isinstance(value, BaseModel):
                out[key] = value.model_dump(mode="json")
        return out


SECTION_MODELS: dict[str, type[Section]] = {
    "model": ModelConfig,
    "template": TemplateConfig,
    "data": DataConfig,
    "tuner": TunerConfig,
    "training": TrainingConfig,
}
