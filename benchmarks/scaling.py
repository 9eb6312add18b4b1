"""Benchmark: how the data commands scale with `--workers`, and that every worker count writes the same output.

    python benchmarks/scaling.py [--quick] [--workers 1,2,4] [--commands validate,audit,augment] [--rounds 2]

For each command, inputs are generated once (in `--work`, default a temporary folder), then the command runs at
every worker count, `--rounds` times interleaved (1, 2, ..., 1, 2, ...), through its library function with
`EngineOptions(workers=N)` (the CLI's `--workers N`). Each figure is the best wall time of its rounds, as a
speed-up over one worker measured in the same run; the outputs of every run are hashed (report timings left
out) and must equal the one-worker output. The machine (usable cores, load average before and after) is
printed with the figures. One JSON line per figure.

Commands and their inputs:
- `validate`: JSONL of records with 5-60 objects (the validate benchmark's mix, 3 % invalid) on real JPEG
  files (headers checked: `image_check` on), ten records per image; the page cache is warmed first.
- `audit`: the dataset `validate` wrote, sized with the tiny model's tokenizer under a `target_dense_bbu`
  run config.
- `augment`: the first `--augment-records` records of that dataset (one copy each) under the grounding
  preset (`configs/augment/grounding.yaml`): decode, warp, photometric ops, JPEG q95 encode, the contract
  check and the Arrow write.
Every worker count writes to the same output folder (a rerun replaces it), since augment's rows hold the
absolute paths of the images it wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = [(1024, 768), (1920, 1080), (800, 600), (2048, 1536)]


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def machine() -> dict[str, Any]:
    return {
        "usable_cores": len(os.sched_getaffinity(0)),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def tree_digest(folder: Path) -> str:
    """sha256 over every file of an output folder (report timings and the output's own path left out)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == ".vlmdata-output.json":
            continue
        data = p.read_bytes()
        if p.suffix == ".json" and p.name in ("report.json", "audit.json"):
            report = json.loads(data)
            for key in ("seconds", "out_dir"):
                report.pop(key, None)
            data = json.dumps(report, sort_keys=True).encode()
        h.update(str(p.relative_to(folder)).encode() + b"\0" + data)
    return h.hexdigest()


# -- inputs ---------------------------------------------------------------------------------------------------
def _image(args: tuple[str, int, int, int]) -> None:
    from PIL import Image

    path, w, h, k = args
    Image.new("RGB", (w, h), (k % 251, 90, 160)).save(path, quality=60)


def _lines(args: tuple[int, int, int]) -> str:
    """Records `[start, stop)` of the validate input, JSONL (a random stream per chunk: any pool size)."""
    from validate import _corrupt, _obj

    start, stop, images = args
    rng = random.Random(start)
    lines = []
    for i in range(start, stop):
        k = i % images
        w, h = SIZES[k % 4]
        rec: dict[str, Any] = {
            "id": f"r{i:08d}",
            "images": [f"images/{k:06d}.jpg"],
            "width": w,
            "height": h,
            "objects": [_obj(rng, w, h) for _ in range(rng.randint(5, 60))],
        }
        if i % 3 == 0:
            del rec["id"]
        lines.append(_corrupt(rng, rec) if rng.random() < 0.03 else json.dumps(rec, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def make_validate_input(root: Path, records: int, images: int) -> Path:
    data = root / "data.jsonl"
    if data.exists():
        return data
    (root / "images").mkdir(parents=True, exist_ok=True)
    jobs = [(str(root / "images" / f"{k:06d}.jpg"), *SIZES[k % 4], k) for k in range(images)]
    chunks = [(a, min(records, a + 2000), images) for a in range(0, records, 2000)]
    with ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        list(pool.map(_image, jobs, chunksize=64))
        with open(data, "w", encoding="utf-8") as fh:
            for text in pool.map(_lines, chunks):
                fh.write(text)
    return data


def warm(root: Path) -> None:
    """Read every input file once, so no worker count pays for a cold page cache."""
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                while fh.read(1 << 22):
                    pass


def make_audit_input(root: Path, jsonl: Path) -> tuple[Path, Path]:
    from vlmdata.io.engine import EngineOptions
    from vlmdata.models.tokenizer import build_backend_tokenizer
    from vlmdata.validate import ValidateOptions, validate_files

    dataset = root / "validated"
    if not (dataset / "data" / "state.json").exists():
        validate_files([jsonl], dataset, ValidateOptions(image_check=False, engine=EngineOptions()))
    tok = root / "tokenizer"
    if not (tok / "tokenizer.json").exists():
        tok.mkdir(exist_ok=True)
        build_backend_tokenizer().save(str(tok / "tokenizer.json"))
    config = root / "run.yaml"
    config.write_text(
        f"model: {{path: {tok}}}\ntemplate: {{name: target_dense_bbu, max_pixels: 1048576, min_pixels: 3136}}\n"
        "global_max_length: 32768\ndata: {train: [x]}\n",
        encoding="utf-8",
    )
    return dataset, config


# -- runs -----------------------------------------------------------------------------------------------------
def run_validate(jsonl: Path, out: Path, workers: int) -> int:
    from vlmdata.io.engine import EngineOptions
    from vlmdata.validate import ValidateOptions, validate_files

    report = validate_files(
        [jsonl], out, ValidateOptions(image_check=True, engine=EngineOptions(workers=workers))
    )
    return report.total("lines")


def make_augment_input(root: Path, validated: Path, records: int) -> Path:
    from vlmdata.io.dataset import open_dataset, save_dataset

    subset = root / f"augment-input-{records}"
    if not (subset / "state.json").exists():
        ds = open_dataset(validated)
        save_dataset(ds.select(range(min(records, len(ds)))), subset)
    return subset


def run_augment(dataset: Path, out: Path, workers: int) -> int:
    from vlmdata.augment.offline import augment_dataset
    from vlmdata.io.engine import EngineOptions

    config = Path(__file__).resolve().parents[1] / "configs" / "augment" / "grounding.yaml"
    result = augment_dataset(config, dataset, out, engine=EngineOptions(workers=workers))
    return result.records_in


def run_audit(dataset: Path, config: Path, out: Path, workers: int) -> int:
    from vlmdata.audit.audit import audit_dataset
    from vlmdata.io.engine import EngineOptions

    report = audit_dataset([str(dataset)], config, engine=EngineOptions(workers=workers))
    out.mkdir(parents=True, exist_ok=True)
    body = report.to_dict()
    body["_lengths"] = [d.lengths.tolist() for d in report.datasets]
    (out / "audit.json").write_text(json.dumps(body), encoding="utf-8")
    return report.count


WARM_IMPORTS = {
    "validate": [
        "vlmdata.validate",
        "vlmdata.validate.shard",
        "vlmdata.contract.explain",
        "datasets.arrow_writer",
    ],
    "audit": ["vlmdata.audit.audit", "vlmdata.audit.batch", "vlmdata.audit.shard", "datasets"],
    "augment": [
        "vlmdata.augment.offline",
        "vlmdata.augment.pipeline",
        "vlmdata.contract.explain",
        "datasets",
    ],
}


def measure(name: str, run: Any, counts: list[int], rounds: int, work: Path) -> None:
    import importlib

    for module in WARM_IMPORTS.get(name, []):  # no worker count pays for the driver's first imports
        importlib.import_module(module)
    best: dict[int, float] = {}
    digests: dict[int, str] = {}
    records = 0
    for _ in range(rounds):
        for workers in counts:
            out = work / f"out-{name}"  # one folder for every count (outputs may name their own path)
            t0 = time.perf_counter()
            records = run(out, workers)
            wall = time.perf_counter() - t0
            best[workers] = min(best.get(workers, wall), wall)
            digest = tree_digest(out)
            if digests.setdefault(workers, digest) != digest:
                raise AssertionError(f"{name}: two runs with {workers} workers wrote different outputs")
    base = best.get(1)
    for workers in counts:
        emit(
            figure="scaling",
            command=name,
            workers=workers,
            records=records,
            wall_s=round(best[workers], 3),
            records_per_s=round(records / best[workers]),
            speedup_vs_1_worker=round(base / best[workers], 2) if base else None,
            same_output_as_1_worker=digests[workers] == digests[counts[0]],
            rounds=rounds,
            machine=machine(),
        )
        assert digests[workers] == digests[counts[0]], f"{name}: {workers} workers wrote another output"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20k records, 2k images")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument(
        "--workers", default=None, help="comma-separated worker counts (default: 1 and every core)"
    )
    ap.add_argument("--commands", default="validate,audit,augment")
    ap.add_argument("--augment-records", type=int, default=None, help="default 400 (--quick) / 2000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="keep inputs here (reused by later runs)")
    args = ap.parse_args(argv)
    records = args.records or (20_000 if args.quick else 200_000)
    cores = len(os.sched_getaffinity(0))
    counts = [int(w) for w in args.workers.split(",")] if args.workers else sorted({1, cores})
    commands = args.commands.split(",")
    with tempfile.TemporaryDirectory(prefix="vlmdata-scaling-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        jsonl = make_validate_input(work / "input", records, max(1, records // 10))
        emit(
            figure="inputs",
            records=records,
            jsonl_mb=round(jsonl.stat().st_size / 1e6, 1),
            images=max(1, records // 10),
            seconds=round(time.perf_counter() - t0, 1),
            machine=machine(),
        )
        warm(work / "input")
        if "validate" in commands:
            measure("validate", lambda out, w: run_validate(jsonl, out, w), counts, args.rounds, work)
        if "audit" in commands:
            dataset, config = make_audit_input(work / "input", jsonl)
            warm(dataset)
            measure("audit", lambda out, w: run_audit(dataset, config, out, w), counts, args.rounds, work)
        if "augment" in commands:
            dataset, _ = make_audit_input(work / "input", jsonl)
            n = args.augment_records or (400 if args.quick else 2000)
            subset = make_augment_input(work / "input", dataset / "data", n)
            warm(subset)
            measure("augment", lambda out, w: run_augment(subset, out, w), counts, args.rounds, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
