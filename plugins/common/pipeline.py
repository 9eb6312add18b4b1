"""The in-process ms-swift SFT pipeline fed by vlmdata's dataset layer (no subprocess, no placeholder data).

`VlmdataSftPipeline` subclasses ms-swift's `SwiftSft` and changes only what vlmdata needs:

- `_prepare_dataset` returns our `TrainSamples` (training and evaluation) instead of loading `args.dataset`
  (the placeholder name there only satisfies ms-swift's argument validation);
- the template's own `max_length` check is off (`template.max_length = None`): the dataset layer checks
  every encoded sample against `global_max_length` and stops the run with the record id and length;
- `run` mirrors `SwiftSft.run` with four changes: LoRA targets are resolved against the loaded model first
  (`all-linear` + extra names such as `lm_head`, glob patterns in `modules_to_save`); the model always goes
  through `prepare_model` (ms-swift's adapter preparation) before the trainer is built, so a LoRA run saves
  an adapter; the trainer class gets `VlmdataTrainerMixin` (our sampler, per-dataset metrics, LR groups);
  ms-swift's tqdm/printer callbacks are replaced by `TelemetryCallback`; with `training.liger_kernel` on a
  machine without CUDA, vlmdata's chunked fused cross-entropy is installed on the model (`fused.py`);
- `_save_trainer_state` writes `train_result.json` instead of appending a log-history blob to logging.jsonl.
"""

from __future__ import annotations

import fnmatch
import os
from functools import partial
from typing import Any

from swift.pipelines.train.sft import SwiftSft
from swift.trainers import TrainerFactory
from swift.utils import get_logger, get_model_parameter_info, is_master

from vlmdata.errors import VlmdataError
from vlmdata.io.atomic import atomic_write_json

from . import codes
from .args import init_kind
from .callbacks import TelemetryCallback
from .trainer import make_trainer_cls

logger = get_logger()


