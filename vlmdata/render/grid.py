"""The model-facing coordinate frame and the canonical geometry order, as the dense renderer uses them.

Both come from the geometry package, the single definition (`vlmdata.geometry.frames.to_qwen_grid`: integers
`floor(x / W · 1000 + 0.5)` — half-up, not Python's half-to-even — clamped to [0, 1000];
`vlmdata.geometry.canonical.canonicalize`: polygons without a closing vertex, duplicates or collinear
vertices, clockwise on screen, starting at the smallest (y, x) vertex; lines reversed when the last point is
smaller than the first by (x, y)). The small pure-Python versions below have the same arithmetic and are
used only where the geometry package is unavailable.

The renderer canonicalises in pixels, converts to the grid, then canonicalises again on the integers
(rounding can merge vertices or make them collinear): the written target is itself canonical, which a reader
can check from the text alone. A shape that collapses on the grid keeps its rounded points instead of
vanishing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Point = tuple[float, float]

try:  # the geometry package is the definition; the fallbacks mirror it
    from vlmdata.geometry.canonical import canonicalize as _geo_canonicalize
    from vlmdata.geometry.frames import to_qwen_grid as _geo_to_grid
except ImportError:  # pragma: no cover - only without the geometry package
    _geo_canonicalize = None
    _geo_to_grid = None


def _own_to_grid(points: Sequence[float], width: float, height: float) -> list[int]:
    out = []
    for i, v in enumerate(points):
        g = math.floor(float(v) / float(width if i % 2 == 0 else height) * 1000.0 + 0.5)
        out.append(0 if g < 0 else 1000 if g > 1000 else int(g))
    return out


def to_grid(points: Sequence[float], width: float, height: float) -> list[int]:
    """Flat pixel coordinates `[x1, y1, ...]` → flat ints on the 0–1000 grid (half-up, clamped)."""
    if _geo_to_grid is not None:
        return [int(v) for v in _geo_to_grid([float(v) for v in points], width, height)]
    return _own_to_grid(points, width, height)


def pairs(flat: Sequence[Any]) -> list[Point]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2)]


def _own_canonicalize(kind: str, pts: list[Point]) -> list[Point]:
    if kind == "line":
        return pts[::-1] if len(pts) >= 2 and pts[-1] < pts[0] else list(pts)
    if kind != "poly":
        return list(pts)
    ring = dedupe_consecutive(pts, closed=True)
    changed = True
    while changed and len(ring) >= 3:
        changed = False
        for i in range(len(ring)):
            (ax, ay), (bx, by), (cx, cy) = ring[i - 1], ring[i], ring[(i + 1) % len(ring)]
            if (bx - ax) * (cy - by) - (by - ay) * (cx - bx) == 0:
                del ring[i]
                changed = True
                break
    n = len(ring)
    if n < 3:
        return ring
    if sum(ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1] for i in range(n)) < 0:
        ring.reverse()
    k = min(range(n), key=lambda i: (ring[i][1], ring[i][0]))
    return ring[k:] + ring[:k]


def canonicalize_pairs(kind: str, pts: list[Point]) -> list[Point]:
    if _geo_canonicalize is not None:
        return pairs(_geo_canonicalize(kind, [float(c) for p in pts for c in p]))
    return _own_canonicalize(kind, pts)


def dedupe_consecutive(pts: list[Point], closed: bool) -> list[Point]:
    out: list[Point] = []
    for p in pts:
        if not out or out[-1] != p:
            out.append(p)
    while closed and len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out
