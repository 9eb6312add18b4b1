"""The trainer plugin interface: what a backend (`sft`, `gkd`, `grpo`, or a third party's) implements.

A plugin is a class registered under the `vlmdata.trainers` entry-point group (see `registry`). It has
- `name`: the entry-point name users write in `plugin:` / `--plugin`;
- `config_model`: a pydantic model (extra keys forbidden) for the plugin's own section, `rlhf:`, or None when
  the plugin takes no section (then an `rlhf:` section is a config error); `path_fields` names the keys of
  that section holding paths, which the loader resolves against the file that set them;
- `validate(config)`: cross-section checks that need the plugin's knowledge, reported with every other
  config problem before anything loads;
- `plan(config) -> TrainPlan`: pure — resolves everything (world size, gradient accumulation, scheduler,
  output folder) and builds the backend arguments, without loading a model or touching the GPU. This is
  what `vlmdata train --dry-run` prints and what tests check without a GPU;
- `run(plan) -> TrainResult`: trains;
- `debug(plan) -> DebugSample`: runs one sample through the data pipeline and the backend's encode and
  reports the decoded conversation and the image-token/grid agreement (`vlmdata train --debug`);
- `preflight(plan) -> Preflight`: every check `run` makes before its first step, without loading a model,
  and what the run will do (`vlmdata train --dry-run` prints it; `vlmdata.train.preflight`). The default
  computes only the figures that need no data; plugins that read `vlmdata.train.dataset` run the full
  preflight, and their `run` calls the same function first.
- `eval_metrics(config)`: the evaluation metrics the run logs (names without `eval_`), so
  `training.metric_for_best_model` is checked before anything loads; None (the default) accepts any name.
  `per_source_eval` says whether multi-dataset runs add `{name}_loss` / `{name}_token_acc` per dataset.

Plugin modules must not import torch or ms-swift at import time: `vlmdata plugins` and config loading import
every plugin, and they must stay fast and work without the `train` extra.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vlmdata.config.run import RunConfig
    from vlmdata.io.layered import ConfigProblem


@dataclass
class TrainPlan:
    """Everything a run needs, resolved: the validated config plus the exact backend arguments."""

    plugin: str
    config: RunConfig
    output_dir: Path
    backend_args: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    world_size: int = 1
    gradient_accumulation_steps: int = 1
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "output_dir": str(self.output_dir),
            "world_size": self.world_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "config": self.config.to_dict(),
            "backend_args": _jsonable(self.backend_args),
            "env": dict(self.env),
            "notes": list(self.notes),
        }


@dataclass
class TrainResult:
    """What a finished run left behind."""

    output_dir: Path
    global_step: int
    checkpoint_dir: Path | None = None
    adapter_dir: Path | None = None
    log_file: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class DebugSample:
    """One sample through the pipeline: decoded text (image-pad runs compressed) and the image-token check."""

    record_id: str
    text: str
    image_tokens: int
    grid_tokens: int
    tensor_shapes: dict[str, list[int]] = field(default_factory=dict)
    labels_text: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.image_tokens == self.grid_tokens and not self.problems


class TrainerPlugin(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel] | None] = None
    path_fields: ClassVar[tuple[str, ...]] = ()
    per_source_eval: ClassVar[bool] = False

    def eval_metrics(self, config: RunConfig) -> list[str] | None:
        """Evaluation metrics this run logs, without the `eval_` prefix (None: not listed, any name accepted)."""
        return None

    def validate(self, config: RunConfig) -> list[ConfigProblem]:
        """Cross-section checks only this plugin knows; returned problems join the config's error list."""
        return []

    @abstractmethod
    def plan(self, config: RunConfig) -> TrainPlan:
        """Resolve the run without side effects (no model load, no files written)."""

    @abstractmethod
    def run(self, plan: TrainPlan) -> TrainResult:
        """Train according to `plan`."""

    def preflight(self, plan: TrainPlan) -> Any:
        """What `--dry-run` checks and shows; the built-in plugins run `vlmdata.train.preflight.preflight`."""
        from vlmdata.train.preflight import basic_preflight

        return basic_preflight(plan)

    def debug(self, plan: TrainPlan) -> DebugSample:
        from vlmdata.errors import VlmdataError
        from vlmdata.train import codes

        raise VlmdataError(codes.DEBUG_UNSUPPORTED, f"plugin {self.name!r} does not implement `debug`")


def latest_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder as given, or the highest-numbered `checkpoint-N` inside a run folder.

    `training.resume_from_checkpoint` and `training.init_from_checkpoint` accept either, so a two-stage
    recipe can name the stage-1 run folder before knowing its final step.
    """
    folder = Path(path)
    steps = []
    for child in folder.glob("checkpoint-*"):
        suffix = child.name.removeprefix("checkpoint-")
        if child.is_dir() and suffix.isdigit():
            steps.append((int(suffix), child))
    return max(steps)[1] if steps else folder


_PAD_RUN = re.compile(r"((?:<\|image_pad\|>)+)")


def compress_image_pads(text: str, token: str = "<|image_pad|>") -> str:
    """`<|image_pad|>` repeated N times → `<|image_pad|>*N`, so a decoded sample fits on a screen."""
    pattern = _PAD_RUN if token == "<|image_pad|>" else re.compile(f"((?:{re.escape(token)})+)")
    return pattern.sub(lambda m: f"{token}*{len(m.group(1)) // len(token)}", text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