def encode_messages(
    template: Any, messages: list[dict[str, Any]], image_kwargs: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {"messages": messages}
    if image_kwargs:
        row["chat_template_kwargs"] = dict(image_kwargs)
    return template.encode(row, return_length=True)


def merge_adapter(model: Any, checkpoint: str) -> Any:
    """Fold a LoRA/DoRA checkpoint (and its `modules_to_save`) into the loaded base model's weights."""
    from peft import PeftModel

    meta = {k: getattr(model, k) for k in ("model_meta", "model_info", "model_dir") if hasattr(model, k)}
    merged = PeftModel.from_pretrained(model, checkpoint, is_trainable=False).merge_and_unload()
    for k, v in meta.items():
        setattr(merged, k, v)
    return merged


def expand_module_patterns(model: Any, patterns: list[str]) -> list[str]:
    """Names with `*`/`?`/`[` are matched against the model's module names (outermost matches only)."""
    out: list[str] = []
    names = [n for n, _ in model.named_modules() if n]
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            out.append(pattern)
            continue
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        hits = [n for n in hits if not any(n.startswith(h + ".") for h in hits if h != n)]
        out += hits
    return out


def resolve_lora_targets(args: Any, model: Any) -> None:
    """`all-linear` plus explicit names → one regex; ms-swift alone would drop the extra names."""
    targets = args.target_modules
    if (
        isinstance(targets, list)
        and "all-linear" in targets
        and len(targets) > 1
        and model.model_meta.is_multimodal
    ):
        from swift.utils import get_multimodal_target_regex

        base = get_multimodal_target_regex(
            model,
            freeze_llm=args.freeze_llm,
            freeze_vit=args.freeze_vit,
            freeze_aligner=args.freeze_aligner,
            include_embedding="all-embedding" in targets,
        )
        extra = [t for t in targets if t not in ("all-linear", "all-embedding")]
        import re

        names = "|".join(re.escape(t) for t in extra)
        args.target_modules = f"(?:{base})|(?:^(?:.*\\.)?(?:{names})$)"
    if args.modules_to_save:
        args.modules_to_save = expand_module_patterns(model, list(args.modules_to_save))


class VlmdataPipelineMixin:
    """What every built-in plugin's ms-swift pipeline shares (put it before ms-swift's pipeline class).

    Subclasses supply `_prepare_dataset` (our rows or samples) and `build_trainer`; this mixin owns the run:
    the adapter merge of `init_from_checkpoint`, the template length check switched off (ours is exact and
    loud), the adapter preparation before the trainer, the curriculum horizon, the telemetry callbacks and
    `train_result.json`.
    """

    args: Any
    model: Any
    template: Any
    train_msg: dict[str, Any]

    def __init__(self, args: Any, plan: Any, data: Any, extra_callbacks: list[Any] | None = None) -> None:
        self.vlmdata_plan = plan
        self.vlmdata_data = data
        self.extra_callbacks = list(extra_callbacks or [])
        super().__init__(args)  # type: ignore[call-arg]
        self.template.max_length = None  # lengths are checked by the dataset layer (VD550), never truncated
        init = plan.backend_args.get("vlmdata_init_from")
        if init and init_kind(init) == "adapter":
            self.model = merge_adapter(self.model, init)

    def prepare_vlmdata_model(self, train_dataset: Any) -> None:
        """LoRA targets resolved against the loaded model, then ms-swift's adapter preparation (always)."""
        args = self.args
        if args.tuner_type in ("lora", "longlora"):
            resolve_lora_targets(args, self.model)
        try:
            self.model = self.prepare_model(  # type: ignore[attr-defined]
                args, self.model, template=self.template, train_dataset=train_dataset
            )
        except ValueError as exc:
            if "target modules" in str(exc).lower() or "target_modules" in str(exc):
                raise VlmdataError(codes.NO_TARGET_MODULES, str(exc).splitlines()[0]) from exc
            raise
        self.train_msg["model_parameter_info"] = get_model_parameter_info(self.model)

    def prepare_fused_loss(self) -> str | None:
        """`vlmdata_fused` of the plan; `chunked` installs vlmdata's fused cross-entropy on the model."""
        mode = self.vlmdata_plan.backend_args.get("vlmdata_fused")
        if mode == "chunked":
            from .fused_model import install_fused_ce

            if not install_fused_ce(self.model):
                logger.warning(
                    "training.liger_kernel: the output projection is not a plain Linear (LoRA or "
                    "modules_to_save on lm_head?); the loss uses the model's own logits"
                )
                return None
        return mode

    def finish_trainer(self, trainer: Any, updates_per_epoch: float) -> Any:
        """Curriculum horizon, telemetry (replacing ms-swift's tqdm/printer callbacks), extra callbacks."""
        targs = trainer.args
        pipeline = self.vlmdata_data.augment_pipeline
        if pipeline is not None:  # the curriculum's horizon: the run's optimiser steps
            epochs = targs.num_train_epochs
            pipeline.total_steps = (
                targs.max_steps if targs.max_steps > 0 else max(1, int(updates_per_epoch * epochs + 0.5))
            )
        from swift.trainers.patcher import PrinterCallbackNew, ProgressCallbackNew

        trainer.remove_callback(ProgressCallbackNew)
        trainer.remove_callback(PrinterCallbackNew)
        samples_per_step = (
            targs.per_device_train_batch_size * targs.gradient_accumulation_steps * targs.world_size
        )
        from vlmdata.train.quiet import progress_enabled, user_stream

        shown = progress_enabled()
        trainer.add_callback(
            TelemetryCallback(targs.output_dir, samples_per_step, show_progress=shown, stream=user_stream())
        )
        for cb in self.extra_callbacks:
            trainer.add_callback(cb)
        trainer.vlmdata_plan = self.vlmdata_plan
        return trainer

    def build_trainer(self, train_dataset: Any, val_dataset: Any) -> Any:
        raise NotImplementedError

    def run(self) -> Any:
        train_dataset, val_dataset = self._prepare_dataset()  # type: ignore[attr-defined]
        self.args.save_args()
        trainer = self.build_trainer(train_dataset, val_dataset)
        self.trainer = trainer
        return self.train(trainer)  # type: ignore[attr-defined]

    def _save_trainer_state(self, trainer: Any) -> dict[str, Any]:
        state = trainer.state
        self._handle_trainer_state(trainer, is_master())  # type: ignore[attr-defined]
        self.train_msg.update(
            {
                "last_model_checkpoint": state.last_model_checkpoint,
                "best_model_checkpoint": state.best_model_checkpoint,
                "best_metric": state.best_metric,
                "global_step": state.global_step,
                "max_steps": state.max_steps,
                "last_logs": [h for h in state.log_history[-3:]],
            }
        )
        if is_master():
            atomic_write_json(os.path.join(trainer.args.output_dir, "train_result.json"), self.train_msg)
        return self.train_msg


class VlmdataSftPipeline(VlmdataPipelineMixin, SwiftSft):
    def _prepare_dataset(self) -> list[Any]:
        encode = partial(encode_messages, self.template)
        return [self.vlmdata_data.samples(encode, "train"), self.vlmdata_data.samples(encode, "val")]

    def build_trainer(self, train_dataset: Any, val_dataset: Any) -> Any:
        args = self.args
        self.prepare_vlmdata_model(train_dataset)
        fused = self.prepare_fused_loss()
        trainer_cls = make_trainer_cls(TrainerFactory.get_trainer_cls(args))
        trainer = trainer_cls(
            model=self.model,
            args=args.training_args,
            template=self.template,
            train_dataset=train_dataset,
            eval_dataset=val_dataset,
            **self._get_trainer_kwargs(),
        )
        plan = self.vlmdata_plan
        targs = trainer.args
        trainer.vlmdata_sampler = self.vlmdata_data.sampler(
            targs.per_device_train_batch_size,
            world_size=targs.world_size,
            rank=targs.process_index,
            gradient_accumulation_steps=targs.gradient_accumulation_steps,
        )
        trainer.vlmdata_per_source = self.vlmdata_data.multi_source
        trainer.vlmdata_fused = fused
        if plan.config.training.group_by_length:
            if self.vlmdata_data.train.lengths(0) is None:
                logger.warning(
                    "training.group_by_length is on but not every dataset has an audited `length` "
                    "column: batches follow the stream order (run `vlmdata audit --write-lengths`)"
                )
            else:
                self.train_msg["padding"] = trainer.vlmdata_sampler.padding_stats(0)
        return self.finish_trainer(trainer, trainer.vlmdata_sampler.updates_per_epoch())
