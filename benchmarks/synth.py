"""Synthetic-data benchmark: how fast `vlmdata synth` writes records and images.

    python benchmarks/synth.py            # 20k records without images, 1000 small-image records, 100 full-size
    python benchmarks/synth.py --quick    # 5k / 200 / 20

Prints one JSON line per figure. There is no peer tool for this job; the figure it is compared with, in the
same run, is the unavoidable floor: encoding the same number of images of the same sizes and formats with PIL
(a gradient with the same grain, about as compressible), with no layout, drawing, shadows or JSON.
`ratio_vs_encode_only` = synth CPU time / floor CPU time. Times are process CPU seconds (the work is
single-threaded, so they hold up when other jobs share the machine); wall seconds are printed too.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vlmdata.synth import generate, iter_records  # noqa: E402


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def encode_floor(out: Path) -> float:
    """Seconds to PIL-encode images with the sizes and formats found under `out/images`."""
    rng = np.random.default_rng(0)
    jobs = []
    for path in sorted((out / "images").rglob("*")):
        if path.is_file():
            with Image.open(path) as im:
                jobs.append((im.size, im.format))
    grain = rng.integers(-6, 7, (97, 101, 1), dtype=np.int16)
    start = time.process_time()
    for (w, h), fmt in jobs:
        # a smooth gradient with the same tiled grain: about as compressible as a synthetic scene
        ramp = np.linspace(70, 190, w, dtype=np.int16)[None, :, None]
        tiled = np.tile(grain, (h // 97 + 1, w // 101 + 1, 1))[:h, :w]
        pixels = np.clip(ramp + tiled, 0, 255).astype(np.uint8).repeat(3, axis=2)
        buf = io.BytesIO()
        if fmt == "PNG":
            Image.fromarray(pixels).save(buf, "PNG", compress_level=1)
        else:
            Image.fromarray(pixels).save(buf, "JPEG", quality=90, subsampling=0)
    return time.process_time() - start


def bench_images(tmp: Path, name: str, n: int, **options: object) -> None:
    out = tmp / name
    start, cpu = time.perf_counter(), time.process_time()
    result = generate(out, n, seed=0, **options)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    floor = encode_floor(out)
    mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    emit(
        figure=f"synth_{name}",
        records=n,
        images=result.images,
        wall_seconds=round(seconds, 3),
        cpu_seconds=round(cpu, 3),
        records_per_cpu_s=round(n / cpu, 1),
        images_per_cpu_s=round(result.images / cpu, 1),
        megabytes=round(mb, 1),
        encode_only_cpu_seconds=round(floor, 3),
        ratio_vs_encode_only=round(cpu / floor, 2),
        options=options,
    )
    shutil.rmtree(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_fast, n_small, n_full = (5_000, 200, 20) if args.quick else (20_000, 1_000, 100)

    start, cpu = time.perf_counter(), time.process_time()
    count = sum(1 for _ in iter_records(n_fast, seed=0))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    emit(
        figure="synth_records_no_images",
        records=count,
        wall_seconds=round(seconds, 3),
        cpu_seconds=round(cpu, 3),
        records_per_cpu_s=round(count / cpu, 1),
    )

    with tempfile.TemporaryDirectory(prefix="vlmdata-bench-synth-") as tmp:
        bench_images(Path(tmp), "small_images", n_small, min_size=96, max_size=320)
        bench_images(Path(tmp), "full_size_images", n_full)


if __name__ == "__main__":
    main()
