"""GKD on ms-swift, in-process: a trainer wrapper over ms-swift's GKDTrainer (not a fork) and the pipeline.

`make_gkd_trainer_cls(base)` subclasses ms-swift's trainer and replaces only `compute_loss` and
`prediction_step`; sampling, on-policy generation, encoding, the JSD itself (`_compute_jsd_loss`, ms-swift's
chunked generalised JSD) and the teacher set-up stay ms-swift's:

    loss = llm_kd_weight × JSD(student ‖ teacher; beta)        (skipped, and no metric, when the weight is 0)
         + sft_alpha × CE(student, ground truth)               (dataset batches only, as in ms-swift)
         + Σ_target weight × distance(student, teacher)        (visual KD; skipped on batches without images)

With `training.liger_kernel` (`vlmdata_fused` in the plan) the logits are never materialised: the student and the
teacher run with their output projections switched to the identity (`fused_model.head_as_identity`, so the models'
`logits` are their last hidden states), and `fused.fused_linear_loss` computes the JSD, the cross-entropy and
the argmax of the supervised positions from the hidden states and both `lm_head` weights in chunks, with the
same values and gradients as the logits path (tested). On a GPU the student also runs Liger's RMSNorm/RoPE
kernels (ms-swift's `use_liger_kernel`; its own Liger GKD loss, which refuses `sft_alpha > 0`, stays off).

Metrics go through ms-swift's `custom_metrics` (sum and count all-reduced across ranks, so every rank logs the
same value and takes the same best-checkpoint decision): `sft_loss`, `llm_kd_loss` (weighted), `vision_kd_loss`
and `vision_kd_<target>` (weighted), `token_acc` (correct/total over supervised tokens), and in runs that read
several datasets `{name}_loss` / `{name}_token_acc` per dataset (as in `sft`; each micro-batch carries its rows'
channels). The telemetry callback prefixes them once (`train/…`, `eval/…`). Evaluation skips the teacher (CE
and accuracy only) unless `rlhf.eval_teacher` is on: then it also reports `eval/llm_kd_loss` and
`eval/vision_kd_loss`, the check for a teacher/template mismatch; `eval/loss` stays the cross-entropy.

Rows come from `RolloutBatchSampler` (`vlmdata.train.data.rollout`): each epoch reads its own stream (fusion
plan, augmentation draws, curriculum step), resumable by position, and the draw log records them.
"""

from __future__ import annotations

import contextlib
from typing import Any

from swift.pipelines.train.rlhf import SwiftRLHF
from vlmdata_plugins.common.draws import DrawLog, DrawLogMixin
from vlmdata_plugins.common.fused import fused_linear_loss
from vlmdata_plugins.common.fused_model import head_as_identity, output_head, shift_for_loss
from vlmdata_plugins.common.pipeline import VlmdataPipelineMixin
from vlmdata_plugins.common.rows import open_rows
from vlmdata_plugins.common.trainer import make_trainer_cls
from vlmdata_plugins.gkd.codes import FUSED_MISMATCH
from vlmdata_plugins.gkd.loss import bounded_jsd
from vlmdata_plugins.gkd.visual import VisualKD

from vlmdata.errors import VlmdataError


def token_accuracy(logits: Any, labels: Any) -> Any:
    """Per supervised token: 1.0 where the argmax prediction equals the next label (flat float tensor)."""
    shift_logits = logits[:, :-1]
    shift_labels = labels[:, 1:].to(logits.device)
    mask = shift_labels != -100
    return (shift_logits.argmax(-1)[mask] == shift_labels[mask]).float()


