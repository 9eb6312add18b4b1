"""Training on a GPU: vlmdata's `sft` plugin vs plain ms-swift, length-grouped vs random batching, GKD cost,
peak memory; and (`--gpus 2`) a ZeRO-2 run on a fusion of text-only chat and image records.

One GPU (one device call): a randomly initialised model with the published Qwen3-VL-2B-Instruct
architecture (`benchmarks/train_gpu/model.py`), bf16, synthetic dense-caption data (1024x768-class images,
targets of 200-2000 tokens) through `vlmdata synth → validate → audit --write-lengths → export`, LoRA r32 on
all linear layers + the aligner (`model.visual.merger`) trained as a whole module, batch 8, gradient
checkpointing. Each run is its own process (`benchmarks/train_gpu/worker.py`); measured side by side:

1. `vlmdata train --plugin sft` (random batching) vs plain ms-swift SFT on the export of the same records in the
   same order with the same ms-swift arguments: step time and real (non-pad) tokens/s — target within 3%;
2. length-grouped (audited lengths) vs random batching: padding tokens over the epoch and real tokens/s —
   target >= 30% fewer padding tokens;
3. forward-only GKD (teacher: a second random model of the same architecture) over SFT step time, on the same
   batches — target <= 1.6x;
4. peak GPU memory of each run.

`--gpus 2`: `vlmdata train` (the CLI; it launches torchrun) with `nproc_per_node: 2` and DeepSpeed ZeRO-2 on a
fusion of image records and text-only chat records, length-grouped (so some ranks get batches without
images), against the same fusion on one GPU on the same machine: finishes or not (a timeout catches a hang),
per-dataset telemetry in logging.jsonl, real tokens/s ratio (target >= 1.8x). Token counts of CLI runs come
from the audited lengths of the batches the (deterministic) sampler gives every rank.

The first `--warmup` steps are excluded from rates. One JSON line per figure on stdout; everything also in
OUT/train_gpu.json. `--quick`: the tiny model, small images, few steps, float32 on the CPU (the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_gpu.data import (  # noqa: E402
    audit_lengths,
    chat_set,
    dense_set,
    export_in_stream_order,
    write_yaml,
)
from benchmarks.train_gpu.model import build_model  # noqa: E402
from benchmarks.train_gpu.runs import pooled, ratio, run_config, summarise  # noqa: E402

FIGURES: list[dict[str, Any]] = []


def emit(**row: Any) -> None:
    row = {"bench": "train_gpu", **row}
    FIGURES.append(row)
    print(json.dumps(row), flush=True)


def sizes(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        return {
            "model": "tiny",
            "min_size": 96,
            "max_size": 160,
            "min_objects": 2,
            "max_objects": 12,
            "max_pixels": 65536,
            "workers": 0,
            "timeout": 900,
        }
    return {
        "model": "2b",
        "min_size": 768,
        "max_size": 1024,
        "min_objects": 3,
        "max_objects": 28,
        "max_pixels": 1048576,
        "workers": 4,
        "timeout": 240,
    }


def worker(
    kind: str, config: Path, result: Path, log: Path, timeout: int, *extra: str
) -> dict[str, Any] | None:
    cmd = [sys.executable, "-m", "benchmarks.train_gpu.worker", kind, str(config), str(result), *extra]
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        try:
            rc = subprocess.run(
                cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0 or not result.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        emit(
            figure="run_failed",
            run=config.stem,
            kind=kind,
            rc=rc,
            seconds=time.perf_counter() - started,
            log_tail=tail,
        )
        return None
    return json.loads(result.read_text(encoding="utf-8"))


def one_gpu(args: argparse.Namespace, work: Path, out: Path) -> None:
    sz = sizes(args)
    t0 = time.perf_counter()
    student = build_model(work / "student", seed=0, size=sz["model"])
    teacher = build_model(work / "teacher", seed=1, size=sz["model"]) if not args.skip_gkd else None
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
    common = dict(
        steps=args.steps,
        batch=args.batch,
        quick=args.quick,
        workers=sz["workers"],
        max_pixels=sz["max_pixels"],
    )
    cfgs = {
        "sft_random": run_config(
            student, work / "runs" / "sft_random", {"train": [str(data)]}, grouped=False, **common
        ),
        "swift": run_config(
            student, work / "runs" / "swift", {"train": [str(data)]}, grouped=False, **common
        ),
        "sft_grouped": run_config(
            student, work / "runs" / "sft_grouped", {"train": [str(data)]}, grouped=True, **common
        ),
    }
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
        cfgs["gkd"] = run_config(
            student,
            work / "runs" / "gkd",
            {"train": [str(data)]},
            grouped=False,
            plugin="gkd",
            rlhf=rlhf,
            **common,
        )
        # the teacher's top-k logits only: ms-swift's full-vocabulary JSD keeps [chunk, vocab] tensors of every
        # supervised position for the backward pass (out of memory at batch 8 on an H200, see docs)
        cfgs["gkd_topk"] = run_config(
            student,
            work / "runs" / "gkd_topk",
            {"train": [str(data)]},
            grouped=False,
            plugin="gkd",
            rlhf=dict(rlhf, logits_topk=args.gkd_topk),
            **common,
        )
    paths = {name: write_yaml(work / f"{name}.yaml", cfg) for name, cfg in cfgs.items()}
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
    for i, name in enumerate(args.runs.split(",")):
        if name not in paths:
            continue
        kind = "swift" if name == "swift" else "vlmdata"
        extra = [str(work / "export.jsonl")] if kind == "swift" else []
        tag = f"{name}_{len(raw_runs.get(name, [])) + 1}"
        shutil.rmtree(work / "runs" / name, ignore_errors=True)  # a repeat needs a fresh run folder
        raw = worker(
            kind, paths[name], work / f"{tag}.result.json", out / f"{tag}.log", sz["timeout"], *extra
        )
        if raw is None:
            continue
        raw_runs.setdefault(name, []).append(raw)
        emit(figure="run", run=tag, order=i, **summarise(raw, args.warmup))
    results = {name: pooled(rs, args.warmup) for name, rs in raw_runs.items()}
    for name, r in results.items():
        if r["runs"] > 1:
            emit(figure="pooled", run=name, **r)

    a, b = results.get("sft_random"), results.get("swift")
    if a and b:
        emit(
            figure="sft_vs_swift",
            step_time_ratio=ratio(a["step_seconds_median"], b["step_seconds_median"]),
            real_tokens_per_second_ratio=ratio(a["real_tokens_per_second"], b["real_tokens_per_second"]),
            same_batches=a["real_tokens_all_steps"] == b["real_tokens_all_steps"],
            target="step time within 3%",
        )
    g = results.get("sft_grouped")
    if a and g:
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
    for name in ("gkd", "gkd_topk"):
        k = results.get(name)
        if a and k:
            emit(
                figure="gkd_over_sft",
                run=name,
                step_time_ratio=ratio(k["step_seconds_median"], a["step_seconds_median"]),
                mean_step_time_ratio=ratio(k["step_seconds_mean"], a["step_seconds_mean"]),
                target="<= 1.6",
            )
    if teacher is None:
        emit(figure="gkd_over_sft", skipped=True)
    for name, r in results.items():
        emit(
            figure="peak_memory_gib",
            run=name,
            allocated=r.get("peak_allocated_gib"),
            reserved=r.get("peak_reserved_gib"),
            rss=r.get("peak_rss_gib"),
        )


def cli_tokens(config_path: Path, world: int, batch: int, steps: int) -> list[dict[str, int]]:
    """Per global step: real and padded tokens summed over ranks, and ranks whose batch has no image."""
    from vlmdata.train.config import load_train_config
    from vlmdata.train.dataset import open_train_data

    data = open_train_data(load_train_config(config_path))
    lengths = data.train.lengths(0)
    assert lengths is not None
    per_rank = [data.sampler(batch, world_size=world, rank=r).rank_batches(0) for r in range(world)]
    rows = []
    for i in range(min(steps, len(per_rank[0]))):
        real = padded = textonly = 0
        for r in range(world):
            b = per_rank[r][i]
            real += int(lengths[b].sum())
            padded += len(b) * int(lengths[b].max())
            textonly += all(not data.train.record(0, p)[1]["images"] for p in b)
        rows.append({"real": real, "padded": padded, "text_only_ranks": textonly})
    return rows


def cli_run(config: Path, log: Path, timeout: int) -> tuple[Any, float]:
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        try:
            rc: Any = subprocess.run(
                [sys.executable, "-m", "vlmdata", "train", "--config", str(config)],
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout (hang?)"
    return rc, time.perf_counter() - started


def multi_gpu(args: argparse.Namespace, work: Path, out: Path) -> None:
    sz = sizes(args)
    student = build_model(work / "student", seed=0, size=sz["model"])
    n_img = args.steps * args.batch * args.gpus
    dense = dense_set(
        work,
        "dense",
        n_img,
        seed=0,
        min_size=sz["min_size"],
        max_size=sz["max_size"],
        min_objects=sz["min_objects"],
        max_objects=sz["max_objects"],
    )
    chat = chat_set(work, max(8, n_img // 3))
    fusion = write_yaml(
        work / "fusion.yaml",
        {
            "seed": 0,
            "targets": [
                {
                    "name": "dense",
                    "data": str(dense),
                    "mode": "dense",
                    "template": "target_dense_bbu",
                    "ratio": 1.0,
                    "augment": False,
                }
            ],
            "sources": [
                {"name": "chat", "data": str(chat), "mode": "chat", "template": "chat", "ratio": 0.3}
            ],
        },
    )
    common = dict(
        steps=args.steps,
        batch=args.batch,
        quick=args.quick,
        workers=sz["workers"],
        grouped=True,
        max_pixels=sz["max_pixels"],
    )
    one = write_yaml(
        work / "fusion_1gpu.yaml",
        run_config(student, work / "runs" / "fusion_1gpu", {"fusion": str(fusion)}, **common),
    )
    variants = {"fusion_1gpu": one}
    variants["fusion_2gpu_zero2"] = write_yaml(
        work / "fusion_2gpu_zero2.yaml",
        run_config(
            student,
            work / "runs" / "fusion_2gpu_zero2",
            {"fusion": str(fusion)},
            nproc=args.gpus,
            deepspeed="zero2",
            **common,
        ),
    )
    if args.deepstack:
        variants["fusion_2gpu_zero2_deepstack"] = write_yaml(
            work / "fusion_2gpu_zero2_deepstack.yaml",
            run_config(
                student,
                work / "runs" / "fusion_2gpu_zero2_deepstack",
                {"fusion": str(fusion)},
                nproc=args.gpus,
                deepspeed="zero2",
                modules_to_save=["model.visual.merger", "model.visual.deepstack_merger_list.*"],
                **common,
            ),
        )
    emit(figure="fusion_lengths", lengths=audit_lengths([dense, chat], one))
    rates: dict[str, float] = {}
    for name, cfg in variants.items():
        world = 1 if name == "fusion_1gpu" else args.gpus
        shutil.rmtree(work / "runs" / name, ignore_errors=True)
        # the deepstack variant is the one that may hang: a shorter limit
        rc, secs = cli_run(cfg, out / f"{name}.log", sz["timeout"] if "deepstack" not in name else 170)
        log_file = work / "runs" / name / "logging.jsonl"
        rows = (
            [json.loads(x) for x in log_file.read_text(encoding="utf-8").splitlines()]
            if log_file.is_file()
            else []
        )
        steps = [r for r in rows if "train/loss" in r and "train/steps_per_second" in r]
        tokens = cli_tokens(cfg, world, args.batch, args.steps)
        per_ds = sorted(
            {
                k
                for r in steps
                for k in r
                if k.endswith(("_loss", "_token_acc"))
                and k.count("/") == 1
                and k not in ("train/loss", "train/token_acc")
            }
        )
        row: dict[str, Any] = {
            "figure": "multi_gpu_run",
            "run": name,
            "world_size": world,
            "rc": rc,
            "seconds": secs,
            "logged_steps": len(steps),
            "per_dataset_metrics": per_ds,
            "text_only_rank_batches": sum(t["text_only_ranks"] for t in tokens),
        }
        if rc == 0 and len(steps) > args.warmup:
            secs_m = [1 / r["train/steps_per_second"] for r in steps[args.warmup :]]
            real = sum(t["real"] for t in tokens[args.warmup : len(steps)])
            rates[name] = real / sum(secs_m)
            row.update(
                real_tokens_per_second=rates[name],
                step_seconds_mean=sum(secs_m) / len(secs_m),
                memory_gib=steps[-1].get("memory_gib"),
            )
        else:
            row["log_tail"] = (
                (out / f"{name}.log").read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            )
        emit(**row)
    if "fusion_1gpu" in rates and "fusion_2gpu_zero2" in rates:
        emit(
            figure="two_gpu_speedup",
            real_tokens_per_second_ratio=rates["fusion_2gpu_zero2"] / rates["fusion_1gpu"],
            target=">= 1.8",
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
        default="sft_random,swift,sft_grouped,gkd",
        help="1 GPU: measured runs in this order; a name may repeat (repeats are pooled)",
    )
    p.add_argument("--gkd-topk", type=int, default=128, help="logits_topk of the gkd_topk run")
    p.add_argument("--deepstack", action="store_true", help="multi-GPU: also train the deepstack mergers")
    args = p.parse_args()
    if args.steps is None:
        args.steps = 3 if args.quick else 20
    if args.warmup is None:
        args.warmup = 1 if args.quick else 4
    if args.quick and args.batch == 8:
        args.batch = 2
    out = Path(args.out).resolve()
    work = Path(args.work).resolve() if args.work else out / "work"
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1" if args.quick else "4")
    started = time.perf_counter()
    (multi_gpu if args.gpus > 1 else one_gpu)(args, work, out)
    emit(figure="total_seconds", value=time.perf_counter() - started)
    (out / "train_gpu.json").write_text(
        json.dumps({"argv": sys.argv, "figures": FIGURES}, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
