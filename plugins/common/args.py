"""RunConfig → ms-swift arguments, without importing torch or ms-swift (this is what `--dry-run` prints).

Decisions (docs/train.md has the list):
- `dataset` / `val_dataset` get the placeholder `vlmdata` only because ms-swift's argument validation wants a
  name; the pipeline never loads it (`pipeline.VlmdataSftPipeline._prepare_dataset` feeds our own data).
- `max_length` = `global_max_length` (recorded in args.json and the model's max length), but the template's
  own length check is switched off at run time: its default silently drops an over-long row and its strict
  mode retries the encode three times before raising a bare ValueError. Our dataset layer checks every
  encoded sample and stops the run with the record id and length (VD550).
- images are resized through ms-swift's environment (`IMAGE_MAX_TOKEN_NUM`/`IMAGE_MIN_TOKEN_NUM`, see `env`),
  never through its `max_pixels` argument, whose pre-resize does not round to the 32 px grid and would break
  the audit's closed-form token counts.
- `training.init_from_checkpoint` (stage 2 of a recipe): a full checkpoint becomes the model folder; an
  adapter checkpoint is merged into `model.path`'s weights after loading (`pipeline`), then the configured
  tuner starts fresh on top, with a fresh optimizer and schedule.
- `model_type` is read from `model.path/config.json` (`qwen3_vl`, `qwen3_vl_moe`, …); `check_model=False`
  keeps ms-swift off the model hub.
- bf16 on a CUDA device; on a machine without one the run uses float32 (CPU bf16 matmuls are slow and
  inexact) and the plan says so in its notes.
- `gradient_accumulation_steps` is always explicit (ms-swift otherwise derives it from a batch of 16);
  `effective_batch_size` is turned into it by the config.
- a cosine schedule with `min_lr`/`min_lr_ratio` becomes transformers' `cosine_with_min_lr`.
- ms-swift's `group_by_length` and shuffling are off: our batch sampler does both, deterministically.
- `training.liger_kernel` (docs/train.md, "Fused kernels"): on a CUDA machine ms-swift's own
  `use_liger_kernel` (the HF Trainer applies Liger's Qwen3-VL patch: fused linear cross-entropy, RMSNorm, RoPE);
  without CUDA (Liger's kernels are Triton, GPU-only) vlmdata's chunked projection of the same loss. The
  choice is recorded as `vlmdata_fused` (`liger` | `chunked`), which plugins read and which is popped before
  ms-swift's arguments are built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLACEHOLDER_DATASET = "vlmdata"


def model_type_of(model_path: str) -> str | None:
    try:
        data = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model_type = data.get("model_type")
    return str(model_type) if model_type else None


def resolve_checkpoint(path: str, key: str) -> str:
    """A checkpoint folder as given, or a run folder's highest `checkpoint-N` (what the presets point at)."""
    from vlmdata.errors import Location, VlmdataError

    from .codes import RESUME_NOT_FOUND

    folder = Path(path)
    if any((folder / f).is_file() for f in ("trainer_state.json", "adapter_config.json", "config.json")):
        return str(folder)
    steps = sorted(
        (int(p.name.split("-", 1)[1]), p)
        for p in folder.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-", 1)[1].isdigit()
    )
    if not steps:
        raise VlmdataError(
            RESUME_NOT_FOUND,
            f"{folder} is neither a checkpoint nor a run folder with checkpoint-N",
            where=Location(field=f"training.{key}"),
            value=str(folder),
        )
    return str(steps[-1][1])


def init_kind(checkpoint: str) -> str:
    """`adapter` for a LoRA/DoRA checkpoint (adapter_config.json), else `full`."""
    return "adapter" if (Path(checkpoint) / "adapter_config.json").is_file() else "full"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_dtype(config: Any, notes: list[str], has_cuda: bool | None = None) -> tuple[str, bool, bool]:
    """(torch_dtype, bf16, fp16) for this machine."""
    has_cuda = cuda_available() if has_cuda is None else has_cuda
    dtype = config.model.dtype
    bf16 = config.training.bf16 if config.training.bf16 is not None else dtype == "bfloat16"
    if not has_cuda:
        if dtype in ("bfloat16", "float16") or bf16:
            notes.append(f"no CUDA device: model.dtype {dtype} runs as float32 on the CPU")
        return "float32", False, False
    if dtype == "auto":
        return "auto", bool(bf16), False
    return dtype, bool(bf16) and dtype != "float16", dtype == "float16"


def fused_args(config: Any, notes: list[str], has_cuda: bool) -> dict[str, Any]:
    """`training.liger_kernel` → Liger through ms-swift on CUDA, vlmdata's chunked projection elsewhere."""
    if not config.training.liger_kernel:
        return {}
    if has_cuda:
        return {"use_liger_kernel": True, "vlmdata_fused": "liger"}
    notes.append(
        "no CUDA device: liger_kernel runs as vlmdata's chunked linear cross-entropy (Liger's kernels are GPU-only)"
    )
    return {"vlmdata_fused": "chunked"}


