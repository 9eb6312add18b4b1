"""The `sft` trainer plugin: supervised fine-tuning of Qwen3-VL through ms-swift, in-process.

LoRA / DoRA / full training, the three freeze flags, `target_modules` (`all-linear` honours the freeze flags,
`lm_head` only when named), `target_regex`, `modules_to_save` (glob patterns allowed, e.g.
`model.visual.deepstack_merger_list.*`), separate LLM / ViT / aligner learning rates, cosine with warmup and a
min-LR floor, gradient checkpointing, bf16 (float32 on a CPU), DeepSpeed ZeRO-2/3 presets, resume that
continues the same data stream, per-dataset metrics for multi-dataset runs, logging.jsonl + TensorBoard + a
rich progress display. Everything is planned by `plan()` (pure: what `--dry-run` prints); `run()` trains.
Importing this module does not import torch or ms-swift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vlmdata.train.plugin import DebugSample, TrainerPlugin, TrainPlan, TrainResult


def sft_plan(config: Any, plugin: str = "sft") -> TrainPlan:
    from vlmdata.train.dataset import has_val_data

    from ..common.args import build_swift_args
    from ..common.env import image_env_for

    notes: list[str] = []
    world = config.training.world_size
    ga = config.training.resolved_gradient_accumulation_steps(world)
    if config.training.effective_batch_size is not None:
        real = ga * world * config.training.per_device_train_batch_size
        if real != config.training.effective_batch_size:
            notes.append(
                f"effective_batch_size {config.training.effective_batch_size} is not a multiple of "
                f"per_device_train_batch_size x world_size; the run uses {real}"
            )
    backend = build_swift_args(
        config, gradient_accumulation_steps=ga, has_val=has_val_data(config), notes=notes
    )
    return TrainPlan(
        plugin=plugin,
        config=config,
        output_dir=Path(config.training.output_dir),
        backend_args=backend,
        env=image_env_for(config.template),
        world_size=world,
        gradient_accumulation_steps=ga,
        notes=notes,
    )


class SftPlugin(TrainerPlugin):
    name: ClassVar[str] = "sft"
    description: ClassVar[str] = "Supervised fine-tuning (LoRA / DoRA / full) on ms-swift, in-process"
    config_model = None
    per_source_eval: ClassVar[bool] = True

    def eval_metrics(self, config: Any) -> list[str]:
        return ["loss", "token_acc"]

    def plan(self, config: Any) -> TrainPlan:
        return sft_plan(config, self.name)

    def run(self, plan: TrainPlan, extra_callbacks: list[Any] | None = None) -> TrainResult:
        from ..common.run import require_backend, run_training

        require_backend(plan)
        from ..common.pipeline import VlmdataSftPipeline

        return run_training(plan, VlmdataSftPipeline, extra_callbacks)

    def preflight(self, plan: TrainPlan) -> Any:
        from vlmdata_plugins.common.run import swift_preflight

        return swift_preflight(plan)

    def debug(self, plan: TrainPlan) -> DebugSample:
        from ..common.run import debug_sample

        return debug_sample(plan)


plugin = SftPlugin
