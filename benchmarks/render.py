"""Render speed: dense targets per second, against the same rendering through the geometry package's numpy
kernels called per object (the straightforward implementation), measured in the same run.

    python benchmarks/render.py [--quick]

Records follow the validate benchmark's mix: 5–60 objects (boxes, polygons of 3–8 points, lines of 2–8
points) on 1024–2048 px images. Prints one JSON line per figure; both sides produce identical targets
(checked before timing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def make_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    cats = ["BBU设备", "挡风板", "螺丝", "光纤", "标签", "接地线"]
    records = []
    for i in range(n):
        w, h = rng.randint(1024, 2048), rng.randint(1024, 2048)
        objects = []
        for _ in range(rng.randint(5, 60)):
            kind = rng.choice(["bbox_2d", "poly", "line"])
            if kind == "bbox_2d":
                x1, x2 = sorted(rng.uniform(0, w - 2) for _ in range(2))
                y1, y2 = sorted(rng.uniform(0, h - 2) for _ in range(2))
                pts = [x1, y1, x2 + 1, y2 + 1]
            else:
                k = rng.randint(3, 8) if kind == "poly" else rng.randint(2, 8)
                pts = [c for _ in range(k) for c in (rng.uniform(0, w), rng.uniform(0, h))]
            desc = f"类别={rng.choice(cats)},可见性={rng.choice(['完整', '部分'])}"
            objects.append({"desc": desc, "kind": kind, "points": pts, "image_index": 0})
        records.append(
            {"id": str(i), "images": ["x.jpg"], "width": w, "height": h, "objects": objects, "metadata": "{}"}
        )
    return records


def _numpy_kernels() -> None:
    """Route the renderer's grid/canonical helpers through the geometry package (the peer)."""
    import vlmdata.render.dense as dense
    from vlmdata.geometry.canonical import canonicalize
    from vlmdata.geometry.frames import to_qwen_grid
    from vlmdata.render.grid import pairs

    dense.to_grid = lambda pts, w, h: to_qwen_grid([float(v) for v in pts], w, h)
    dense.canonicalize_pairs = lambda kind, pts: pairs(canonicalize(kind, [float(c) for p in pts for c in p]))


def rate(records: list[dict], repeat: int) -> tuple[float, list[str]]:
    from vlmdata.render import render_target

    best = float("inf")
    out: list[str] = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = [render_target(r, "target_dense_bbu") for r in records]
        best = min(best, time.perf_counter() - t)
    return len(records) / best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, repeat = (200, 2) if args.quick else (2000, 3)
    records = make_records(n)
    objects = sum(len(r["objects"]) for r in records)
    ours, ours_out = rate(records, repeat)
    _numpy_kernels()
    peer, peer_out = rate(records, repeat)
    assert ours_out == peer_out, "the pure-Python port and the geometry package disagree"
    common = {"records": n, "objects": objects, "machine": "2-core CPU dev box, shared with other work"}
    print(json.dumps({"figure": "render_dense_records_per_s", "value": round(ours), **common}))
    print(json.dumps({"figure": "peer_numpy_per_object_records_per_s", "value": round(peer), **common}))
    print(json.dumps({"figure": "render_speedup_vs_peer", "value": round(ours / peer, 2), **common}))
    print(json.dumps({"figure": "render_objects_per_s", "value": round(ours * objects / n), **common}))


if __name__ == "__main__":
    main()