def make_gkd_trainer_cls(base: type) -> type:
    import torch
    from swift.rlhf_trainers.gkd_loss import DataSource, TeacherOutput
    from swift.trainers import disable_gradient_checkpointing

    class VlmdataGKDTrainer(DrawLogMixin, base):
        vlmdata_rl: Any = None
        vlmdata_visual: VisualKD | None = None
        vlmdata_fused: bool = False
        vlmdata_use_prefetched: bool = True
        vlmdata_loader_to_device = False  # the rows' encodings are collated on the CPU, as ms-swift's own are
        vlmdata_prefetched: int = 0  # samples whose encoding came from the dataloader workers
        vlmdata_encoded_here: int = 0  # samples encoded on the training process (ms-swift's path)

        def _prepare_liger_loss(self) -> None:
            """ms-swift's Liger GKD loss stays off: `use_liger_kernel` only brings Liger's model kernels here."""
            self.use_liger_gkd_loss = False

        def to_samples(self, rows: list[Any]) -> list[Any]:
            """ms-swift's samples; a row's prefetched encoding rides along uncopied (`rows.prefetch_encoder`)."""
            pre = [r.get("vlmdata_encoded") if isinstance(r, dict) else None for r in rows]
            plain = [
                {k: v for k, v in r.items() if k != "vlmdata_encoded"} if p is not None else r
                for r, p in zip(rows, pre, strict=True)
            ]
            samples = super().to_samples(plain)
            for sample, p in zip(samples, pre, strict=True):
                if p is not None:
                    sample.extra["vlmdata_encoded"] = p
            return samples

        def _encode_samples(self, samples: list[Any]) -> Any:
            """A dataset batch whose rows were encoded in the dataloader workers is only collated here; an
            on-policy batch (generated responses), a teacher view of its own, or a template mode other than the
            workers' goes through ms-swift's encoding."""
            from swift.utils import to_device

            pre = [s.extra.get("vlmdata_encoded") for s in samples]
            template = self.template
            usable = (
                self.vlmdata_use_prefetched
                and self._data_source == DataSource.DATASET
                and bool(pre)
                and all(p is not None and p["mode"] == template.mode for p in pre)
            )
            if usable and any([s.build_teacher_view() for s in samples]):  # every sample's view is built
                usable = False
            if not usable:
                self.vlmdata_encoded_here += len(samples)
                return super()._encode_samples(samples)
            # ms-swift collates CPU tensors (its collator builds position ids next to the grid sizes)
            rows = [to_device(dict(p["encoded"]), "cpu") for p in pre]
            with self._template_context(template):
                encoded = template.data_collator(rows)
            self.vlmdata_prefetched += len(samples)
            return to_device(encoded, self.accelerator.device), None

        def _prepare_batch_inputs(self, samples: list[Any]) -> list[dict[str, Any]]:
            """ms-swift's encoded micro-batches, each with its rows' channels (per-dataset metrics)."""
            batches = super()._prepare_batch_inputs(samples)
            chunks = self.split_by_mini_batches(samples)
            for batch, chunk in zip(batches, chunks, strict=True):
                batch["vlmdata_channels"] = [s.extra.get("channel") for s in chunk]
            return batches

        def _vlmdata_per_source(self, logits: Any, labels: Any, inputs: dict[str, Any]) -> None:
            channels = inputs.get("vlmdata_channels") if self.vlmdata_per_source else None
            if channels:
                self._per_source_metrics(logits, labels, channels)

        # -- visual KD hooks, attached on first use (the teacher is prepared by then) ------------------
        def _vlmdata_visual(self, model: Any) -> VisualKD | None:
            targets = self.vlmdata_rl.visual_kd.enabled_targets()
            if not targets:
                return None
            if self.vlmdata_visual is None:
                student = self.accelerator.unwrap_model(model)
                teacher = (
                    None if self.teacher_model is None else self.accelerator.unwrap_model(self.teacher_model)
                )
                self.vlmdata_visual = VisualKD(student, teacher, targets)
            return self.vlmdata_visual

        def _vlmdata_teacher_forward(
            self, model: Any, inputs: dict[str, Any], visual: VisualKD | None
        ) -> Any:
            side = visual.side("teacher") if visual is not None else contextlib.nullcontext()
            kwargs = self.args.gradient_checkpointing_kwargs
            if self.teacher_model is None:  # LoRA student distilled from its own frozen base
                unwrapped = self.accelerator.unwrap_model(model)
                adapter = (
                    unwrapped.disable_adapter()
                    if self._teacher_use_disable_adapter
                    else contextlib.nullcontext()
                )
                with torch.no_grad(), adapter, disable_gradient_checkpointing(model, kwargs), side:
                    return model(**inputs)
            load = (
                self.load_teacher_model_context()
                if self.args.offload_teacher_model
                else contextlib.nullcontext()
            )
            with torch.no_grad(), load, disable_gradient_checkpointing(self.teacher_model, kwargs), side:
                return self.teacher_model(**inputs)

        def _compute_jsd_loss(self, student_logits: Any, teacher_output: Any, labels: Any) -> Any:
            """Full-vocabulary JSD with memory bounded by one chunk (`loss.bounded_jsd`); top-k is ms-swift's."""
            if self.gkd_logits_topk is not None:
                return super()._compute_jsd_loss(student_logits, teacher_output, labels)
            shifted = torch.roll(labels, shifts=-1, dims=1)
            teacher_output.labels = torch.roll(teacher_output.labels, shifts=-1, dims=1)
            return bounded_jsd(student_logits, teacher_output, shifted, self.beta, self.temperature)

        def _vlmdata_visual_kd(self, visual: VisualKD) -> Any:
            """The visual KD terms of this step summed (0 when none fired), each logged."""
            parts = visual.losses()
            if not parts:
                return 0.0
            total = sum(parts.values())
            self._vlmdata_metric("vision_kd_loss", total)
            for name, value in parts.items():
                self._vlmdata_metric(f"vision_kd_{name}", value)
            return total

        def _vlmdata_metric(self, name: str, value: Any) -> None:
            mode = "train" if self.model.training else "eval"
            self.custom_metrics[mode][name].update(
                value.detach().float() if hasattr(value, "detach") else value
            )

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if self.vlmdata_fused and self.gkd_logits_topk is None:
                return self._vlmdata_fused_loss(model, inputs, return_outputs)
            rl = self.vlmdata_rl
            model_inputs = inputs["model_inputs"]
            gkd_batch = inputs["gkd_batch"]
            teacher_inputs = inputs["teacher_model_inputs"]
            labels = model_inputs["labels"]
            visual = self._vlmdata_visual(model)
            if visual is not None:
                visual.clear()
            outputs = model(**model_inputs)  # labels included: the model's own CE is the SFT term
            logits = outputs.logits
            loss = logits.sum() * 0.0  # keeps the graph even when every term is skipped for this batch
            dataset_batch = gkd_batch.data_source != DataSource.STUDENT
            if dataset_batch:
                self._vlmdata_metric("sft_loss", outputs.loss)
                if rl.sft_alpha > 0:
                    loss = loss + rl.sft_alpha * outputs.loss
            saw_images = visual is not None and any(visual.captures["student"].values())
            if rl.llm_kd_weight > 0 or (visual is not None and saw_images):
                t_fwd = {k: v for k, v in teacher_inputs.items() if k != "labels"}
                teacher = self._vlmdata_teacher_forward(model, t_fwd, visual)
                if rl.llm_kd_weight > 0:
                    jsd = self._compute_jsd_loss(
                        logits,
                        TeacherOutput(full_logits=teacher.logits, labels=teacher_inputs["labels"]),
                        labels,
                    )
                    weighted = rl.llm_kd_weight * jsd
                    loss = loss + weighted
                    self._vlmdata_metric("llm_kd_loss", weighted)
                if visual is not None and saw_images:
                    loss = loss + self._vlmdata_visual_kd(visual)
            if visual is not None:
                visual.clear()
            with torch.no_grad():
                self._vlmdata_metric("token_acc", token_accuracy(logits, labels))
            self._vlmdata_per_source(logits, labels, inputs)
            return (loss, outputs) if return_outputs else loss

        def _vlmdata_fused_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            """The same loss as `compute_loss` from hidden states and `lm_head` weights (no logits)."""
            rl = self.vlmdata_rl
            model_inputs = inputs["model_inputs"]
            teacher_inputs = inputs["teacher_model_inputs"]
            labels = model_inputs["labels"]
            dataset_batch = inputs["gkd_batch"].data_source != DataSource.STUDENT
            visual = self._vlmdata_visual(model)
            if visual is not None:
                visual.clear()
            head = output_head(model)
            with head_as_identity(head):
                outputs = model(**{k: v for k, v in model_inputs.items() if k != "labels"})
            hidden = outputs.logits
            outputs["logits"] = (
                None  # item, not attribute: a ModelOutput keeps a key set to None by attribute
            )
            hs, targets, _ = shift_for_loss(hidden, labels)
            loss = hidden.sum() * 0.0  # keeps the graph even when every term is skipped for this batch
            saw_images = visual is not None and any(visual.captures["student"].values())
            ht = wt = None
            if rl.llm_kd_weight > 0 or saw_images:
                teacher_model = self.teacher_model if self.teacher_model is not None else model
                t_head = output_head(teacher_model)
                t_fwd = {k: v for k, v in teacher_inputs.items() if k != "labels"}
                with head_as_identity(t_head):
                    teacher = self._vlmdata_teacher_forward(model, t_fwd, visual)
                if rl.llm_kd_weight > 0:
                    ht, _, _ = shift_for_loss(teacher.logits, teacher_inputs["labels"])
                    wt = t_head.weight
                    if ht.shape[0] != hs.shape[0]:
                        raise VlmdataError(
                            FUSED_MISMATCH,
                            f"teacher scores {ht.shape[0]} tokens, student {hs.shape[0]}",
                        )
                del teacher
            result = fused_linear_loss(
                hs,
                head.weight,
                targets,
                ht,
                wt,
                beta=self.beta,
                temperature=self.temperature,
                ce_grad=dataset_batch and rl.sft_alpha > 0,
            )
            count = max(result.count, 1)
            sft = result.ce_sum / count
            outputs["loss"] = sft
            if dataset_batch:
                self._vlmdata_metric("sft_loss", sft)
                if rl.sft_alpha > 0:
                    loss = loss + rl.sft_alpha * sft
            if ht is not None:
                weighted = rl.llm_kd_weight * (result.jsd_sum / count)
                loss = loss + weighted
                self._vlmdata_metric("llm_kd_loss", weighted)
            if visual is not None and saw_images:
                loss = loss + self._vlmdata_visual_kd(visual)
            if visual is not None:
                visual.clear()
            self._vlmdata_metric("token_acc", (result.predictions == targets).float())
            channels = inputs.get("vlmdata_channels") if self.vlmdata_per_source else None
            if channels:
                from vlmdata_plugins.common.fused_model import metrics_from_hidden

                with torch.no_grad():
                    token_ce, preds, mask = metrics_from_hidden(hidden.detach(), head.weight, labels)
                self._per_source_from_hidden(token_ce, preds, mask, labels, channels)
            return (loss, outputs) if return_outputs else loss

        def prediction_step(
            self, model: Any, inputs: Any, prediction_loss_only: bool, ignore_keys: Any = None
        ) -> Any:
            """Evaluation on the ground truth: cross-entropy and token accuracy; the teacher only with
            `rlhf.eval_teacher` (then the KD terms too). The returned loss (`eval/loss`) is the cross-entropy."""
            lmbda: float = self.lmbda  # type: ignore[has-type]  # set by ms-swift's __init__
            self.lmbda = 0.0  # evaluation reads the dataset, never student generations
            try:
                prepared = self._prepare_inputs(inputs)
            finally:
                self.lmbda = lmbda
            model_inputs = prepared["model_inputs"]
            with torch.no_grad(), self.compute_loss_context_manager():
                if self.vlmdata_rl.eval_teacher:
                    _, outputs = self.compute_loss(model, prepared, return_outputs=True)
                    return outputs.loss.detach(), None, None
                outputs = model(**model_inputs)
            self._vlmdata_metric("sft_loss", outputs.loss)
            self._vlmdata_metric("token_acc", token_accuracy(outputs.logits, model_inputs["labels"]))
            self._vlmdata_per_source(outputs.logits, model_inputs["labels"], prepared)
            return outputs.loss.detach(), None, None

    return VlmdataGKDTrainer


