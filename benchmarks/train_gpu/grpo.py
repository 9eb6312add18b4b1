"""`benchmarks/train_gpu.py --grpo`: the summary GRPO preset on a GPU, vlmdata's `grpo` plugin vs plain ms-swift GRPO.

The run config extends `configs/grpo/summary.yaml` itself (LoRA r16, batch 8, 8 generations per prompt, a
generation batch of 64 completions, `max_completion_length` 1024, temperature 0.9, beta 0.04 with the
adapter-free base as the reference, gradient checkpointing, HF generation) and only names the model, the data,
the output folder and the step count. Data: BBU records with their JSON summaries (`vlmdata synth → validate`).
The peer is ms-swift's `SwiftRLHF` on the same prompt rows in the same order (`grpo_rows_in_stream_order`),
with the same ms-swift arguments and the reward library registered in its registry.

One generation round serves generation_batch_size / per_device_train_batch_size optimiser steps (8 with the
preset), so a step's time depends on whether it generates: `--steps 16 --warmup 8` measures exactly one full
round (the second), and step times are compared as means over it. A random model never emits its end token,
so every completion runs to `max_completion_length` (the worst case of a trained model). Generation cannot
produce vision placeholder tokens (the benchmark model's generation config suppresses them).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.train_gpu.common import ROOT, emit, sizes, worker
from benchmarks.train_gpu.data import grpo_rows_in_stream_order, summary_set, write_yaml
from benchmarks.train_gpu.model import build_model
from benchmarks.train_gpu.runs import grpo_breakdown, pooled, ratio, summarise

PRESET = ROOT / "configs" / "grpo" / "summary.yaml"


def grpo_config(args: argparse.Namespace, model: Path, data: Path, out: Path, workers: int) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "extends": str(PRESET),
        "model": {"path": str(model)},
        "global_max_length": 4096,
        "data": {"train": [str(data)]},
        "training": {
            "output_dir": str(out),
            "max_steps": args.steps,
            "save_steps": 100000,
            "report_to": ["none"],
            "dataloader_num_workers": workers,
            "seed": 0,
        },
    }
    if args.grpo_completion is not None and not args.quick:
        cfg["rlhf"] = {"max_completion_length": args.grpo_completion}
    if args.quick:  # the tiny model on a CPU: the same shape of run, a few short completions
        cfg["model"]["dtype"] = "float32"
        cfg["template"] = {"max_pixels": 65536}
        cfg["training"]["per_device_train_batch_size"] = 2
        cfg["rlhf"] = {"num_generations": 2, "generation_batch_size": 4, "max_completion_length": 8}
    return cfg


def grpo(args: argparse.Namespace, work: Path, out: Path, started: float) -> None:
    sz = sizes(args)
    t0 = time.perf_counter()
    student = build_model(work / "student", seed=0, size=sz["model"])
    emit(figure="prepare_models_seconds", value=time.perf_counter() - t0)
    t0 = time.perf_counter()
    data = summary_set(
        work, 32 if not args.quick else 8, seed=3, min_size=sz["min_size"], max_size=sz["max_size"]
    )
    config = write_yaml(
        work / "grpo.yaml", grpo_config(args, student, data, work / "runs" / "grpo", sz["workers"])
    )
    rows = grpo_rows_in_stream_order(data, config, work / "grpo_rows.jsonl")
    emit(
        figure="prepare_data_seconds",
        value=time.perf_counter() - t0,
        records=rows["records"],
        image_env=rows["env"],
    )

    raw_runs: dict[str, list[dict[str, Any]]] = {}
    durations: list[float] = []
    for i, name in enumerate(args.grpo_runs.split(",")):
        if name not in ("grpo", "swift_grpo"):
            continue
        elapsed = time.perf_counter() - started
        typical = max(durations) if durations else 0.0
        if args.time_limit and elapsed + typical > args.time_limit:
            emit(figure="run_skipped", run=name, reason="time limit", elapsed=elapsed, typical_run=typical)
            continue
        kind = "swift_grpo" if name == "swift_grpo" else "vlmdata"
        extra = [str(work / "grpo_rows.jsonl")] if kind == "swift_grpo" else []
        tag = f"{name}_{len(raw_runs.get(name, [])) + 1}"
        shutil.rmtree(work / "runs" / "grpo", ignore_errors=True)
        t_run = time.perf_counter()
        raw = worker(kind, config, work / f"{tag}.result.json", out / f"{tag}.log", sz["timeout"] * 3, *extra)
        durations.append(time.perf_counter() - t_run)
        if raw is None:
            continue
        raw_runs.setdefault(name, []).append(raw)
        emit(
            figure="grpo_run",
            run=tag,
            order=i,
            step_seconds=raw["step_seconds"],
            **summarise(raw, args.warmup),
            breakdown=grpo_breakdown(raw, args.warmup),
        )
    results = {name: pooled(rs, args.warmup) for name, rs in raw_runs.items()}
    for name, r in results.items():
        emit(figure="grpo_pooled", run=name, **r)
    a, b = results.get("grpo"), results.get("swift_grpo")
    if a and b:
        emit(
            figure="grpo_vs_swift",
            mean_step_time_ratio=ratio(a["step_seconds_mean"], b["step_seconds_mean"]),
            median_step_time_ratio=ratio(a["step_seconds_median"], b["step_seconds_median"]),
            target="mean step time within 3%",
        )
    elapsed = time.perf_counter() - started
    if args.time_limit and elapsed + 90 > args.time_limit:
        emit(figure="run_skipped", run="generation_probe", reason="time limit", elapsed=elapsed)
        return
    for row in generation_probe(student, args.quick):
        emit(figure="generation_probe", **row)


def generation_probe(model_dir: Path, quick: bool) -> list[dict[str, Any]]:
    """HF `generate` alone on the benchmark model (no LoRA wrapper): how generation time moves with the
    generation batch, the completion length and the KV cache. Prompts of 1,200 random text tokens (about a
    summary prompt with its image tokens), sampling at the preset's temperature, every completion forced to its
    full length."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from benchmarks.train_gpu.model import VISION_SPECIALS
    from vlmdata.models.tokenizer import SPECIAL_IDS

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = Qwen3VLForConditionalGeneration.from_pretrained(str(model_dir), dtype=dtype).to(device).eval()
    prompt = 1200 if not quick else 32
    settings = [(64, 256, True), (16, 256, True), (64, 64, True), (16, 32, True), (16, 32, False)]
    if quick:
        settings = [(4, 8, True), (2, 8, True), (2, 4, False)]
    g = torch.Generator().manual_seed(0)
    rows = []
    for batch, new, cache in settings:
        ids = torch.randint(0, 150000, (batch, prompt), generator=g).to(device)
        kwargs = dict(
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=True,
            temperature=0.9,
            use_cache=cache,
            suppress_tokens=[SPECIAL_IDS[t] for t in VISION_SPECIALS],
        )
        with torch.no_grad():
            model.generate(input_ids=ids[:, :16], max_new_tokens=2, do_sample=False)  # warm kernels
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
            if device == "cuda":
                torch.cuda.synchronize()
        secs = time.perf_counter() - start
        made = int(out.shape[1] - prompt) * batch
        rows.append(
            {
                "batch": batch,
                "new_tokens": new,
                "kv_cache": cache,
                "seconds": secs,
                "generated_tokens_per_second": made / secs,
                "ms_per_decoding_step": 1000 * secs / new,
            }
        )
    del model
    return rows
