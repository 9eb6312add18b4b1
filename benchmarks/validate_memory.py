"""Benchmark: memory of `validate` on one record with very many bad objects, against the same record made valid.

    python benchmarks/validate_memory.py [--quick] [--objects N]

For each kind of bad object — an object rule (inverted box), a record rule (a point far out of bounds) and
pydantic's own type errors (a number desc, a string coordinate) — one JSONL line of N such objects is
validated with `validate_files(..., image_check=False)`, after a warm-up run has paid for imports and caches.
The figure is the peak of Python and numpy allocations (tracemalloc, deterministic unlike RSS) divided by the
line's size; the peer is the same line with every object valid (the same size class, accepted through the
fast path), measured in the same process. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

OBJECTS = {
    "valid": {"desc": "类别=BBU设备,品牌=华为", "bbox_2d": [10, 10, 50, 50]},
    "inverted_boxes": {"desc": "类别=BBU设备,品牌=华为", "bbox_2d": [100, 100, 50, 50]},
    "out_of_bounds": {"desc": "类别=BBU设备,品牌=华为", "poly": [1e6, 1, 2, 2, 3, 1]},
    "mistyped": {"desc": 5, "bbox_2d": ["a", 1, 2, 3]},
}


def _peak(folder: Path, kind: str, n: int) -> dict:
    from vlmdata.validate import ValidateOptions, validate_files

    line = json.dumps(
        {"images": ["a.jpg"], "width": 640, "height": 480, "objects": [OBJECTS[kind]] * n}, ensure_ascii=False
    ).encode()
    src = folder / f"{kind}.jsonl"
    src.write_bytes(line + b"\n")
    tracemalloc.start()
    try:
        report = validate_files([src], folder / f"out-{kind}", ValidateOptions(image_check=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "figure": f"validate_memory_{kind}",
        "objects": n,
        "line_bytes": len(line),
        "peak_bytes": peak,
        "peak_over_line": round(peak / len(line), 1),
        "rejected": report.total("rejected"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20k objects per line")
    parser.add_argument("--objects", type=int, default=None)
    args = parser.parse_args()
    n = args.objects or (20_000 if args.quick else 100_000)
    from vlmdata.validate import ValidateOptions, validate_files

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "warm.jsonl").write_text(
            json.dumps({"images": ["a"], "width": 5, "height": 5, "objects": [OBJECTS["inverted_boxes"]]})
            + "\n"
        )
        validate_files([folder / "warm.jsonl"], folder / "warm", ValidateOptions(image_check=False))
        peer = _peak(folder, "valid", n)
        print(json.dumps({**peer, "machine": f"{platform.machine()} {os.cpu_count()} CPUs"}))
        for kind in ("inverted_boxes", "out_of_bounds", "mistyped"):
            figure = _peak(folder, kind, n)
            figure["ratio_vs_valid_line"] = round(figure["peak_bytes"] / peer["peak_bytes"], 2)
            print(json.dumps(figure))


if __name__ == "__main__":
    main()
