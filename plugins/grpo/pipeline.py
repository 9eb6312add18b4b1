"""GRPO on ms-swift, in-process, fed by vlmdata's data layer.

- Prompts: `GrpoPrompts` (a `TrainSamples`) turns each record into the raw row ms-swift's GRPO trainer
  consumes: the prompt messages (system + images + user text, exactly the training prompt), the reference
  target as `solution`, and the record itself (`vlmdata_record`, JSON, its template in `metadata._template`)
  for the rewards. Online augmentation applies to the training split as in `sft`, and the reference then is
  the augmented record, so rewards score against the geometry the model actually saw.
- Length: the prompt is encoded once with ms-swift's template; prompt + `max_completion_length` must stay
  below `global_max_length`, else the run stops naming the record (never a silent drop).
- Rewards: each selected reward is registered in ms-swift's reward registry under `vlmdata.<name>` as a class
  named after the reward, so ms-swift logs `rewards/<name>/mean` (→ `train/rewards/<name>/mean` in
  logging.jsonl).
- Rollout dumps (`rlhf.rollout_dump_steps`): every N steps, `rollouts/step-<N>.jsonl` gets one line per
  completion with the prompt text, completion, reference and every reward.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swift.pipelines.train.rlhf import SwiftRLHF
from swift.rewards import orms
from swift.utils import get_model_parameter_info, is_master
from vlmdata_plugins.common.callbacks import TelemetryCallback
from vlmdata_plugins.common.pipeline import resolve_lora_targets

from vlmdata.errors import VlmdataError
from vlmdata.io.atomic import atomic_write_json
from vlmdata.train.data.samples import TrainSamples, image_kwargs, open_image, over_length_error


class RewardAdapter:
    """ms-swift calls `reward(completions, **columns)`; ours are `(completion, record) -> float`."""

    reward_name = ""

    def __init__(self, args: Any = None) -> None:
        from vlmdata_plugins.rewards import get_reward

        self.fn = get_reward(self.reward_name)

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        records = kwargs.get("vlmdata_record")
        if records is None:
            raise VlmdataError("VD736", "GRPO rows lack `vlmdata_record`; rewards cannot see the reference")
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


class GrpoPrompts(TrainSamples):
    """Raw GRPO rows (see the module docstring) instead of encoded training samples."""

    def __init__(self, *args: Any, max_completion_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_completion_length = max_completion_length

    def build(self, source: Any, record: dict[str, Any], epoch: int, step: int | None) -> dict[str, Any]:
        from vlmdata.render import build_messages
        from vlmdata.render.templates import record_metadata
        from vlmdata.train.data.samples import _to_pil, resolve_record_template

        rid = str(record.get("id"))
        paths = list(record.get("images") or [])
        images = [open_image(p, rid, source.path) for p in paths]
        as_on_disk = [not _exif_rotated(p) for p in paths]
        if self.train and source.augment and self.augment_pipeline is not None and images:
            from vlmdata.augment import augment_record

            result = augment_record(record, images, self.augment_pipeline, epoch, step=step)
            images = [_to_pil(im) for im in result.images]
            record = result.apply_to(record)
            as_on_disk = [False] * len(images)
        template = resolve_record_template(record, source.template)
        messages = build_messages(record, template, images=images or None, system=self.system)
        from vlmdata.render import to_swift_standard

        # ms-swift keys GRPO groups by the JSON of the prompt messages and its rollout requests carry images
        # as strings: the standard form (`<image>` tags in the text) with each image as its path when the
        # file's pixels are exactly what training sees, else (EXIF-rotated or augmented) as lossless PNG
        # base64 of the pixels, since ms-swift applies no EXIF orientation itself.
        prompt, _ = to_swift_standard(messages[:-1])
        prompt_images = [p if keep else _png_base64(im) for p, im, keep in zip(paths, images, as_on_disk, strict=True)]
        target = messages[-1]["content"]
        encoded = self.encode(prompt, prompt_images, image_kwargs(record))
        length = int(encoded.get("length") or len(encoded["input_ids"])) + self.max_completion_length
        if length >= self.global_max_length:
            raise over_length_error(rid, source, length, self.global_max_length)
        meta = record_metadata(record)
        meta["_template"] = template
        reference = {k: v for k, v in record.items() if k != "length"}
        reference["metadata"] = json.dumps(meta, ensure_ascii=False)
        return {"messages": prompt, "images": prompt_images, "solution": target, "channel": source.name,
                "vlmdata_record": json.dumps(reference, ensure_ascii=False, default=str)}


def _exif_rotated(path: str) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        return im.getexif().get(0x0112, 1) not in (1, None)


def _png_base64(image: Any) -> str:
    import base64
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def make_grpo_trainer_cls(base: type) -> type:
    class VlmdataGRPOTrainer(base):  # type: ignore[misc, valid-type]
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
                    "prompt": [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str)
                                else [c.get("text", "<image>") if c.get("type") == "text" else "<image>"
                                      for c in m["content"]]} for m in prompt],
                    "completion": s.messages[-1]["content"],
                    "reference": s.extra.get("solution"),
                    "rewards": {n: float(rewards[i, j]) for j, n in enumerate(names)} if i < len(rewards) else {},
                }
                rows.append(json.dumps(row, ensure_ascii=False, default=str))
            out = Path(self.args.output_dir) / "rollouts" / f"step-{self.state.global_step}.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            from vlmdata.io.atomic import atomic_write_text

            atomic_write_text(out, "\n".join(rows) + "\n")

    return VlmdataGRPOTrainer


class VlmdataGrpoPipeline(SwiftRLHF):
    def __init__(self, args: Any, plan: Any, data: Any, extra_callbacks: list[Any] | None = None) -> None:
        self.vlmdata_plan = plan
        self.vlmdata_data = data
        self.extra_callbacks = list(extra_callbacks or [])
        super().__init__(args)
        self.template.max_length = None  # prompt + completion budget is checked by GrpoPrompts

    def _encode_prompt(self, messages: list[dict[str, Any]], images: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"messages": messages, "images": images}
        if kwargs:
            row["chat_template_kwargs"] = dict(kwargs)
        return self.template.encode(row, return_length=True)

    def _prompts(self, split: str) -> GrpoPrompts | None:
        data = self.vlmdata_data
        sources = data.train if split == "train" else data.val
        if sources is None or not sources.items:
            return None
        rl = self.vlmdata_plan.config.rlhf
        return GrpoPrompts(sources, self._encode_prompt, global_max_length=data.config.global_max_length,
                           system=data.config.template.system,
                           augment_pipeline=data.augment_pipeline if split == "train" else None,
                           train=split == "train", max_completion_length=rl.max_completion_length)

    def _prepare_dataset(self) -> list[Any]:
        return [self._prompts("train"), self._prompts("val")]

    def run(self) -> Any:
        from swift.trainers import TrainerFactory

        args = self.args
        train_dataset, val_dataset = self._prepare_dataset()
        args.save_args()
        if args.tuner_type in ("lora", "longlora"):
            resolve_lora_targets(args, self.model)
        self.model = self.prepare_model(args, self.model, template=self.template, train_dataset=train_dataset)
        self.train_msg["model_parameter_info"] = get_model_parameter_info(self.model)
        trainer_cls = make_grpo_trainer_cls(TrainerFactory.get_trainer_cls(args))
        trainer = trainer_cls(model=self.model, args=args.training_args, template=self.template,
                              train_dataset=train_dataset, eval_dataset=val_dataset, **self._get_trainer_kwargs())
        trainer.vlmdata_dump_steps = self.vlmdata_plan.config.rlhf.rollout_dump_steps
        from swift.trainers.patcher import PrinterCallbackNew, ProgressCallbackNew

        trainer.remove_callback(ProgressCallbackNew)
        trainer.remove_callback(PrinterCallbackNew)
        targs = trainer.args
        samples_per_step = targs.per_device_train_batch_size * targs.gradient_accumulation_steps * targs.world_size
        trainer.add_callback(TelemetryCallback(targs.output_dir, samples_per_step, show_progress=True))
        for cb in self.extra_callbacks:
            trainer.add_callback(cb)
        self.trainer = trainer
        return self.train(trainer)

    def _save_trainer_state(self, trainer: Any) -> dict[str, Any]:
        state = trainer.state
        self._handle_trainer_state(trainer, is_master())
        self.train_msg.update({
            "last_model_checkpoint": state.last_model_checkpoint,
            "best_model_checkpoint": state.best_model_checkpoint,
            "global_step": state.global_step,
            "max_steps": state.max_steps,
            "last_logs": [h for h in state.log_history[-3:]],
        })
        if is_master():
            atomic_write_json(Path(trainer.args.output_dir) / "train_result.json", self.train_msg)
        return self.train_msg


def run_grpo(plan: Any, extra_callbacks: list[Any] | None = None) -> Any:
    from vlmdata_plugins.common.run import run_training

    register_rewards(list(plan.config.rlhf.reward_funcs))
    return run_training(plan, VlmdataGrpoPipeline, extra_callbacks, args_cls="rlhf")
