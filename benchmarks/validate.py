"""Benchmark: contract validation speed against a per-line pydantic loop, and image header checks against PIL.

    python benchmarks/validate.py [--quick] [--records N] [--images N]

Generates records of ~3 KB (5–60 objects each, boxes/polygons/lines, BBU-style descs) with a share of
invalid records of many kinds, then measures in the same run:
- `pydantic_loop`: `Record.model_validate_json(line)` for every line (the contract's reference verdict);
- `vlmdata_core`: vlmdata's verdicts (fast bulk path + pydantic explanations of the records it is unsure of);
- `vlmdata_validate_files`: the whole `validate_files(..., image_check=False)` run, Arrow dataset written;
and asserts the verdicts are identical on every record. Then image checks: vlmdata's header probe against
`PIL.Image.open(p).size` over the same files. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

CATS = ["BBU设备", "RRU设备", "挡风板", "螺丝", "光纤", "电源线", "标签", "接地线"]
BRANDS = ["华为", "中兴", "爱立信", "诺基亚"]


def _desc(rng: random.Random) -> str:
    desc = f"类别={rng.choice(CATS)},品牌={rng.choice(BRANDS)}"
    return desc + ",可见性=部分" if rng.random() < 0.2 else desc


def _obj(rng: random.Random, w: int, h: int) -> dict:
    kind = rng.random()
    x, y = rng.uniform(0, w - 60), rng.uniform(0, h - 60)
    if kind < 0.6:
        return {
            "desc": _desc(rng),
            "bbox_2d": [
                round(x, 1),
                round(y, 1),
                round(x + rng.uniform(5, 55), 1),
                round(y + rng.uniform(5, 55), 1),
            ],
        }
    if kind < 0.85:
        n = rng.randint(3, 8)
        pts = [
            v for _ in range(n) for v in (round(x + rng.uniform(0, 55), 1), round(y + rng.uniform(0, 55), 1))
        ]
        return {"desc": _desc(rng), "poly": pts, "poly_points": n}
    n = rng.randint(2, 6)
    return {
        "desc": _desc(rng),
        "line": [
            v for _ in range(n) for v in (round(x + rng.uniform(0, 55), 1), round(y + rng.uniform(0, 55), 1))
        ],
    }


def _corrupt(rng: random.Random, rec: dict) -> str:
    kind = rng.randrange(16)
    o = rec["objects"][0]
    geo = next(k for k in ("bbox_2d", "poly", "line") if k in o)
    if kind == 0:
        o.pop(geo)
        o["bbox_2d"] = [50, 50, 10, 10]
        o.pop("poly_points", None)
    elif kind == 1:
        o.pop(geo)
        o.pop("poly_points", None)
        o["poly"] = [1, 2, 3, 4, 5]
    elif kind == 2:
        o.pop(geo)
        o.pop("poly_points", None)
        o["poly"] = [1, 1, 2, 2, 3, 3]
    elif kind == 3:
        o.pop(geo)
        o.pop("poly_points", None)
        o["line"] = [5, 5]
    elif kind == 4:
        o[geo][0] = rec["width"] + 40
    elif kind == 5:
        return json.dumps(rec, ensure_ascii=False).replace(f"{o[geo][1]}", "NaN", 1)
    elif kind == 6:
        o[geo][1] = True
    elif kind == 7:
        o[geo][1] = str(o[geo][1])
    elif kind == 8:
        o["colour"] = "red"
    elif kind == 9:
        o["line"] = [1, 1, 9, 9]
    elif kind == 10:
        rec.pop("width")
    elif kind == 11:
        return json.dumps(rec, ensure_ascii=False)[:-7]
    elif kind == 12:
        o.pop(geo)
        o.pop("poly_points", None)
        o["poly"] = [10, 10, 50, 10, 50, 50]
        o["poly_points"] = 4
    elif kind == 13:
        o["image_index"] = 2
    elif kind == 14:
        rec["summary"] = '{"统计": [}'
    else:
        o["desc"] = "类别=BBU\n设备"
    return json.dumps(rec, ensure_ascii=False)


def make_lines(n: int, seed: int = 0, invalid_share: float = 0.03) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        w, h = rng.choice([(1024, 768), (1920, 1080), (800, 600), (2048, 1536)])
        rec = {
            "id": f"r{i:07d}",
            "images": [f"images/{i % 5000:05d}.jpg"],
            "width": w,
            "height": h,
            "objects": [_obj(rng, w, h) for _ in range(rng.randint(5, 60))],
        }
        if i % 3 == 0:
            del rec["id"]
        if i % 7 == 0:
            rec["summary"] = json.dumps(
                {"统计": [{"类别": "BBU设备", "品牌": {"华为": 2}}]}, ensure_ascii=False
            )
        if rng.random() < invalid_share:
            lines.append(_corrupt(rng, rec).encode())
        else:
            lines.append(json.dumps(rec, ensure_ascii=False).encode())
    return lines


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


class Timer:
    """Wall and CPU seconds of a block (CPU time is steadier on a shared machine)."""

    def __enter__(self) -> Timer:
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def bench_records(n: int) -> None:
    from vlmdata.contract.models import Record
    from vlmdata.io.engine import EngineOptions
    from vlmdata.validate import ValidateOptions, validate_files
    from vlmdata.validate.fast import check_batch
    from vlmdata.validate.slow import explain

    lines = make_lines(n)
    mb = sum(len(x) + 1 for x in lines) / 1e6
    emit(figure="validate_input", records=n, megabytes=round(mb, 1), mean_record_bytes=round(mb * 1e6 / n))

    with Timer() as t_pyd:
        ref = []
        for line in lines:
            try:
                Record.model_validate_json(line)
                ref.append(True)
            except Exception:
                ref.append(False)
    emit(
        figure="pydantic_loop",
        wall_s=round(t_pyd.wall, 3),
        cpu_s=round(t_pyd.cpu, 3),
        mb_per_s_cpu=round(mb / t_pyd.cpu, 1),
        mb_per_s_wall=round(mb / t_pyd.wall, 1),
        invalid=ref.count(False),
    )

    with Timer() as t_core:
        ours: list[bool] = []
        batch = 2000
        for s in range(0, n, batch):
            chunk = lines[s : s + batch]
            res = check_batch(chunk)
            verdict = [False] * len(chunk)
            for p in res.accepted:
                verdict[p] = True
            for p in res.unsure:
                verdict[p] = explain(chunk[p]).record is not None
            ours += verdict
    mismatches = sum(a != b for a, b in zip(ours, ref, strict=True))
    emit(
        figure="vlmdata_core",
        wall_s=round(t_core.wall, 3),
        cpu_s=round(t_core.cpu, 3),
        mb_per_s_cpu=round(mb / t_core.cpu, 1),
        mb_per_s_wall=round(mb / t_core.wall, 1),
        speedup_vs_pydantic_cpu=round(t_pyd.cpu / t_core.cpu, 2),
        speedup_vs_pydantic_wall=round(t_pyd.wall / t_core.wall, 2),
        verdict_mismatches=mismatches,
    )
    assert mismatches == 0, f"{mismatches} verdicts differ from the pydantic model"

    import datasets  # noqa: F401  - a one-off import (≈ 1–2 s) that a CLI run pays once; not part of the throughput

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        with Timer() as t_all:
            rep = validate_files(
                [path], Path(d) / "out", ValidateOptions(image_check=False, engine=EngineOptions(workers=1))
            )
        assert rep.total("valid") == ref.count(True), "validate_files kept a different number of records"
        emit(
            figure="vlmdata_validate_files",
            wall_s=round(t_all.wall, 3),
            cpu_s=round(t_all.cpu, 3),
            mb_per_s_cpu=round(mb / t_all.cpu, 1),
            mb_per_s_wall=round(mb / t_all.wall, 1),
            speedup_vs_pydantic_cpu=round(t_pyd.cpu / t_all.cpu, 2),
            speedup_vs_pydantic_wall=round(t_pyd.wall / t_all.wall, 2),
            valid=rep.total("valid"),
            rejected=rep.total("rejected"),
            note="includes writing the Arrow dataset, rejects and report",
        )


def bench_images(n: int) -> None:
    from PIL import Image

    from vlmdata.io.images import probe_image

    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(n):
            w, h = rng.choice([(640, 480), (1024, 768), (800, 1200)])
            im = Image.new("RGB", (w // 8, h // 8), (i % 255, 40, 90)).resize((w, h))
            p = os.path.join(d, f"{i:05d}.{'jpg' if i % 2 else 'png'}")
            if i % 2:
                exif = Image.Exif()
                exif[0x0112] = 6 if i % 6 == 1 else 1
                im.save(p, quality=85, exif=exif)
            else:
                im.save(p)
            paths.append(p)
        for p in paths:  # warm the page cache for both
            probe_image(p)
        rounds = 3
        with Timer() as t_pil:
            for _ in range(rounds):
                for p in paths:
                    with Image.open(p) as im:
                        _ = im.size
        with Timer() as t_ours:
            for _ in range(rounds):
                for p in paths:
                    probe_image(p)
        total = n * rounds
        emit(
            figure="image_headers",
            images=n,
            pil_open_size_per_s_cpu=round(total / t_pil.cpu),
            vlmdata_probe_per_s_cpu=round(total / t_ours.cpu),
            vlmdata_probe_per_s_wall=round(total / t_ours.wall),
            ratio_vs_pil_cpu=round(t_pil.cpu / t_ours.cpu, 2),
            note="vlmdata also reads the EXIF orientation and checks the end marker (truncation)",
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20k records, 500 images")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--images", type=int, default=None)
    args = ap.parse_args(argv)
    bench_records(args.records or (20_000 if args.quick else 200_000))
    bench_images(args.images or (500 if args.quick else 2000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