def tuner_args(tuner: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tuner_type": tuner.train_type,
        "freeze_llm": tuner.freeze_llm,
        "freeze_vit": tuner.freeze_vit,
        "freeze_aligner": tuner.freeze_aligner,
        "target_modules": list(tuner.target_modules),
        "modules_to_save": list(tuner.modules_to_save),
    }
    if tuner.target_regex:
        out["target_regex"] = tuner.target_regex
    if tuner.train_type == "lora":
        out.update(
            lora_rank=tuner.lora_rank,
            lora_alpha=tuner.lora_alpha,
            lora_dropout=tuner.lora_dropout,
            use_dora=tuner.use_dora,
        )
    return out


def training_args(config: Any, gradient_accumulation_steps: int, has_val: bool) -> dict[str, Any]:
    from vlmdata.train.best import best_model_args

    t = config.training
    scheduler, scheduler_kwargs = t.backend_scheduler
    out: dict[str, Any] = {
        "output_dir": str(t.output_dir),
        "add_version": False,
        "num_train_epochs": t.num_train_epochs,
        "max_steps": t.max_steps,
        "per_device_train_batch_size": t.per_device_train_batch_size,
        "per_device_eval_batch_size": t.per_device_eval_batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": scheduler,
        "warmup_ratio": t.warmup_ratio,
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "gradient_checkpointing": t.gradient_checkpointing,
        "seed": t.seed,
        "data_seed": t.seed,
        "logging_steps": t.logging_steps,
        "save_steps": t.save_steps,
        "dataloader_num_workers": t.dataloader_num_workers,
        "report_to": [r for r in t.report_to if r != "none"] or ["none"],
        "group_by_length": False,
        "train_dataloader_shuffle": False,
        "dataloader_drop_last": False,
    }
    if scheduler_kwargs:
        out["lr_scheduler_kwargs"] = dict(scheduler_kwargs)
    if t.vit_lr is not None:
        out["vit_lr"] = t.vit_lr
    if t.aligner_lr is not None:
        out["aligner_lr"] = t.aligner_lr
    if t.save_total_limit is not None:
        out["save_total_limit"] = t.save_total_limit
    out.update(best_model_args(config, has_val))
    if t.resume_from_checkpoint:
        out["resume_from_checkpoint"] = resolve_checkpoint(t.resume_from_checkpoint, "resume_from_checkpoint")
    return out


def build_swift_args(
    config: Any,
    *,
    gradient_accumulation_steps: int,
    has_val: bool,
    notes: list[str],
    has_cuda: bool | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `swift.arguments.SftArguments` for this run (pure)."""
    from .deepspeed import deepspeed_config

    has_cuda = cuda_available() if has_cuda is None else has_cuda
    torch_dtype, bf16, fp16 = resolve_dtype(config, notes, has_cuda)
    model_path = str(config.model.path)
    init = config.training.init_from_checkpoint
    if init:
        init = resolve_checkpoint(init, "init_from_checkpoint")
    if init and init_kind(init) == "full":
        model_path = str(init)  # a full checkpoint is a complete model folder (weights, config, processor)
        notes.append(f"weights from {init} (full checkpoint); fresh optimizer and schedule")
    elif init:
        notes.append(
            f"weights from {model_path} with the adapter {init} merged in; fresh optimizer and schedule"
        )
    out: dict[str, Any] = {
        "model": model_path,
        "model_type": model_type_of(model_path),
        "torch_dtype": torch_dtype,
        "attn_impl": config.model.attn_impl,
        "bf16": bf16,
        "fp16": fp16,
        "check_model": False,
        "dataset": [PLACEHOLDER_DATASET],
        "val_dataset": [PLACEHOLDER_DATASET] if has_val else [],
        "split_dataset_ratio": 0.0,
        "max_length": config.global_max_length,
        "dataset_num_proc": 1,
        "load_args": False,
    }
    if init:
        out["vlmdata_init_from"] = init  # not an ms-swift argument: popped before SftArguments is built
    if config.template.system is not None:
        out["system"] = config.template.system
    out.update(tuner_args(config.tuner))
    out.update(training_args(config, gradient_accumulation_steps, has_val))
    out.update(fused_args(config, notes, has_cuda))
    every = config.training.checkpoint_every_n_layers
    if config.training.gradient_checkpointing and every > 1:
        notes.append(
            f"gradient checkpointing on one decoder layer in {every} of the language model (layers 0, {every}, "
            f"{2 * every}, …); the others keep their activations"
        )
    if config.deepspeed:
        out["deepspeed"] = deepspeed_config(config.deepspeed)
    if config.training.world_size > 1 and not (cuda_available() if has_cuda is None else has_cuda):
        # without it accelerate treats each CPU rank as a single process (no gloo group, no sharding)
        out["use_cpu"] = True
        notes.append("no CUDA device: the ranks train on the CPU as one gloo process group")
    return out
