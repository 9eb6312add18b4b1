"""Benchmark: `vlmdata import coco` against a straightforward json.load + per-annotation loop, and import memory.

    python benchmarks/import.py [--quick] [--images N] [--annotations N] [--repeats K]

Generates a COCO instances file the way COCO's own files look (compact JSON, 2-decimal coordinates, the
official key order; 60 % polygon annotations of 8–40 vertices, 5 % of them in two parts, 40 % box-only), plus
one real JPEG per image (hard links to a few small files, so the header probe reads real files). Then, in the
same run, interleaved, best of `--repeats`:

- `vlmdata`: `import_source("coco", ...)` with header-only image probing off (sizes from the file) and on;
- `peer`: `json.load` + a Python loop over the annotations producing the same records (same ids, paths, sizes,
  objects, metadata), written with `json.dumps` per record; with probing on it reads each image's size with
  `PIL.Image.open` (EXIF orientation applied).

Both outputs are parsed back and compared record by record before any figure is printed. Memory: peak RSS of
a child process importing, for COCO (vlmdata and peer) and for a streaming format (ODVG JSONL of the same
images and boxes) at the full size and at a tenth of it; the streaming figure should not grow with the number
of images. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
MACHINE = "2-core CPU dev box, shared"
SIZES = [(640, 480), (480, 640), (640, 427), (500, 375), (800, 600)]


def generate(root: Path, n_images: int, n_anns: int, seed: int = 0) -> tuple[Path, Path]:
    """(COCO instances file, ODVG JSONL of the same boxes), with an image file per image under root/images."""
    from PIL import Image

    rng = random.Random(seed)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    originals = []
    for k, (w, h) in enumerate(SIZES):
        p = root / f"proto{k}.jpg"
        Image.new("RGB", (w, h), (20 * k, 90, 160)).save(p, quality=40)
        originals.append(p)
    images = []
    for i in range(n_images):
        k = i % len(SIZES)
        w, h = SIZES[k]
        name = f"{i + 1:012d}.jpg"
        target = images_dir / name
        if not target.exists():
            os.link(originals[k], target)
        images.append(
            {
                "license": 1,
                "file_name": name,
                "coco_url": f"http://images.cocodataset.org/train2017/{name}",
                "height": h,
                "width": w,
                "date_captured": "2013-11-14 17:02:52",
                "flickr_url": f"http://farm4.staticflickr.com/{name}",
                "id": i + 1,
            }
        )
    cats = [{"supercategory": f"group {c // 10}", "id": c + 1, "name": f"class {c}"} for c in range(80)]
    anns = []
    for a in range(n_anns):
        image = images[rng.randrange(n_images)]
        w, h = image["width"], image["height"]
        r = rng.uniform(4, 40)
        cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
        if rng.random() < 0.6:
            parts = 2 if rng.random() < 0.05 else 1
            seg = []
            for p in range(parts):
                k = rng.randint(8, 40)
                ox = (p * 0.4 - 0.2) * r if parts == 2 else 0.0
                pts = []
                for j in range(k):
                    t = 6.283185307179586 * j / k
                    rr = r * rng.uniform(0.55, 1.0) / parts
                    pts += [round(cx + ox + rr * math.cos(t), 2), round(cy + rr * math.sin(t), 2)]
                seg.append(pts)
            xs = [v for s in seg for v in s[0::2]]
            ys = [v for s in seg for v in s[1::2]]
            bbox = [min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]
        else:
            seg = []
            bbox = [round(cx - r, 2), round(cy - r, 2), round(2 * r, 2), round(2 * r * 0.8, 2)]
        anns.append(
            {
                "segmentation": seg,
                "area": round(bbox[2] * bbox[3] * 0.7, 4),
                "iscrowd": 0,
                "image_id": image["id"],
                "bbox": bbox,
                "category_id": rng.randrange(80) + 1,
                "id": a + 1,
            }
        )
    coco = root / "instances.json"
    with open(coco, "w") as fh:
        json.dump(
            {
                "info": {"description": "benchmark"},
                "licenses": [],
                "images": images,
                "annotations": anns,
                "categories": cats,
            },
            fh,
        )
    per_image: dict[int, list[dict[str, Any]]] = {}
    for a in anns:
        per_image.setdefault(a["image_id"], []).append(a)
    odvg = root / "odvg.jsonl"
    with open(odvg, "w") as fh:
        for im in images:
            inst = [
                {
                    "bbox": [
                        a["bbox"][0],
                        a["bbox"][1],
                        a["bbox"][0] + a["bbox"][2],
                        a["bbox"][1] + a["bbox"][3],
                    ],
                    "label": a["category_id"] - 1,
                    "category": f"class {a['category_id'] - 1}",
                }
                for a in per_image.get(im["id"], [])
            ]
            if inst:
                fh.write(
                    json.dumps(
                        {
                            "filename": im["file_name"],
                            "height": im["height"],
                            "width": im["width"],
                            "detection": {"instances": inst},
                        }
                    )
                    + "\n"
                )
    return coco, odvg


def peer(src: Path, out: Path, image_root: Path, probe: bool) -> int:
    """The straightforward converter: json.load, a dict per image, a loop over the annotations, json.dumps."""
    from PIL import Image

    with open(src) as fh:
        data = json.load(fh)
    stem = src.stem
    images = {im["id"]: im for im in data["images"]}
    cats = {c["id"]: c for c in data["categories"]}
    per_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        cat = cats[ann["category_id"]]
        meta = {k: v for k, v in ann.items() if k not in ("segmentation", "attributes", "image_id")}
        objs = per_image.setdefault(images[ann["image_id"]]["id"], [])
        if ann["segmentation"]:
            parts = ann["segmentation"]
            for p, poly in enumerate(parts):
                m = meta if len(parts) == 1 else {**meta, "part": p, "parts": len(parts)}
                objs.append({"desc": cat["name"], "poly": poly, "metadata": {"coco": m}})
        else:
            x, y, w, h = ann["bbox"]
            objs.append({"desc": cat["name"], "bbox_2d": [x, y, x + w, y + h], "metadata": {"coco": meta}})
    n = 0
    with open(out, "w") as fh:
        for im in data["images"]:
            objs = per_image.get(im["id"])
            if not objs:
                continue
            width, height = im["width"], im["height"]
            if probe:
                with Image.open(image_root / im["file_name"]) as pil:
                    width, height = pil.size
                    if pil.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                        width, height = height, width
            used = []
            for o in objs:
                c = cats[o["metadata"]["coco"]["category_id"]]
                entry = {k: c[k] for k in ("id", "name", "supercategory") if k in c}
                if entry not in used:
                    used.append(entry)
            record = {
                "id": f"{stem}:{im['id']}",
                "images": [im["file_name"]],
                "width": width,
                "height": height,
                "objects": objs,
                "metadata": {
                    "_import": {"format": "coco", "file": str(src)},
                    "coco": {"image": im, "categories": used},
                },
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def ours(fmt: str, src: Path, out: Path, image_root: Path, probe: bool) -> int:
    from vlmdata.importers import ImportOptions, import_source

    report = import_source(fmt, src, out, ImportOptions(image_root=str(image_root), probe=probe))
    return report.totals()["records"]["imported"]


def same_records(a: Path, b: Path) -> int:
    import msgspec

    n = 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for la, lb in zip(fa, fb, strict=True):
            ra, rb = msgspec.json.decode(la), msgspec.json.decode(lb)
            ra["metadata"]["coco"]["categories"].sort(key=lambda c: c["id"])
            rb["metadata"]["coco"]["categories"].sort(key=lambda c: c["id"])
            if ra != rb:
                raise SystemExit(f"records differ at line {n + 1}:\n{la[:400]!r}\n{lb[:400]!r}")
            n += 1
    return n


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike getrusage's ru_maxrss)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss(args: list[str]) -> float:
    """Peak RSS (MiB) of a child process running this script with `args`."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def emit(**fields: Any) -> None:
    fields.setdefault("machine", MACHINE)
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k images / 100k annotations")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--annotations", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--sections", default="timing,memory", help="timing, memory or both (comma-separated)")
    ap.add_argument(
        "--child", nargs=5, metavar=("WHO", "FMT", "SRC", "ROOT", "PROBE"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    if args.child:  # one import in this process, then its peak RSS
        who, fmt, src, root, probe = args.child
        out = Path(tempfile.mkdtemp()) / "o.jsonl"
        if who == "peer":
            peer(Path(src), out, Path(root), probe=probe == "probe")
        else:
            ours(fmt, Path(src), out, Path(root), probe=probe == "probe")
        print(json.dumps({"peak_rss_mib": _peak_rss_mib()}))
        return 0
    n_images = args.images or (10_000 if args.quick else 100_000)
    n_anns = args.annotations or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (3 if args.quick else 2)
    command = "python benchmarks/import.py" + (" --quick" if args.quick else "")
    with tempfile.TemporaryDirectory(prefix="vlmdata-import-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        coco, odvg = generate(root, n_images, n_anns)
        small = root / "small"
        coco_small, odvg_small = generate(small, max(1, n_images // 10), max(1, n_anns // 10), seed=1)
        emit(
            figure="generated",
            images=n_images,
            annotations=n_anns,
            coco_mib=round(coco.stat().st_size / 2**20, 1),
            seconds=round(time.perf_counter() - t0, 1),
            command=command,
            python=platform.python_version(),
        )
        sections = set(args.sections.split(","))
        for probe in (False, True) if "timing" in sections else ():
            best: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for _ in range(repeats):
                for who in ("peer", "vlmdata"):
                    out = root / f"{who}.jsonl"
                    if out.exists():
                        out.unlink()
                        Path(str(out).replace(".jsonl", ".import.json")).unlink(missing_ok=True)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    if who == "peer":
                        peer(coco, out, root / "images", probe)
                    else:
                        ours("coco", coco, out, root / "images", probe)
                    best[who] = min(best.get(who, float("inf")), time.perf_counter() - start)
                    cpu[who] = min(cpu.get(who, float("inf")), time.process_time() - start_cpu)
            records = same_records(root / "vlmdata.jsonl", root / "peer.jsonl")
            mode = "probe on (header-only, every image)" if probe else "probe off (sizes from the file)"
            emit(
                figure=f"coco import, {mode}",
                annotations=n_anns,
                records=records,
                vlmdata_ann_per_s=round(n_anns / best["vlmdata"]),
                peer_ann_per_s=round(n_anns / best["peer"]),
                vlmdata_s=round(best["vlmdata"], 2),
                peer_s=round(best["peer"], 2),
                ratio=round(best["peer"] / best["vlmdata"], 2),
                vlmdata_cpu_s=round(cpu["vlmdata"], 2),
                peer_cpu_s=round(cpu["peer"], 2),
                cpu_ratio=round(cpu["peer"] / cpu["vlmdata"], 2),
                load_avg=round(os.getloadavg()[0], 1),
                peer="json.load + per-annotation loop + json.dumps",
                identical_records=True,
                command=command,
            )
        runs = [
            ("vlmdata", "coco", coco, coco_small),
            ("peer", "coco", coco, coco_small),
            ("vlmdata", "odvg", odvg, odvg_small),
        ]
        for who, fmt, big, little in runs if "memory" in sections else []:
            probe = "probe" if fmt == "odvg" else "no-probe"  # the streamed import reads every header
            full = child_peak_rss(["--child", who, fmt, str(big), str(root / "images"), probe])
            tenth = child_peak_rss(["--child", who, fmt, str(little), str(small / "images"), probe])
            emit(
                figure=f"peak RSS, {who} {fmt} ({probe})",
                images_full=n_images,
                full_mib=round(full, 1),
                images_tenth=max(1, n_images // 10),
                tenth_mib=round(tenth, 1),
                growth=round(full / tenth, 2),
                command=command,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