class VlmdataGkdPipeline(VlmdataPipelineMixin, SwiftRLHF):
    def _prepare_dataset(self) -> list[Any]:
        rl = self.vlmdata_plan.config.rlhf
        budget = rl.max_completion_length if rl.lmbda > 0 else 0
        from swift.rl_core.data import GKDSample
        from vlmdata_plugins.common.rows import prefetch_encoder

        prefetch = prefetch_encoder(self.template, GKDSample)
        return [
            open_rows(self, split, prompt_only=False, completion_budget=budget, prefetch=prefetch)
            for split in ("train", "val")
        ]

    def build_trainer(self, train_dataset: Any, val_dataset: Any) -> Any:
        from swift.trainers import TrainerFactory

        args = self.args
        self.prepare_vlmdata_model(train_dataset)
        trainer_cls: Any = make_gkd_trainer_cls(make_trainer_cls(TrainerFactory.get_trainer_cls(args)))
        trainer_cls.vlmdata_rl = self.vlmdata_plan.config.rlhf
        fused = self.vlmdata_plan.backend_args.get("vlmdata_fused") is not None
        if fused and output_head(self.model) is None:
            from swift.utils import get_logger

            get_logger().warning(
                "training.liger_kernel: the output projection is not a plain Linear; GKD uses the logits path"
            )
            fused = False
        trainer_cls.vlmdata_fused = fused
        trainer = trainer_cls(
            model=self.model,
            args=args.training_args,
            template=self.template,
            train_dataset=train_dataset,
            eval_dataset=val_dataset,
            **self._get_trainer_kwargs(),
        )
        targs = trainer.args
        data = self.vlmdata_data
        trainer.vlmdata_sampler = data.rollout_sampler(
            prompts_per_round=targs.generation_batch_size,
            round_repeat=targs.steps_per_generation,
            world_size=targs.world_size,
            rank=targs.process_index,
            gradient_accumulation_steps=targs.gradient_accumulation_steps,
        )
        trainer.vlmdata_per_source = data.multi_source
        trainer.vlmdata_draws = DrawLog(targs.output_dir, targs.process_index)
        return self.finish_trainer(trainer, trainer.vlmdata_sampler.updates_per_epoch())


def run_gkd(plan: Any, extra_callbacks: list[Any] | None = None) -> Any:
    from vlmdata_plugins.common.run import run_training

    return run_training(plan, VlmdataGkdPipeline, extra_callbacks, args_cls="rlhf")
