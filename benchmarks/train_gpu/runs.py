"""Run configs of the benchmark and the figures computed from the workers' results."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

# The same hyperparameters for every measured run (the ms-swift peer gets them through the vlmdata plan).
LORA = {
    "train_type": "lora",
    "freeze_llm": False,
    "freeze_vit": True,
    "freeze_aligner": False,
    "target_modules": ["all-linear"],
    "modules_to_save": ["model.visual.merger"],
    "lora_rank": 32,
    "lora_alpha": 64,
    "lora_dropout": 0.0,
}


def run_config(
    model: Path,
    out: Path,
    data: dict[str, Any],
    *,
    steps: int,
    batch: int,
    grouped: bool,
    quick: bool,
    workers: int,
    plugin: str = "sft",
    rlhf: dict[str, Any] | None = None,
    nproc: int = 1,
    deepspeed: str | None = None,
    max_pixels: int = 1048576,
    modules_to_save: list[str] | None = None,
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "plugin": plugin,
        "model": {"path": str(model), "dtype": "float32" if quick else "bfloat16", "attn_impl": "sdpa"},
        "template": {"name": "target_dense_bbu", "max_pixels": max_pixels, "min_pixels": 3136},
        "global_max_length": 8192,
        "data": data,
        "tuner": dict(LORA, **({"modules_to_save": modules_to_save} if modules_to_save is not None else {})),
        "training": {
            "output_dir": str(out),
            "max_steps": steps,
            "per_device_train_batch_size": batch,
            "gradient_accumulation_steps": 1,
            "learning_rate": 1.0e-4,
            "lr_scheduler_type": "constant",
            "warmup_ratio": 0.0,
            "weight_decay": 0.0,
            "gradient_checkpointing": True,
            "logging_steps": 1,
            "save_steps": 100000,
            "dataloader_num_workers": workers,
            "seed": 0,
            "report_to": ["none"],
            "group_by_length": grouped,
            "nproc_per_node": nproc,
        },
    }
    if rlhf is not None:
        cfg["rlhf"] = rlhf
    if deepspeed:
        cfg["deepspeed"] = deepspeed
    return cfg


def summarise(result: dict[str, Any], warmup: int) -> dict[str, Any]:
    """Step time (median, mean), real / padded token rates over the steps after `warmup`, padding over all."""
    secs = result["step_seconds"][warmup:]
    real = result["real_tokens"][warmup:]
    padded = result["padded_tokens"][warmup:]
    all_real, all_padded = sum(result["real_tokens"]), sum(result["padded_tokens"])
    out = {
        "steps_measured": len(secs),
        "step_seconds_median": statistics.median(secs) if secs else None,
        "step_seconds_mean": sum(secs) / len(secs) if secs else None,
        "real_tokens_per_second": sum(real) / sum(secs) if secs and sum(secs) else None,
        "padded_tokens_per_second": sum(padded) / sum(secs) if secs and sum(secs) else None,
        "padding_tokens_all_steps": all_padded - all_real,
        "padding_share_all_steps": (all_padded - all_real) / all_padded if all_padded else None,
        "real_tokens_all_steps": all_real,
    }
    for key in ("peak_allocated_gib", "peak_reserved_gib", "peak_rss_gib", "alloc_retries", "device"):
        if key in result:
            out[key] = result[key]
    return out


def pooled(results: list[dict[str, Any]], warmup: int) -> dict[str, Any]:
    """Repeated runs of one configuration as one run: their measured steps concatenated."""
    merged: dict[str, Any] = {k: [] for k in ("step_seconds", "real_tokens", "padded_tokens")}
    for r in results:
        for k in merged:
            merged[k] += r[k][warmup:]
    out = summarise(merged, 0)
    out["runs"] = len(results)
    out["padding_tokens_all_steps"] = sum(
        sum(r["padded_tokens"]) - sum(r["real_tokens"]) for r in results
    ) // len(results)
    out["real_tokens_all_steps"] = sum(sum(r["real_tokens"]) for r in results) // len(results)
    padded = out["padding_tokens_all_steps"] + out["real_tokens_all_steps"]
    out["padding_share_all_steps"] = out["padding_tokens_all_steps"] / padded if padded else None
    for key in ("peak_allocated_gib", "peak_reserved_gib", "peak_rss_gib"):
        values = [r[key] for r in results if key in r]
        if values:
            out[key] = max(values)
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
