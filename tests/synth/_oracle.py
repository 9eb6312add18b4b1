"""Independent float64 oracles for the synth tests: rasterising geometry and checking records by hand.

Written from the contract, not from the generator's code: a pixel (i, j) belongs to a shape when its centre
(i + 0.5, j + 0.5) lies inside it (boxes, polygons by ray casting) or within half the stroke width of the
polyline (lines).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def pixel_centres(x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    return xs + 0.5, ys + 0.5


def box_mask(box: list[float], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    return (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)


def polygon_mask(flat: list[float], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(xs.shape, dtype=bool)
    n = len(pts)
    for k in range(n):
        (xa, ya), (xb, yb) = pts[k], pts[(k + 1) % n]
        crosses = (ya > ys) != (yb > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = xa + (ys - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (xs < x_at)
    return inside


def polyline_mask(flat: list[float], width: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    best = np.full(xs.shape, np.inf)
    for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
        dx, dy = xb - xa, yb - ya
        t = np.clip(((xs - xa) * dx + (ys - ya) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        best = np.minimum(best, np.hypot(xs - (xa + t * dx), ys - (ya + t * dy)))
    return best <= width / 2


def shoelace2(flat: list[float]) -> float:
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def clean_records(out: Path) -> list[dict[str, Any]]:
    """Clean records of a synth folder: data.jsonl minus the manifest's lines, plus val.jsonl."""
    planted = set()
    manifest = out / "corrupt_manifest.json"
    if manifest.exists():
        planted = {e["line"] for e in json.loads(manifest.read_text(encoding="utf-8"))["entries"]}
    recs = [
        json.loads(line) for no, line in enumerate(read_lines(out / "data.jsonl"), 1) if no not in planted
    ]
    if (out / "val.jsonl").exists():
        recs += [json.loads(line) for line in read_lines(out / "val.jsonl")]
    return recs
