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
    liger: bool = False,
    checkpointing: bool = True,
    checkpoint_every: int = 1,
    accumulation: int = 1,
    template: str = "target_dense_bbu",
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "plugin": plugin,
        "model": {"path": str(model), "dtype": "float32" if quick else "bfloat16", "attn_impl": "sdpa"},
        "template": {"name": template, "max_pixels": max_pixels, "min_pixels": 3136},
        "global_max_length": 8192,
        "data": data,
        "tuner": dict(LORA, **({"modules_to_save": modules_to_save} if modules_to_save is not None else {})),
        "training": {
            "output_dir": str(out),
            "max_steps": steps,
            "per_device_train_batch_size": batch,
            "gradient_accumulation_steps": accumulation,
            "learning_rate": 1.0e-4,
            "lr_scheduler_type": "constant",
            "warmup_ratio": 0.0,
            "weight_decay": 0.0,
            "gradient_checkpointing": checkpointing,
            "checkpoint_every_n_layers": checkpoint_every,
            "liger_kernel": liger,
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


def flop_totals(result: dict[str, Any], warmup: int) -> dict[str, float]:
    steps = (result.get("flops") or [])[warmup:]
    return {k: sum(s.get(k, 0.0) for s in steps) for k in ("train", "forward")}


def summarise(result: dict[str, Any], warmup: int) -> dict[str, Any]:
    """Step time (median, mean), real / padded token rates and MFU over the steps after `warmup`, padding
    over all steps."""
    from benchmarks.train_gpu.flops import peak_flops

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
    if "flops" in result and secs and sum(secs):
        total = flop_totals(result, warmup)
        rate = (total["train"] + total["forward"]) / sum(secs)
        peak = peak_flops(result.get("device"))
        out["model_tflops_per_second"] = rate / 1e12
        out["mfu"] = rate / peak if peak else None
        out["model_flops_per_step"] = (total["train"] + total["forward"]) / len(secs)
        out["train_flops_share"] = total["train"] / max(total["train"] + total["forward"], 1.0)
    return out


def losses_agree(a: dict[str, Any], b: dict[str, Any], steps: int) -> dict[str, Any]:
    """Per-step logged losses of two runs over their first `steps` steps (the same batches)."""
    la, lb = (a.get("losses") or [])[:steps], (b.get("losses") or [])[:steps]
    n = min(len(la), len(lb))
    diffs = [abs(x - y) for x, y in zip(la[:n], lb[:n], strict=True)]
    rel = [d / max(abs(y), 1e-12) for d, y in zip(diffs, lb[:n], strict=True)]
    return {
        "steps_compared": n,
        "max_abs_diff": max(diffs) if diffs else None,
        "max_rel_diff": max(rel) if rel else None,
        "mean_rel_diff": sum(rel) / n if n else None,
        "losses_a": la[:n],
        "losses_b": lb[:n],
    }


def grpo_breakdown(result: dict[str, Any], warmup: int) -> dict[str, Any]:
    """GRPO step split over the measured steps: generation, reward, reference/old-policy forwards, the rest
    of the batch preparation (encoding), and training (the remainder); generated tokens/s; every reward."""
    secs = result["step_seconds"][warmup:]
    phases = (result.get("phases") or [])[warmup:]
    total = sum(secs)
    parts = {
        k: sum(p.get(k, 0.0) for p in phases)
        for k in ("generation", "reward", "prepare_batch", "ref_old_forward")
    }
    split = {
        "generation": parts["generation"],
        "reward": parts["reward"],
        "ref_old_forward": parts["ref_old_forward"],
        "encode": parts["prepare_batch"] - parts["ref_old_forward"],
    }
    split["training"] = total - sum(split.values())
    generated = sum((result.get("generated_tokens") or [])[warmup:])
    logged = (result.get("logged") or [])[warmup:]
    rewards = sorted({k for row in logged for k in row if k.startswith("rewards/") and k.endswith("/mean")})
    return {
        "steps_measured": len(secs),
        "seconds": total,
        "split_seconds": split,
        "split_share": {k: v / total if total else None for k, v in split.items()},
        "generated_tokens": generated,
        "generated_tokens_per_second": generated / parts["generation"] if parts["generation"] else None,
        "rewards_logged_every_step": rewards,
        "reward_means": {k: [row.get(k) for row in logged] for k in rewards},
    }


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
    if all("flops" in r for r in results):
        from benchmarks.train_gpu.flops import peak_flops

        flops = sum(sum(flop_totals(r, warmup).values()) for r in results)
        secs = sum(sum(r["step_seconds"][warmup:]) for r in results)
        peak = peak_flops(results[0].get("device"))
        out["model_tflops_per_second"] = flops / secs / 1e12 if secs else None
        out["mfu"] = flops / secs / peak if secs and peak else None
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
