"""GRPO on ms-swift, in-process, fed by vlmdata's data layer.

- Prompts: `vlmdata_plugins.common.rows.RawRows` with `prompt_only=True`: the training prompt, the reference
  target as `solution`, and the record itself (`vlmdata_record`) for the rewards. Online augmentation applies
  to the training split as in `sft`, and the reference then is the augmented record, so rewards score
  against the geometry the model actually saw. Prompt + `max_completion_length` must stay below
  `global_max_length`, else the run stops naming the record (never a silent drop).
- Rewards: each selected reward is registered in ms-swift's reward registry under `vlmdata.<name>` as a class
  named after the reward, so ms-swift logs `rewards/<name>/mean` (→ `train/rewards/<name>/mean` in
  logging.jsonl).
- Rollout dumps (`rlhf.rollout_dump_steps`): every N steps, `rollouts/step-<N>.jsonl` gets one line per
  completion with the prompt text, completion, reference and every reward.
- Order: `RolloutBatchSampler` (`vlmdata.train.data.rollout`) replaces trl's `RepeatSampler` with the same
  layout (each prompt `num_generations` times, each round once per micro-batch reusing its completions), built
  on each epoch's own stream: fusion plan, augmentation draws and curriculum step per epoch, resumable by
  position; `draws/rank-<r>.jsonl` records what every step read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swift.pipelines.train.rlhf import SwiftRLHF
from swift.rewards import orms
from swift.utils import is_master
from vlmdata_plugins.common.draws import DrawLog, DrawLogMixin
from vlmdata_plugins.common.pipeline import VlmdataPipelineMixin
from vlmdata_plugins.common.rows import open_rows
from vlmdata_plugins.common.trainer import make_trainer_cls

from vlmdata.errors import VlmdataError


class RewardAdapter:
    """ms-swift calls `reward(completions, **columns)`; ours are `(completion, record) -> float`."""

    reward_name = ""

    def __init__(self, args: Any = None) -> None:
        from vlmdata_plugins.rewards import get_reward

        self.fn = get_reward(self.reward_name)

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        records = kwargs.get("vlmdata_record")
        if records is None:
            from vlmdata_plugins.rewards.codes import NO_REFERENCE

            raise VlmdataError(
                NO_REFERENCE, "GRPO rows lack `vlmdata_record`; rewards cannot see the reference"
            )
        out = []
        for completion, raw in zip(completions, records, strict=True):
            text = completion if isinstance(completion, str) else str(completion)
            out.append(float(self.fn(text, json.loads(raw))))
        return out


def register_rewards(names: list[str]) -> None:
    for name in names:
        key = f"vlmdata.{name}"
        if key not in orms:
            orms[key] = type(name, (RewardAdapter,), {"reward_name": name})


def make_grpo_trainer_cls(base: type) -> type:
    class VlmdataGRPOTrainer(DrawLogMixin, base):
        vlmdata_dump_steps: int | None = None

        def _score_completions(self, samples: list[Any]) -> list[Any]:
            samples = super()._score_completions(samples)
            every = self.vlmdata_dump_steps
            if every and self.model.training and self.state.global_step % every == 0 and is_master():
                self._dump_rollouts(samples)
            return samples

        def _dump_rollouts(self, samples: list[Any]) -> None:
            rewards = self._rewards_per_func
            names = list(self.reward_func_names)
            rows = []
            for i, s in enumerate(samples):
                prompt = s.messages[:-1]
                row = {
                    "step": int(self.state.global_step),
                    "prompt": [
                        {
                            "role": m["role"],
                            "content": m["content"]
                            if isinstance(m["content"], str)
                            else [
                                c.get("text", "<image>") if c.get("type") == "text" else "<image>"
                                for c in m["content"]
                            ],
                        }
                        for m in prompt
                    ],
                    "completion": s.messages[-1]["content"],
                    "reference": s.extra.get("solution"),
                    "rewards": {n: float(rewards[i, j]) for j, n in enumerate(names)}
                    if i < len(rewards)
                    else {},
                }
                rows.append(json.dumps(row, ensure_ascii=False, default=str))
            out = Path(self.args.output_dir) / "rollouts" / f"step-{self.state.global_step}.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            from vlmdata.io.atomic import atomic_write_text

            atomic_write_text(out, "\n".join(rows) + "\n")

    return VlmdataGRPOTrainer


class VlmdataGrpoPipeline(VlmdataPipelineMixin, SwiftRLHF):
    def _prepare_dataset(self) -> list[Any]:
        budget = self.vlmdata_plan.config.rlhf.max_completion_length
        return [
            open_rows(self, split, prompt_only=True, completion_budget=budget) for split in ("train", "val")
        ]

    def build_trainer(self, train_dataset: Any, val_dataset: Any) -> Any:
        from swift.trainers import TrainerFactory

        args = self.args
        self.prepare_vlmdata_model(train_dataset)
        trainer_cls = make_grpo_trainer_cls(make_trainer_cls(TrainerFactory.get_trainer_cls(args)))
        trainer = trainer_cls(
            model=self.model,
            args=args.training_args,
            template=self.template,
            train_dataset=train_dataset,
            eval_dataset=val_dataset,
            **self._get_trainer_kwargs(),
        )
        trainer.vlmdata_dump_steps = self.vlmdata_plan.config.rlhf.rollout_dump_steps
        targs = trainer.args
        trainer.vlmdata_sampler = self.vlmdata_data.rollout_sampler(
            prompts_per_round=targs.generation_batch_size // trainer.num_generations,
            mini_repeat=trainer.num_generations,
            round_repeat=trainer.num_iterations * targs.steps_per_generation,
            world_size=targs.world_size,
            rank=targs.process_index,
            gradient_accumulation_steps=targs.gradient_accumulation_steps,
        )
        trainer.vlmdata_draws = DrawLog(targs.output_dir, targs.process_index)
        return self.finish_trainer(trainer, trainer.vlmdata_sampler.updates_per_epoch())


def run_grpo(plan: Any, extra_callbacks: list[Any] | None = None) -> Any:
    from vlmdata_plugins.common.run import run_training

    register_rewards(list(plan.config.rlhf.reward_funcs))
    return run_training(plan, VlmdataGrpoPipeline, extra_callbacks, args_cls="rlhf")
