"""The `grpo` trainer plugin: RL post-training with the reward library, on ms-swift's GRPO trainer, in-process.

The user names rewards from `vlmdata_plugins.rewards` in `rlhf.reward_funcs` (no plugin file to write); the
plugin registers them with ms-swift itself, passes every prompt's record (metadata, reference summary,
reference objects) to them, and logs each reward's mean in logging.jsonl. LoRA runs use the adapter-disabled
base model as the reference (no second model is loaded). Checked at config time: reward names exist,
`reward_weights` has one weight per reward, `num_generations` divides `generation_batch_size`, the vLLM
settings fit `rlhf.rollout` and vllm is installed when a vLLM rollout is asked for; a prompt plus
`max_completion_length` fits `global_max_length`'s budget at run time. Importing this module does not
import torch or ms-swift.
"""

from __future__ import annotations

from typing import Any, ClassVar

from vlmdata_plugins.grpo.config import GrpoConfig

from vlmdata.models.qwen import over_length
from vlmdata.train.plugin import DebugSample, TrainerPlugin, TrainPlan, TrainResult


def _problem(config: Any, key: str, message: str, fix: str, code: str = "VD605") -> Any:
    from vlmdata.io.layered import ConfigProblem

    files = getattr(config, "_files", None) or []
    return ConfigProblem(("rlhf", *key.split(".")), message, files[-1] if files else None, fix, code)


# What ms-swift's GRPO trainer logs at evaluation (`eval_<name>`), besides one mean and std per reward.
EVAL_METRICS = [
    "loss",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "completions/mean_length",
    "completions/min_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "clip_ratio/low_mean",
    "clip_ratio/low_min",
    "clip_ratio/high_mean",
    "clip_ratio/high_max",
    "clip_ratio/region_mean",
]


def rollout_args(rl: GrpoConfig, global_max_length: int) -> dict[str, Any]:
    """`rlhf.rollout` as ms-swift 4.6.0's vLLM arguments (`RolloutTrainerArgumentsMixin`, `VllmArguments`)."""
    if rl.rollout == "hf":
        return {"use_vllm": False}
    if rl.rollout == "vllm_colocate":
        return {
            "use_vllm": True,
            "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": rl.vllm.gpu_memory_utilization,
            "vllm_tensor_parallel_size": rl.vllm.tensor_parallel_size,
            "vllm_max_model_len": global_max_length,
        }
    return {
        "use_vllm": True,
        "vllm_mode": "server",
        "vllm_server_host": [rl.vllm.server_host],
        "vllm_server_port": [rl.vllm.server_port],
        "vllm_server_timeout": rl.vllm.server_timeout,
    }


def rollout_problems(config: Any) -> list[Any]:
    import importlib.util

    from vlmdata_plugins.grpo.codes import VLLM_MISSING, VLLM_SETTINGS
    from vlmdata_plugins.grpo.config import COLOCATE_KEYS, SERVER_KEYS

    rl: GrpoConfig = config.rlhf
    problems = []
    given = rl.vllm.model_fields_set
    wrong = {
        "hf": COLOCATE_KEYS + SERVER_KEYS,
        "vllm_colocate": SERVER_KEYS,
        "vllm_server": COLOCATE_KEYS,
    }[rl.rollout]
    for key in (k for k in wrong if k in given):
        problems.append(
            _problem(
                config,
                f"vllm.{key}",
                f"`vllm.{key}` has no effect with `rollout: {rl.rollout}`",
                "remove it, or pick the rollout mode it belongs to",
                VLLM_SETTINGS.code,
            )
        )
    if rl.rollout != "hf" and importlib.util.find_spec("vllm") is None:
        problems.append(
            _problem(
                config,
                "rollout",
                f"`rollout: {rl.rollout}` needs the vllm package, which is not installed",
                VLLM_MISSING.fix,
                VLLM_MISSING.code,
            )
        )
    return problems


class GrpoPlugin(TrainerPlugin):
    name: ClassVar[str] = "grpo"
    description: ClassVar[str] = (
        "GRPO with rule-based rewards from the reward library, on ms-swift, in-process"
    )
    config_model = GrpoConfig

    def validate(self, config: Any) -> list[Any]:
        from vlmdata_plugins.rewards import REWARDS

        from vlmdata.io.layered import ConfigProblem
        from vlmdata.train.dataset import has_val_data

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
        problems += rollout_problems(config)
        t = config.training
        if t.eval_strategy != "no" and has_val_data(config):
            per_eval = t.per_device_eval_batch_size * t.world_size
            if per_eval % rl.num_generations:
                problems.append(
                    ConfigProblem(
                        ("training", "per_device_eval_batch_size"),
                        f"evaluation generates {rl.num_generations} completions per prompt, but the evaluation "
                        f"batch over all GPUs is {per_eval}",
                        None,
                        f"make per_device_eval_batch_size x world size a multiple of {rl.num_generations}",
                    )
                )
        if config.training.liger_kernel:
            files = getattr(config, "_files", None) or []
            problems.append(
                ConfigProblem(
                    ("training", "liger_kernel"),
                    "liger_kernel applies to the sft and gkd plugins; the grpo plugin does not wire a fused "
                    "GRPO loss (its logits cover the completion tokens only)",
                    files[-1] if files else None,
                    "remove training.liger_kernel from the GRPO config",
                )
            )
        if over_length(rl.max_completion_length, config.global_max_length):
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

    def eval_metrics(self, config: Any) -> list[str]:
        rl: GrpoConfig = config.rlhf
        names = list(EVAL_METRICS)
        for reward in rl.reward_funcs:
            names += [f"rewards/{reward}/mean", f"rewards/{reward}/std"]
        return names + (["kl"] if rl.beta > 0 else [])

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
            log_completions=False,
            dataset_shuffle=False,
            # a full-parameter run with beta > 0 loads the reference model: name its type as for the policy
            ref_model_type=args.get("model_type"),
        )
        args.update(rollout_args(rl, config.global_max_length))
        plan.notes.append(
            "GRPO reads each epoch's prompts in the order of that epoch's data stream (fusion plan or seeded "
            "order, augmentation and curriculum per epoch); length grouping does not apply"
        )
        if rl.rollout != "hf":
            mode = (
                "in the training processes"
                if rl.rollout == "vllm_colocate"
                else "on a `swift rollout` server"
            )
            plan.notes.append(f"completions are generated by vLLM {mode}")
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
