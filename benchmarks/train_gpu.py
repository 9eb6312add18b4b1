"""Training on a GPU: vlmdata's `sft` plugin vs plain ms-swift, fused kernels, length grouping, GKD and GRPO cost,
peak memory and MFU; and (`--gpus 2`) a ZeRO-2 run on a fusion of text-only chat and image records.

One GPU (one device call): a randomly initialised model with the published Qwen3-VL-2B-Instruct
architecture (`benchmarks/train_gpu/model.py`), bf16, synthetic dense-caption data (1024x768-class images,
targets of 200-2000 tokens) through `vlmdata synth → validate → audit --write-lengths → export`, LoRA r32 on
all linear layers + the aligner (`model.visual.merger`) trained as a whole module, batch 8. Each run is its own
process (`benchmarks/train_gpu/worker.py`). Runs (`--runs`, any order, repeats pooled):

    swift        plain ms-swift with its defaults: random batches, no fused kernels, gradient checkpointing
    sft_random   vlmdata `sft`, the same batches and arguments (overhead: target within 3% of swift)
    sft_grouped  + length-grouped batches (padding: target >= 30% fewer padding tokens)
    sft_liger    + `training.liger_kernel` (Liger's fused linear cross-entropy), random batches, checkpointing:
                 the same batches as swift, so its losses must equal swift's over the first 20 steps
    sft_fast     fused + grouped + no gradient checkpointing, batch 8 (target >= 2.5x swift's real tokens/s)
    sft_fit      fused + grouped + no gradient checkpointing, batch 4 x accumulation 2 (<= 75 GiB, >= 2x)
    sft_part     fused + grouped + checkpointing on every 2nd decoder layer only
                 (`training.checkpoint_every_n_layers: 2`), batch 8 (<= 75 GiB, >= 2x)
    gkd          forward-only GKD, full-vocabulary JSD from the logits (bounded chunks)
    gkd_fused    forward-only GKD with `liger_kernel` (fused linear JSD), vs sft_liger (<= 1.3x, <= 40 GiB)
    gkd_fast     gkd_fused + grouped + no gradient checkpointing, vs sft_fast (the same settings)
    gkd_topk     forward-only GKD on the teacher's top-k logits

`--grpo`: the summary GRPO preset (`configs/grpo/summary.yaml`) on the same model architecture with HF
generation, vlmdata's `grpo` plugin vs plain ms-swift GRPO with the same arguments (`--grpo-runs`), the step
split into generation / reward / reference+old-policy forwards / encoding / training, generated tokens/s and
every reward (`benchmarks/train_gpu/grpo.py`).

`--gpus 2`: `vlmdata train` with `nproc_per_node: 2` and DeepSpeed ZeRO-2 on a fusion of image records and
text-only chat records vs the same fusion on one GPU (`benchmarks/train_gpu/multi.py`).

Every run reports MFU (`benchmarks/train_gpu/flops.py`: 6·N·tokens + attention for trained forwards, 2·N·tokens
+ attention for forwards without gradients, the frozen vision tower's forward, image tokens included,
recomputation not counted). The first `--warmup` steps are excluded from rates. One JSON line per figure on
stdout, all of them also in OUT/train_gpu.json (rewritten after every line). `--quick`: the tiny model, small
images, few steps, float32 on the CPU (the smoke test; Liger's kernels then run as vlmdata's chunked path).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_gpu.common import emit, sizes, start_figures, worker  # noqa: E402
from benchmarks.train_gpu.data import (  # noqa: E402
    audit_lengths,
    dense_set,
    export_in_stream_order,
    write_yaml,
)
from benchmarks.train_gpu.model import build_model  # noqa: E402
from benchmarks.train_gpu.runs import losses_agree, pooled, ratio, run_config, summarise  # noqa: E402

SFT_RUNS: dict[str, dict[str, Any]] = {
    "sft_random": {"grouped": False},
    "swift": {"grouped": False},
    "sft_grouped": {"grouped": True},
    "sft_liger": {"grouped": False, "liger": True},
    "sft_fast": {"grouped": True, "liger": True, "checkpointing": False},
    "sft_fit": {"grouped": True, "liger": True, "checkpointing": False, "half_batch": True},
    "sft_part": {"grouped": True, "liger": True, "checkpointing": True, "checkpoint_every": 2},
}
TARGETS = {
    "sft_fast": "real tokens/s >= 2.5x swift",
    "sft_fit": "real tokens/s >= 2x swift at <= 75 GiB peak allocated",
    "sft_part": "real tokens/s >= 2x swift at <= 75 GiB peak allocated",
    "sft_liger": "losses equal to swift's (same batches) within bf16 tolerance",
}


def configs(args: argparse.Namespace, work: Path, student: Path, teacher: Path | None, data: Path) -> dict:
    sz = sizes(args)
    common = dict(quick=args.quick, workers=sz["workers"], max_pixels=sz["max_pixels"], steps=args.steps)
    cfgs: dict[str, Any] = {}
    for name, opts in SFT_RUNS.items():
        opts = dict(opts)
        half = opts.pop("half_batch", False)
        batch = max(1, args.batch // 2) if half else args.batch
        cfgs[name] = run_config(
            student,
            work / "runs" / name,
            {"train": [str(data)]},
            batch=batch,
            accumulation=args.batch // batch,
            **opts,
            **common,
        )
    if teacher is not None:
        rlhf = {
            "teacher_model": str(teacher),
            "beta": 0.5,
            "sft_alpha": 0.0,
            "llm_kd_weight": 1.0,
            "lmbda": 0.0,
            "seq_kd": False,
            "temperature": 1.0,
            "max_completion_length": 64,
        }
        fast = {"grouped": True, "checkpointing": False}
        variants = {"gkd": (rlhf, False, {}), "gkd_fused": (rlhf, True, {}), "gkd_fast": (rlhf, True, fast)}
        variants["gkd_topk"] = (dict(rlhf, logits_topk=args.gkd_topk), False, {})
        for name, (section, liger, extra) in variants.items():
            cfgs[name] = run_config(
                student,
                work / "runs" / name,
                {"train": [str(data)]},
                batch=args.batch,
                grouped=extra.get("grouped", False),
                checkpointing=extra.get("checkpointing", True),
                plugin="gkd",
                rlhf=section,
                liger=liger,
                **common,
            )
    return cfgs


def one_gpu(args: argparse.Namespace, work: Path, out: Path, started: float) -> None:
    sz = sizes(args)
    names = args.runs.split(",")
    t0 = time.perf_counter()
    student = build_model(work / "student", seed=0, size=sz["model"])
    wants_teacher = any(n.startswith("gkd") for n in names) and not args.skip_gkd
    teacher = build_model(work / "teacher", seed=1, size=sz["model"]) if wants_teacher else None
    emit(figure="prepare_models_seconds", value=time.perf_counter() - t0)
    n = args.steps * args.batch  # one epoch = the measured run: padding compares whole epochs
    t0 = time.perf_counter()
    data = dense_set(
        work,
        "dense",
        n,
        seed=0,
        min_size=sz["min_size"],
        max_size=sz["max_size"],
        min_objects=sz["min_objects"],
        max_objects=sz["max_objects"],
    )
    paths = {
        name: write_yaml(work / f"{name}.yaml", cfg)
        for name, cfg in configs(args, work, student, teacher, data).items()
    }
    lengths = audit_lengths([data], paths["sft_random"])
    export = export_in_stream_order(data, paths["sft_random"], work / "export.jsonl")
    emit(
        figure="prepare_data_seconds",
        value=time.perf_counter() - t0,
        records=n,
        lengths=lengths,
        exported=export["records"],
        image_env=export["env"],
    )

    raw_runs: dict[str, list[dict[str, Any]]] = {}
    durations: list[float] = []
    for i, name in enumerate(names):
        if name not in paths:
            continue
        elapsed = time.perf_counter() - started
        typical = max(durations) if durations else 0.0
        if args.time_limit and elapsed + typical > args.time_limit:
            emit(figure="run_skipped", run=name, reason="time limit", elapsed=elapsed, typical_run=typical)
            continue
        t_run = time.perf_counter()
        kind = "swift" if name == "swift" else "vlmdata"
        extra = [str(work / "export.jsonl")] if kind == "swift" else []
        tag = f"{name}_{len(raw_runs.get(name, [])) + 1}"
        shutil.rmtree(work / "runs" / name, ignore_errors=True)  # a repeat needs a fresh run folder
        raw = worker(
            kind, paths[name], work / f"{tag}.result.json", out / f"{tag}.log", sz["timeout"], *extra
        )
        durations.append(time.perf_counter() - t_run)
        if raw is None:
            continue
        raw_runs.setdefault(name, []).append(raw)
        emit(figure="run", run=tag, order=i, losses=raw.get("losses"), **summarise(raw, args.warmup))
    compare(args, raw_runs)


def compare(args: argparse.Namespace, raw_runs: dict[str, list[dict[str, Any]]]) -> None:
    results = {name: pooled(rs, args.warmup) for name, rs in raw_runs.items()}
    for name, r in results.items():
        if r["runs"] > 1:
            emit(figure="pooled", run=name, **r)
    base = results.get("swift")
    a = results.get("sft_random")
    if a and base:
        emit(
            figure="sft_vs_swift",
            step_time_ratio=ratio(a["step_seconds_median"], base["step_seconds_median"]),
            real_tokens_per_second_ratio=ratio(a["real_tokens_per_second"], base["real_tokens_per_second"]),
            same_batches=a["real_tokens_all_steps"] == base["real_tokens_all_steps"],
            target="step time within 3%",
        )
    for name in ("sft_liger", "sft_fast", "sft_fit", "sft_part", "sft_grouped"):
        r = results.get(name)
        if r and base:
            emit(
                figure="speedup_over_swift_defaults",
                run=name,
                real_tokens_per_second_ratio=ratio(
                    r["real_tokens_per_second"], base["real_tokens_per_second"]
                ),
                step_time_ratio=ratio(r["step_seconds_median"], base["step_seconds_median"]),
                peak_allocated_gib=r.get("peak_allocated_gib"),
                swift_peak_allocated_gib=base.get("peak_allocated_gib"),
                mfu=r.get("mfu"),
                swift_mfu=base.get("mfu"),
                target=TARGETS.get(name),
            )
    pairs = (("sft_liger", "swift"), ("gkd_fused", "gkd"), ("sft_part", "sft_fast"))
    for fused, plain in pairs:
        if raw_runs.get(fused) and raw_runs.get(plain):
            emit(
                figure="loss_equality",
                fused=fused,
                plain=plain,
                **losses_agree(raw_runs[fused][0], raw_runs[plain][0], args.loss_steps),
            )
    if a and results.get("sft_grouped"):
        g = results["sft_grouped"]
        emit(
            figure="grouped_vs_random",
            padding_tokens_grouped=g["padding_tokens_all_steps"],
            padding_tokens_random=a["padding_tokens_all_steps"],
            padding_reduction=1 - g["padding_tokens_all_steps"] / max(a["padding_tokens_all_steps"], 1),
            padding_share_grouped=g["padding_share_all_steps"],
            padding_share_random=a["padding_share_all_steps"],
            real_tokens_per_second_ratio=ratio(g["real_tokens_per_second"], a["real_tokens_per_second"]),
            target="padding_reduction >= 0.30",
        )
    gkd_refs = {
        "gkd": "sft_random",
        "gkd_topk": "sft_random",
        "gkd_fused": "sft_liger",
        "gkd_fast": "sft_fast",
    }
    for name, ref in gkd_refs.items():
        k, s = results.get(name), results.get(ref)
        if k and s:
            emit(
                figure="gkd_over_sft",
                run=name,
                sft_run=ref,
                step_time_ratio=ratio(k["step_seconds_median"], s["step_seconds_median"]),
                mean_step_time_ratio=ratio(k["step_seconds_mean"], s["step_seconds_mean"]),
                peak_allocated_gib=k.get("peak_allocated_gib"),
                target="<= 1.3x fused SFT, <= 40 GiB" if name in ("gkd_fused", "gkd_fast") else "<= 1.6",
            )
    for name, r in results.items():
        emit(
            figure="peak_memory_gib",
            run=name,
            allocated=r.get("peak_allocated_gib"),
            reserved=r.get("peak_reserved_gib"),
            rss=r.get("peak_rss_gib"),
            mfu=r.get("mfu"),
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny model, small images, CPU-sized (smoke test)")
    p.add_argument("--out", default="runs/bench_train_gpu", help="results, logs and figures")
    p.add_argument("--work", default=None, help="models, data and run folders (default OUT/work)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per run (= one epoch)")
    p.add_argument("--warmup", type=int, default=None, help="steps excluded from the rates")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--gpus", type=int, default=1, help="2: the multi-GPU fusion run instead of the 1-GPU set")
    p.add_argument("--skip-gkd", action="store_true")
    p.add_argument(
        "--runs",
        default="swift,sft_liger,sft_fast,gkd_fused,sft_fit,sft_fast,sft_liger,swift",
        help="1 GPU: measured runs in this order; a name may repeat (repeats are pooled)",
    )
    p.add_argument("--loss-steps", type=int, default=20, help="steps whose losses loss_equality compares")
    p.add_argument("--gkd-topk", type=int, default=128, help="logits_topk of the gkd_topk run")
    p.add_argument("--deepstack", action="store_true", help="multi-GPU: also train the deepstack mergers")
    p.add_argument("--grpo", action="store_true", help="the GRPO summary preset instead of the SFT/GKD set")
    p.add_argument("--grpo-runs", default="swift_grpo,grpo,swift_grpo", help="--grpo: runs in this order")
    p.add_argument(
        "--time-limit", type=float, default=None, help="skip a run that would end after this many seconds"
    )
    p.add_argument(
        "--grpo-completion",
        type=int,
        default=None,
        help="--grpo: max_completion_length for both sides (default: the preset's)",
    )
    args = p.parse_args()
    if args.steps is None:
        args.steps = (4 if args.grpo else 3) if args.quick else (16 if args.grpo else 20)
    if args.warmup is None:
        args.warmup = (2 if args.grpo else 1) if args.quick else (8 if args.grpo else 4)
    if args.quick and args.batch == 8:
        args.batch = 2
    out = Path(args.out).resolve()
    work = Path(args.work).resolve() if args.work else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    start_figures(out)
    os.environ.setdefault("OMP_NUM_THREADS", "1" if args.quick else "4")
    started = time.perf_counter()
    if args.gpus > 1:
        from benchmarks.train_gpu.multi import multi_gpu

        multi_gpu(args, work, out)
    elif args.grpo:
        from benchmarks.train_gpu.grpo import grpo

        grpo(args, work, out, started)
    else:
        one_gpu(args, work, out, started)
    emit(figure="total_seconds", value=time.perf_counter() - started)


if __name__ == "__main__":
    main()
