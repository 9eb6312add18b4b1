"""`benchmarks/train_gpu.py --gpus N`: `vlmdata train` (the CLI; it launches torchrun) with DeepSpeed ZeRO-2 on a
fusion of image records and text-only chat records, against the same fusion on one GPU of the same machine."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.train_gpu.common import ROOT, emit, sizes
from benchmarks.train_gpu.data import audit_lengths, chat_set, dense_set, write_yaml
from benchmarks.train_gpu.model import build_model
from benchmarks.train_gpu.runs import run_config


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
