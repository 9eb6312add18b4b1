"""Fusion benchmark: plan speed against a Python loop, fused-write throughput, and peak memory vs input size.

    python benchmarks/fuse.py            # 10M-draw plan, 1M-record write, memory at 100k vs 1M
    python benchmarks/fuse.py --quick    # 1M-draw plan, 100k-record write, memory at 20k vs 100k

Prints one JSON line per figure. The peer for the plan is a pure-Python loop drawing the same number of indices
(`random.Random` per entry: a shuffled pool for each pass, then one shuffle of all draws), measured in the
same run. The write and memory figures run in fresh subprocesses: peak RSS is the process's VmHWM (which
counts the touched pages of the memory-mapped inputs too; `ru_maxrss` is not used because it keeps the
parent's peak across fork+exec), peak anonymous memory is sampled from /proc/self/status every 10 ms (what
the process itself allocates).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402

from vlmdata.fuse import FusionConfig, plan_epoch  # noqa: E402


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def plan_config(total: int, interleave: str = "shuffle") -> tuple[FusionConfig, dict[str, int]]:
    """Targets 80% of the draws (one at ratio 1.0, one at 3 passes), sources 20% (one beyond its pool)."""
    t1, t2 = total * 5 // 10, total // 10
    cfg = FusionConfig.model_validate(
        {
            "seed": 2025,
            "interleave": interleave,
            "targets": [
                {"name": "bbu", "data": "x", "ratio": 1.0},
                {"name": "rru", "data": "x", "ratio": 3.0},
            ],
            "sources": [
                {"name": "lvis", "data": "x", "ratio": 0.2},
                {"name": "chat", "data": "x", "ratio": 0.05},
            ],
        }
    )
    return cfg, {"bbu": t1, "rru": t2, "lvis": total // 10, "chat": total // 100}


def python_loop_plan(sizes: dict[str, int], quotas: dict[str, int], seed: int) -> tuple[list[int], list[int]]:
    entries: list[int] = []
    index: list[int] = []
    for k, (name, q) in enumerate(quotas.items()):
        rng = random.Random(f"{seed}-{name}")
        n = sizes[name]
        drawn = 0
        while drawn < q:
            pool = list(range(n))
            rng.shuffle(pool)
            for i in pool[: q - drawn]:
                entries.append(k)
                index.append(i)
            drawn += min(n, q - drawn)
    order = list(range(len(index)))
    random.Random(seed).shuffle(order)
    return [entries[i] for i in order], [index[i] for i in order]


def bench_plan(total: int, repeats: int) -> None:
    for interleave in ("shuffle", "stratified"):
        cfg, sizes = plan_config(total, interleave)
        times, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            plan = plan_epoch(cfg, sizes, epoch=1)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        emit(
            figure="plan",
            interleave=interleave,
            draws=len(plan),
            best_s=round(min(times), 3),
            median_s=round(float(np.median(times)), 3),
            best_cpu_s=round(min(cpu), 3),
        )
        if interleave == "shuffle":
            shuffle_best = min(times)
            quotas = {n: int(q) for n, q in zip(plan.names, plan.quotas, strict=True)}
    t0, c0 = time.perf_counter(), time.process_time()
    e, _ = python_loop_plan(sizes, quotas, 2025)
    loop_s, loop_cpu = time.perf_counter() - t0, time.process_time() - c0
    emit(
        figure="plan_python_loop",
        draws=len(e),
        seconds=round(loop_s, 3),
        cpu_s=round(loop_cpu, 3),
        speedup_vs_loop=round(loop_s / shuffle_best, 1),
    )


# ---------------------------------------------------------------------------------------------------------
def build_input(path: Path, n: int, prefix: str, objects: int = 3) -> None:
    """A normalised-schema dataset of n records built with pyarrow directly (seconds for 1M)."""
    import pyarrow as pa
    from datasets import Dataset

    from vlmdata.io.features import arrow_schema

    schema = arrow_schema()
    rng = np.random.default_rng(len(prefix) + n)
    per = rng.integers(1, objects * 2, size=n)  # 1..2*objects-1 objects per record
    total = int(per.sum())
    offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int32)
    x = rng.uniform(0, 500, size=total)
    y = rng.uniform(0, 400, size=total)
    pts = np.stack([x, y, x + 20, y + 30], axis=1).ravel()
    points = pa.ListArray.from_arrays(pa.array(np.arange(0, 4 * total + 1, 4, dtype=np.int32)), pa.array(pts))
    desc = pa.array(np.array(["cabinet", "cable", "screw", "label", "port"])[rng.integers(0, 5, total)])
    obj_type = schema.field("objects").type.value_type
    objs = pa.StructArray.from_arrays(
        [
            desc,
            pa.array(["bbox_2d"] * total),
            points,
            pa.array(np.zeros(total, np.int32)),
            pa.nulls(total, pa.string()),
            pa.nulls(total, pa.string()),
        ],
        fields=list(obj_type),
    )
    ids = pa.array([f"{prefix}-{i}" for i in range(n)])
    table = pa.table(
        {
            "id": ids,
            "images": pa.ListArray.from_arrays(
                pa.array(np.arange(n + 1, dtype=np.int32)),
                pa.array([f"/data/{prefix}/{i}.jpg" for i in range(n)]),
            ),
            "width": pa.array(np.full(n, 1024, np.int32)),
            "height": pa.array(np.full(n, 768, np.int32)),
            "objects": pa.ListArray.from_arrays(pa.array(offsets), objs),
            "summary": pa.nulls(n, pa.string()),
            "messages": pa.nulls(n, pa.string()),
            "metadata": pa.array(np.where(np.arange(n) % 2 == 0, "{}", '{"site": "a"}')),
            "source_file": pa.array([f"{prefix}.jsonl"] * n),
            "source_line": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        },
        schema=schema,
    )
    Dataset(table).save_to_disk(str(path))


def write_config(root: Path, records: int) -> Path:
    """Pools of 0.5, 0.2 and 0.1 × records; the plan draws exactly `records` (1.0 + 1.5 + ratio 0.25)."""
    a, b, s = records // 2, records // 5, records // 10
    for name, n in (("bbu", a), ("rru", b), ("lvis", s)):
        build_input(root / name, n, name)
    cfg = root / "fusion.yaml"
    cfg.write_text(
        "seed: 1\ntargets:\n  - {name: bbu, data: bbu, ratio: 1.0}\n  - {name: rru, data: rru, ratio: 1.5}\n"
        "sources:\n  - {name: lvis, data: lvis, ratio: 0.25, max_objects: 3}\n",
        encoding="utf-8",
    )
    return cfg


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _anon_kb() -> int:
    return _status_kb("RssAnon")


def child_write(root: Path) -> None:
    import datasets.arrow_writer  # noqa: F401 - import cost (~1 s) is not part of the write

    from vlmdata.fuse import fuse_epoch, load_fusion_config

    peak = [_anon_kb()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _anon_kb())
            time.sleep(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    cfg = load_fusion_config(root / "fusion.yaml")
    thread.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = fuse_epoch(cfg, root / "out", epoch=0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    thread.join()
    # VmHWM, not ru_maxrss: ru_maxrss survives fork+exec and would report the parent's peak
    rss = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "records": result.total,
                "seconds": seconds,
                "cpu_s": cpu,
                "peak_rss_mb": rss / 1024,
                "peak_anon_mb": peak[0] / 1024,
            }
        )
    )


def run_child(root: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_write(small: int, large: int) -> None:
    results = {}
    for records in (small, large):
        with tempfile.TemporaryDirectory(prefix="vlmdata-bench-fuse-") as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            write_config(root, records)
            build_s = time.perf_counter() - t0
            r = run_child(root)
            results[records] = r
            emit(
                figure="fused_write",
                records=r["records"],
                seconds=round(r["seconds"], 2),
                records_per_s=round(r["records"] / r["seconds"]),
                cpu_s=round(r["cpu_s"], 2),
                records_per_cpu_s=round(r["records"] / r["cpu_s"]),
                peak_rss_mb=round(r["peak_rss_mb"], 1),
                peak_anon_mb=round(r["peak_anon_mb"], 1),
                input_build_s=round(build_s, 1),
            )
    s, lg = results[small], results[large]
    emit(
        figure="memory_growth",
        small=small,
        large=large,
        input_ratio=large / small,
        peak_rss_ratio=round(lg["peak_rss_mb"] / s["peak_rss_mb"], 2),
        peak_anon_ratio=round(lg["peak_anon_mb"] / s["peak_anon_mb"], 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=("plan", "write"), default=None, help="run one half of the benchmark"
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child_write(args.child)
        return
    if args.only != "write":
        bench_plan(1_000_000 if args.quick else 10_000_000, repeats=3 if args.quick else 5)
    if args.only != "plan":
        bench_write(*((20_000, 100_000) if args.quick else (100_000, 1_000_000)))


if __name__ == "__main__":
    main()
