"""The trainer mixin every built-in plugin puts in front of its ms-swift trainer class.

- `get_train_dataloader` reads our `StreamBatchSampler` (length-grouped, deterministic, sharded by rank) instead
  of ms-swift's `BatchSamplerShard`; ms-swift's resume path calls it with `skip_batches=k`, which wraps the
  sampler in accelerate's `SkipBatchSampler`, so a resumed run reads exactly the batches the interrupted one
  would have read next (the sampler is a pure function of the epoch).
- `compute_loss` adds per-dataset metrics when the run reads several datasets (fusion runs always do): the
  token-level cross-entropy and token accuracy of the supervised tokens of each sample, grouped by the
  sample's `channel` (its source name, set by the dataset layer), accumulated in ms-swift's `custom_metrics`
  and logged as `{name}_loss` / `{name}_token_acc` (→ `train/…`, `eval/…` in logging.jsonl and TensorBoard).
  They are token-weighted means over the logging window, reduced across ranks as (sum, count) pairs, so all
  ranks log the same value and take the same best-checkpoint decision. The extra work is one cross-entropy
  over the supervised positions only, without gradients.
- `_determine_best_metric` makes rank 0's best-checkpoint decision every rank's and records it in
  `best_model.json` (`best`).
- with a fused loss (`training.liger_kernel`: Liger's kernel on a GPU, vlmdata's chunked projection on a CPU)
  the model returns no logits, so ms-swift would log no `token_acc`: the last hidden state is kept for the
  step (`fused_model.HiddenCapture`) and token accuracy and the per-dataset metrics are computed from it by the same
  chunked projection, without gradients and for the supervised positions only.
- `_prepare_gradient_checkpointing` applies `training.checkpoint_every_n_layers` after ms-swift's set-up
  (`checkpointing.py`).
- `create_optimizer` groups parameters for `vit_lr` / `aligner_lr` by their path in the base model (the
  prefixes of ms-swift's `multimodal` optimizer, matched with the PEFT wrappers `base_model.model.`,
  `.modules_to_save.default`, `.base_layer` stripped) and tags every group with `vlmdata_group`
  (`llm`/`vit`/`aligner`), so the LR each parameter gets can be checked.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any

_PEFT_NOISE = re.compile(r"^base_model\.model\.|\.modules_to_save\.default|\.original_module|\.base_layer")


def clean_param_name(name: str) -> str:
    return _PEFT_NOISE.sub("", name)


def param_group_of(name: str, vision_tower: list[str], aligner: list[str]) -> str:
    clean = clean_param_name(name)
    if any(clean == p or clean.startswith(p + ".") for p in aligner):
        return "aligner"
    if any(clean == p or clean.startswith(p + ".") for p in vision_tower):
        return "vit"
    return "llm"


class VlmdataTrainerMixin:
    vlmdata_sampler: Any = None
    vlmdata_per_source: bool = False
    vlmdata_fused: str | None = None  # `liger` | `chunked` | None (plain logits)
    # the loader moves each batch's tensors to the device; rollout trainers whose rows carry CPU tensors for
    # their own collation (gkd's prefetched encodings) turn it off and move the collated batch themselves
    vlmdata_loader_to_device: bool = True

    def get_train_dataloader(self, skip_batches: int = 0) -> Any:
        from functools import partial

        from accelerate.data_loader import SkipBatchSampler
        from swift.dataloader import DataLoaderShard
        from swift.utils import seed_worker

        args = self.args  # type: ignore[attr-defined]
        sampler = self.vlmdata_sampler
        batch_sampler = SkipBatchSampler(sampler, skip_batches=skip_batches) if skip_batches > 0 else sampler
        params: dict[str, Any] = {
            "collate_fn": self.data_collator,  # type: ignore[attr-defined]
            "num_workers": args.dataloader_num_workers,
            "pin_memory": args.dataloader_pin_memory and args.device.type == "cuda",
            "batch_sampler": batch_sampler,
        }
        if args.dataloader_num_workers > 0:
            params["persistent_workers"] = args.dataloader_persistent_workers
            params["prefetch_factor"] = args.dataloader_prefetch_factor
            params["worker_init_fn"] = partial(
                seed_worker, num_workers=args.dataloader_num_workers, rank=args.process_index
            )
        device = self.accelerator.device if self.vlmdata_loader_to_device else None  # type: ignore[attr-defined]
        return DataLoaderShard(self.train_dataset, device=device, **params)  # type: ignore[attr-defined]

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        is_dict = isinstance(inputs, dict)
        channels = inputs.get("channel") if self.vlmdata_per_source and is_dict else None
        labels = inputs.get("labels") if is_dict else None
        keep = inputs.get("logits_to_keep") if is_dict else None
        fused = self.vlmdata_fused is not None and labels is not None
        if (channels is None or labels is None) and not fused:
            return super().compute_loss(  # type: ignore[misc]
                model,
                inputs,
                return_outputs=return_outputs,
                num_items_in_batch=num_items_in_batch,
            )
        from .fused_model import HiddenCapture

        with HiddenCapture(model) if fused else _nothing() as capture:
            loss, outputs = super().compute_loss(  # type: ignore[misc]
                model,
                inputs,
                return_outputs=True,
                num_items_in_batch=num_items_in_batch,
            )
        logits = getattr(outputs, "logits", None)
        if logits is None and isinstance(outputs, dict):
            logits = outputs.get("logits")
        if logits is not None:
            if channels is not None:
                self._per_source_metrics(logits, labels, channels)
        elif capture is not None and capture.hidden is not None:
            from .fused_model import kept_positions

            self._fused_metrics(model, kept_positions(capture.hidden, keep), labels, channels)
        return (loss, outputs) if return_outputs else loss

    def _fused_metrics(self, model: Any, hidden: Any, labels: Any, channels: list[Any] | None) -> None:
        """Token accuracy (as ms-swift computes it from logits) and per-dataset metrics, from the hidden state."""
        import torch
        from swift.metrics.acc import compute_acc

        from .fused_model import metrics_from_hidden, output_head

        head = output_head(model)
        if head is None or hidden.shape[:2] != labels.shape:
            return
        token_ce, preds, mask = metrics_from_hidden(hidden, head.weight, labels)
        full = torch.full_like(labels, -100)
        full[:, :-1][mask] = preds.to(labels.device)  # compute_acc compares preds[:, :-1] with labels[:, 1:]
        mode = "train" if self.model.training else "eval"  # type: ignore[attr-defined]
        acc_strategy = getattr(self.args, "acc_strategy", "token")  # type: ignore[attr-defined]
        for k, v in compute_acc(full, labels, acc_strategy=acc_strategy).items():
            self.custom_metrics[mode][k].update(v)  # type: ignore[attr-defined]
        if channels is not None:
            self._per_source_from_hidden(token_ce, preds, mask, labels, channels)

    def _per_source_from_hidden(
        self, token_ce: Any, preds: Any, mask: Any, labels: Any, channels: list[Any]
    ) -> None:
        """`{name}_loss` / `{name}_token_acc` from `metrics_from_hidden`'s per-token values."""
        mode = "train" if self.model.training else "eval"  # type: ignore[attr-defined]
        metrics = self.custom_metrics[mode]  # type: ignore[attr-defined]
        row_of = mask.nonzero()[:, 0].to(token_ce.device)
        targets = labels[:, 1:][mask].to(token_ce.device)
        correct = (preds == targets).float()
        for i, channel in enumerate(channels):
            if channel is None or i >= labels.shape[0]:
                continue
            mine = row_of == i
            if not bool(mine.any()):
                continue
            metrics[f"{channel}_loss"].update(token_ce[mine])
            metrics[f"{channel}_token_acc"].update(correct[mine])

    def _per_source_metrics(self, logits: Any, labels: Any, channels: list[Any]) -> None:
        import torch
        import torch.nn.functional as F

        mode = "train" if self.model.training else "eval"  # type: ignore[attr-defined]
        metrics = self.custom_metrics[mode]  # type: ignore[attr-defined]
        with torch.no_grad():
            shift_logits = logits[:, :-1]
            shift_labels = labels[:, 1:].to(logits.device)
            mask = shift_labels != -100
            for i, channel in enumerate(channels):
                if channel is None or i >= shift_logits.shape[0] or not bool(mask[i].any()):
                    continue
                lg = shift_logits[i][mask[i]].float()
                lb = shift_labels[i][mask[i]]
                metrics[f"{channel}_loss"].update(F.cross_entropy(lg, lb, reduction="none"))
                metrics[f"{channel}_token_acc"].update((lg.argmax(-1) == lb).float())

    def _prepare_gradient_checkpointing(self, model: Any) -> None:
        """ms-swift's set-up, then `training.checkpoint_every_n_layers` (`checkpointing.thin_checkpointing`)."""
        on = bool(self.args.gradient_checkpointing)  # type: ignore[attr-defined]
        super()._prepare_gradient_checkpointing(model)  # type: ignore[misc]
        plan = getattr(self, "vlmdata_plan", None)
        every = plan.config.training.checkpoint_every_n_layers if plan is not None else 1
        if on and every > 1:
            from swift.utils import get_logger

            from .checkpointing import thin_checkpointing

            kept, total = thin_checkpointing(model, every)
            get_logger().info(
                f"checkpoint_every_n_layers={every}: {kept} of {total} decoder layers recompute"
            )

    def _determine_best_metric(self, metrics: dict[str, float], trial: Any) -> bool:
        """transformers' decision, then rank 0's for every rank (`best.agree_on_best`)."""
        from .best import agree_on_best

        is_new = super()._determine_best_metric(metrics=metrics, trial=trial)  # type: ignore[misc]
        return agree_on_best(self, metrics, is_new)

    def _separate_lrs(self) -> bool:
        args = self.args  # type: ignore[attr-defined]
        return getattr(args, "vit_lr", None) is not None or getattr(args, "aligner_lr", None) is not None

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        if not self._separate_lrs():
            return super().create_optimizer_and_scheduler(num_training_steps)  # type: ignore[misc]
        self.create_optimizer()
        self.create_scheduler(num_training_steps, self.optimizer)  # type: ignore[attr-defined]

    def create_optimizer(self, model: Any = None) -> Any:
        args = self.args  # type: ignore[attr-defined]
        if not self._separate_lrs():
            return super().create_optimizer(model)  # type: ignore[misc]
        from transformers import Trainer as HfTrainer

        model = model if model is not None else self.model  # type: ignore[attr-defined]
        arch = model.model_meta.model_arch
        as_list = lambda v: [v] if isinstance(v, str) else list(v or [])  # noqa: E731
        vision_tower, aligner = as_list(arch.vision_tower), as_list(arch.aligner)
        lrs = {
            "vit": args.vit_lr if args.vit_lr is not None else args.learning_rate,
            "aligner": args.aligner_lr if args.aligner_lr is not None else args.learning_rate,
            "llm": args.learning_rate,
        }
        decay = set(HfTrainer.get_decay_parameter_names(self, model))  # type: ignore[arg-type]
        groups: dict[tuple[str, bool], list[Any]] = {}
        for name, p in model.named_parameters():
            if p.requires_grad:
                groups.setdefault((param_group_of(name, vision_tower, aligner), name in decay), []).append(p)
        param_groups = [
            {
                "params": ps,
                "lr": lrs[part],
                "weight_decay": args.weight_decay if wd else 0.0,
                "vlmdata_group": part,
            }
            for (part, wd), ps in sorted(groups.items())
        ]
        optimizer_cls, optimizer_kwargs = HfTrainer.get_optimizer_cls_and_kwargs(args, model)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        self._optimizer_ori = self.optimizer
        return self.optimizer


@contextmanager
def _nothing() -> Any:
    yield None


def make_trainer_cls(base: type) -> type:
    return type(f"Vlmdata{base.__name__}", (VlmdataTrainerMixin, base), {})
