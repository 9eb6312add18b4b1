"""Benchmark: hflip + rotate + colour jitter on 1024×768 images with ~30 boxes and polygons, one core.

Peers measured in the same run on the same images and objects:
- albumentations 2.x (HorizontalFlip + Rotate + ColorJitter, boxes as pascal_voc, polygon vertices as
  keypoints; bicubic, constant fill 128),
- PIL (transpose + rotate(expand=True) + ImageEnhance brightness/contrast/colour; points by a numpy matrix).

Figures (one JSON line each): images/s of each, the ratios vlmdata / peer, and the max vertex drift of
vlmdata's polygons and of albumentations' keypoints against an independent float64 oracle (complex
arithmetic), over the objects that stay fully inside the canvas.

    python benchmarks/augment.py [--quick]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import cmath  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

W, H, ANGLE = 1024, 768, 15.0


def make_data(n: int, seed: int = 0) -> list[tuple[np.ndarray, list[dict]]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        img = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, rng.integers(0, 24, (H, W, 3), dtype=np.uint8))
        objs = []
        for k in range(30):
            cx, cy = rng.uniform(250, W - 250), rng.uniform(200, H - 200)
            r = rng.uniform(20, 60)
            if k % 2 == 0:
                objs.append(
                    {
                        "desc": f"box{k}",
                        "kind": "bbox_2d",
                        "points": [cx - r, cy - r * 0.7, cx + r, cy + r * 0.7],
                    }
                )
            else:
                m = int(rng.integers(5, 9))
                ang = np.sort(rng.uniform(0, 2 * np.pi, m))
                rad = r * rng.uniform(0.6, 1.0, m)
                pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
                objs.append({"desc": f"poly{k}", "kind": "poly", "points": pts.reshape(-1).tolist()})
        out.append((img, objs))
        del i
    return out


def oracle(points: list[float]) -> np.ndarray:
    c = complex(W / 2, H / 2)
    rot = cmath.exp(-1j * math.radians(ANGLE))  # counter-clockwise on screen, y down
    zs = [c + (complex(W - x, y) - c) * rot for x, y in zip(points[::2], points[1::2], strict=True)]
    return np.array([[z.real, z.imag] for z in zs])


def drift(found: np.ndarray, expected: np.ndarray) -> float:
    d = np.linalg.norm(found[:, None, :] - expected[None, :, :], axis=2)
    return float(max(d.min(axis=0).max(), d.min(axis=1).max()))


def inside(p: np.ndarray) -> bool:
    return bool(p[:, 0].min() > 1 and p[:, 0].max() < W - 1 and p[:, 1].min() > 1 and p[:, 1].max() < H - 1)


def run_vlmdata(data):
    from vlmdata.augment import AugmentPipeline, augment_record

    pipe = AugmentPipeline.from_config(
        {
            "seed": 0,
            "ops": [
                {"name": "hflip", "params": {"p": 1.0}},
                {"name": "rotate", "params": {"p": 1.0, "angle_range": [ANGLE, ANGLE]}},
                {
                    "name": "color_jitter",
                    "params": {
                        "p": 1.0,
                        "brightness_range": [0.8, 1.2],
                        "contrast_range": [0.8, 1.2],
                        "saturation_range": [0.8, 1.2],
                        "hue_range": [-0.02, 0.02],
                    },
                },
            ],
        }
    )
    outs = []
    t0 = time.perf_counter()
    for i, (img, objs) in enumerate(data):
        rec = {"id": f"img{i}", "width": W, "height": H, "objects": objs}
        outs.append(augment_record(rec, [img], pipe, epoch=0))
    dt = time.perf_counter() - t0
    worst = 0.0
    for (_, objs), res in zip(data, outs, strict=True):
        by = {o["desc"]: o for o in res.objects}
        for o in objs:
            if o["kind"] != "poly":
                continue
            exp = oracle(o["points"])
            if inside(exp):
                worst = max(worst, drift(np.asarray(by[o["desc"]]["points"]).reshape(-1, 2), exp))
    return dt, worst


def run_albumentations(data):
    import albumentations as A

    tf = A.Compose(
        [
            A.HorizontalFlip(p=1.0),
            A.Rotate(
                limit=(ANGLE, ANGLE),
                p=1.0,
                interpolation=cv2.INTER_CUBIC,
                border_mode=cv2.BORDER_CONSTANT,
                fill=128,
            ),
            A.ColorJitter(
                brightness=(0.8, 1.2), contrast=(0.8, 1.2), saturation=(0.8, 1.2), hue=(-0.02, 0.02), p=1.0
            ),
        ],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["box_labels"]),
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False, label_fields=["kp_labels"]),
        seed=0,
    )
    prepared = []
    for img, objs in data:
        boxes = [o["points"] for o in objs if o["kind"] == "bbox_2d"]
        kps, owner = [], []
        for k, o in enumerate(objs):
            if o["kind"] == "poly":
                pts = np.asarray(o["points"]).reshape(-1, 2)
                kps.extend(map(tuple, pts))
                owner.extend([k] * len(pts))
        prepared.append((img, boxes, kps, owner, objs))
    outs = []
    t0 = time.perf_counter()
    for img, boxes, kps, owner, _ in prepared:
        outs.append(
            tf(image=img, bboxes=boxes, box_labels=list(range(len(boxes))), keypoints=kps, kp_labels=owner)
        )
    dt = time.perf_counter() - t0
    worst = 0.0
    for (_, _, _, _, objs), out in zip(prepared, outs, strict=True):
        got = np.asarray(out["keypoints"])[:, :2]
        labels = np.asarray(out["kp_labels"])
        for k, o in enumerate(objs):
            if o["kind"] != "poly":
                continue
            exp = oracle(o["points"])
            if inside(exp):
                worst = max(worst, float(np.abs(got[labels == k] - exp).max()))
    return dt, worst


def run_pil(data):
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(0)
    pils = [(Image.fromarray(img), objs) for img, objs in data]
    t0 = time.perf_counter()
    for im, objs in pils:
        out = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(
            ANGLE, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128)
        )
        for enh in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            out = enh(out).enhance(float(rng.uniform(0.8, 1.2)))
        a = math.radians(ANGLE)
        c, s = math.cos(a), math.sin(a)
        nw, nh = out.size
        m = np.array([[-c, s], [s, c]])  # flip then counter-clockwise rotation (y down)
        for o in objs:
            pts = np.asarray(o["points"]).reshape(-1, 2) - [W / 2, H / 2]
            _ = pts @ m.T + [nw / 2, nh / 2]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, repeats = (6, 1) if args.quick else (30, 3)
    data = make_data(n)
    import albumentations

    run_vlmdata(data[:2]), run_albumentations(data[:2]), run_pil(data[:2])  # warm-up
    best: dict[str, float] = {"vlmdata": math.inf, "albumentations": math.inf, "pil": math.inf}
    drift_v = drift_a = 0.0
    for _ in range(repeats):  # interleaved, best of `repeats`: the machine is shared
        dt, drift_v = run_vlmdata(data)
        best["vlmdata"] = min(best["vlmdata"], dt)
        dt, drift_a = run_albumentations(data)
        best["albumentations"] = min(best["albumentations"], dt)
        best["pil"] = min(best["pil"], run_pil(data))
    machine = f"{platform.machine()} {os.cpu_count()} cpu(s), 1 thread; {platform.python_version()}"
    common = {"images": n, "size": [W, H], "objects_per_image": 30, "repeats": repeats, "machine": machine}
    ips = {k: n / v for k, v in best.items()}
    for k, v in ips.items():
        print(json.dumps({"figure": "images_per_s", "impl": k, "value": round(v, 2), **common}))
    print(
        json.dumps(
            {
                "figure": "ratio_vs_albumentations",
                "value": round(ips["vlmdata"] / ips["albumentations"], 3),
                "albumentations": albumentations.__version__,
                **common,
            }
        )
    )
    print(json.dumps({"figure": "ratio_vs_pil", "value": round(ips["vlmdata"] / ips["pil"], 3), **common}))
    print(json.dumps({"figure": "max_vertex_drift_px", "impl": "vlmdata", "value": drift_v, "target": 0.5}))
    print(
        json.dumps(
            {"figure": "max_vertex_drift_px", "impl": "albumentations", "value": drift_a, "target": 0.5}
        )
    )


if __name__ == "__main__":
    main()
