"""The `grpo` trainer plugin: RL post-training with the reward library, on ms-swift's GRPO trainer, in-process.

The user names rewards from `vlmdata_plugins.rewards` in `rlhf.reward_funcs` (no plugin file to write); the
plugin registers them with ms-swift itself, passes every prompt's record (metadata, reference summary,
reference objects) to them, and logs each reward's mean in logging.jsonl. LoRA runs use the adapter-disabled
base model as the reference (no second model is loaded). Checked at config time: reward names exist,
`reward_weights` has one weight per reward, `num_generations` divides `generation_batch_size`, and a prompt
plus `max_completion_length` fits `global_max_length`'s budget at run time. Importing this module does not
import torch or ms-swift.
"""

from __future__ import annotations

from typing import Any, ClassVar

from vlmdata_plugins.grpo.config import GrpoConfig

from vlmdata.train.plugin import DebugSample, TrainerPlugin, TrainPlan, TrainResult


def _problem(config: Any, key: str, message: str, fix: str) -> Any:
    from vlmdata.config.layers import ConfigProblem

    files = getattr(config, "_files", None) or []
    return ConfigProblem(("rlhf", key), message, files[-1] if files else None, fix)


class GrpoPlugin(TrainerPlugin):
    name: ClassVar[str] = "grpo"
    description: ClassVar[str] = (
        "GRPO with rule-based rewards from the reward library, on ms-swift, in-process"
    )
    config_model = GrpoConfig

    def validate(self, config: Any) -> list[Any]:
        from vlmdata_plugins.rewards import REWARDS

        rl: GrpoConfig = config.rlhf
        problems = []
        unknown = [r for r in rl.reward_funcs if r not in REWARDS]
        if unknown:
            problems.append(
                _problem(
                    config,
                    "reward_funcs",
                    f"unknown reward(s) {unknown}",
                    "choose from: " + ", ".join(sorted(REWARDS)),
                )
            )
        gbs = self.generation_batch_size(config)
        if gbs % rl.num_generations:
            problems.append(
                _problem(
                    config,
                    "generation_batch_size",
                    f"generation_batch_size {gbs} is not divisible by num_generations {rl.num_generations}",
                    "make generation_batch_size a multiple of num_generations",
                )
            )
        per_round = config.training.per_device_train_batch_size * config.training.world_size
        if gbs % per_round:
            problems.append(
                _problem(
                    config,
                    "generation_batch_size",
                    f"generation_batch_size {gbs} is not a multiple of per_device_train_batch_size x world size ({per_round})",
                    "make it a multiple of the per-step batch across all GPUs",
                )
            )
        if rl.max_completion_length >= config.global_max_length:
            problems.append(
                _problem(
                    config,
                    "max_completion_length",
                    f"max_completion_length {rl.max_completion_length} leaves no room for the prompt "
                    f"within global_max_length {config.global_max_length}",
                    "lower max_completion_length or raise global_max_length",
                )
            )
        return problems

    @staticmethod
    def generation_batch_size(config: Any) -> int:
        rl: GrpoConfig = config.rlhf
        if rl.generation_batch_size is not None:
            return rl.generation_batch_size
        t = config.training
        return t.per_device_train_batch_size * t.world_size * t.resolved_gradient_accumulation_steps()

    def plan(self, config: Any) -> TrainPlan:
        from vlmdata_plugins.sft import sft_plan

        plan = sft_plan(config, self.name)
        rl: GrpoConfig = config.rlhf
        args = plan.backend_args
        args.update(
            rlhf_type="grpo",
            reward_funcs=[f"vlmdata.{name}" for name in rl.reward_funcs],
            reward_weights=list(rl.reward_weights) if rl.reward_weights is not None else None,
            num_generations=rl.num_generations,
            generation_batch_size=self.generation_batch_size(config),
            temperature=rl.temperature,
            top_p=rl.top_p,
            max_completion_length=rl.max_completion_length,
            beta=rl.beta,
            num_iterations=rl.num_iterations,
            epsilon=rl.epsilon,
            scale_rewards="group" if rl.scale_rewards else "none",
            use_vllm=False,
            log_completions=False,
            dataset_shuffle=False,
            # a full-parameter run with beta > 0 loads the reference model: name its type as for the policy
            ref_model_type=args.get("model_type"),
        )
        # GRPO repeats each prompt num_generations times through ms-swift's own sampler; the prompt stream is
        # the first epoch's deterministic order, so length grouping does not apply.
        plan.notes.append(
            "GRPO reads prompts in the deterministic order of the data stream; length grouping is off"
        )
        return plan

    def run(self, plan: TrainPlan, extra_callbacks: list[Any] | None = None) -> TrainResult:
        from vlmdata_plugins.grpo.pipeline import run_grpo

        return run_grpo(plan, extra_callbacks)

    def preflight(self, plan: TrainPlan) -> Any:
        from vlmdata_plugins.common.run import swift_preflight

        return swift_preflight(plan)

    def debug(self, plan: TrainPlan) -> DebugSample:
        from vlmdata_plugins.common.run import debug_sample

        return debug_sample(plan)


plugin = GrpoPlugin
