"""The model-facing coordinate frame and the canonical geometry order, as the dense renderer applies them.

The definitions live in the geometry package: `vlmdata.geometry.frames.to_qwen_grid` (integers
`floor(x / W · 1000 + 0.5)` — half-up, not Python's half-to-even — clamped to [0, 1000]) and
`vlmdata.geometry.canonical.canonicalize` (polygons without a closing vertex, duplicates or collinear vertices,
clockwise on screen, starting at the smallest (y, x) vertex; lines reversed when the last point is smaller than
the first by (x, y)). Rendering calls them once per object, where numpy's per-call overhead on a handful of
points made targets ~5× slower than these pure-Python ports of the same float64 arithmetic, step for step.
tests/render/test_grid.py checks the ports against the geometry package on random and adversarial shapes.

The renderer canonicalises in pixels, converts to the grid, then canonicalises again on the integers
(rounding can merge vertices or make them collinear): the written target is itself canonical, which a reader
can check from the text alone. A shape that collapses on the grid keeps its rounded points instead of
vanishing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]

_COLLINEAR_RTOL = 1e-12  # vlmdata.geometry.canonical._COLLINEAR_RTOL


def to_grid(points: Sequence[float], width: float, height: float) -> list[int]:
    """Flat pixel coordinates `[x1, y1, ...]` → flat ints on the 0–1000 grid (half-up, clamped)."""
    w, h = float(width), float(height)
    out = []
    for i, v in enumerate(points):
        g = math.floor(float(v) / (w if i % 2 == 0 else h) * 1000.0 + 0.5)
        out.append(0 if g < 0 else 1000 if g > 1000 else g)
    return out


def pairs(flat: Sequence[float]) -> list[Point]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2)]


def clean_polygon(pts: list[Point]) -> list[Point]:
    """Drop the closing vertex, consecutive duplicates and collinear vertices (passes as in the geometry package)."""
    p = list(pts)
    for _ in range(len(p) + 1):
        n = len(p)
        if n < 3:
            return p
        dup = [p[i] == p[(i + 1) % n] for i in range(n)]
        if any(dup):
            p = [q for q, d in zip(p, dup, strict=True) if not d]
            continue
        flat = []
        for i in range(n):
            (ax, ay), (bx, by), (cx, cy) = p[i - 1], p[i], p[(i + 1) % n]
            ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
            cross = ux * vy - uy * vx
            flat.append(abs(cross) <= _COLLINEAR_RTOL * (math.hypot(ux, uy) * math.hypot(vx, vy)))
        if not any(flat):
            return p
        if all(flat):
            return []
        p = [q for i, q in enumerate(p) if not (flat[i] and not flat[i - 1])]
    return p


def canonical_poly(pts: list[Point]) -> list[Point]:
    p = clean_polygon(pts)
    n = len(p)
    if n < 3:
        return p
    area2 = sum(p[i][0] * p[(i + 1) % n][1] for i in range(n)) - sum(
        p[(i + 1) % n][0] * p[i][1] for i in range(n)
    )
    if area2 < 0:
        p.reverse()
    k = min(range(n), key=lambda i: (p[i][1], p[i][0]))
    return p[k:] + p[:k]


def canonical_line(pts: list[Point]) -> list[Point]:
    return pts[::-1] if len(pts) >= 2 and pts[-1] < pts[0] else list(pts)


def canonicalize_pairs(kind: str, pts: list[Point]) -> list[Point]:
    if kind == "poly":
        return canonical_poly(pts)
    if kind == "line":
        return canonical_line(pts)
    return list(pts)


def dedupe_consecutive(pts: list[Point], closed: bool) -> list[Point]:
    out: list[Point] = []
    for p in pts:
        if not out or out[-1] != p:
            out.append(p)
    while closed and len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out
