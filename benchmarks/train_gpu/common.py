"""Shared pieces of `benchmarks/train_gpu.py`: figure lines (also kept in OUT/train_gpu.json after every line,
so a run cut short by a time limit keeps what it measured), machine-size presets and the worker launcher."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIGURES: list[dict[str, Any]] = []
OUT_FILE: list[Path] = []


def start_figures(out: Path) -> None:
    OUT_FILE[:] = [out / "train_gpu.json"]


def emit(**row: Any) -> None:
    row = {"bench": "train_gpu", **row}
    FIGURES.append(row)
    print(json.dumps(row), flush=True)
    if OUT_FILE:
        from vlmdata.io.atomic import atomic_write_text

        atomic_write_text(OUT_FILE[0], json.dumps({"argv": sys.argv, "figures": FIGURES}, indent=1) + "\n")


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
        partial = result.with_name(result.name + ".partial")
        emit(
            figure="run_failed",
            run=config.stem,
            kind=kind,
            rc=rc,
            seconds=time.perf_counter() - started,
            log_tail=tail,
            measured_before_failing=json.loads(partial.read_text(encoding="utf-8"))
            if partial.is_file()
            else None,
        )
        return None
    return json.loads(result.read_text(encoding="utf-8"))
