"""Exact areas of two polygonal regions, their intersection and union, by horizontal slabs.

A region is a closed ring of points, filled by the even–odd rule (a simple polygon is its interior; a
self-intersecting ring — a model's prediction can be one — is the set of points it winds around an odd
number of times, as a scanline fill draws it). No rasterising: nothing is lost at the boundary, so small
objects are measured as exactly as large ones.

The method: cut the plane into horizontal slabs at every vertex height and every height where two edges (of
either ring, including a ring's own edges) cross. Inside a slab no edge starts, ends or crosses another, so
the left-to-right order of the edges is fixed and the width of A, B and A ∩ B along a horizontal line is a
linear function of the height; its integral over the slab is the slab height times the width at mid-height
(the midpoint rule is exact for linear functions). Everything is vectorised over slabs × edges, in row
chunks so memory stays bounded; the cost is O(E²) for the crossing heights (E = total edge count), tiny for
the tens of vertices objects have. A pathological input (thousands of edges crossing each other: S slabs ×
E edges above `MAX_CELLS`) raises `TooComplex` instead of running for minutes; `eval.match` then falls back
to rasterising that pair.
"""

from __future__ import annotations

import numpy as np


def _ring(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) > 1 and np.array_equal(p[0], p[-1]):
        p = p[:-1]
    return p


MAX_CELLS = (
    50_000_000  # slabs × edges beyond which `region_areas` refuses (pathological, self-crossing input)
)
_CHUNK_CELLS = 1 << 20  # rows of a matrix processed at once: memory stays a few tens of MB


class TooComplex(ValueError):
    """The exact computation would take more than MAX_CELLS slab × edge cells (callers may rasterise)."""


def _crossing_heights(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Heights at which two edges (rows of a → b) cross at interior points of both (row chunks bound memory)."""
    d = b - a
    n = len(a)
    out = []
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for lo in range(0, n, step):
        rows = slice(lo, min(n, lo + step))
        da, db = d[rows, None, :], d[None, :, :]
        denom = da[..., 0] * db[..., 1] - da[..., 1] * db[..., 0]
        w = a[None, :, :] - a[rows, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (w[..., 0] * db[..., 1] - w[..., 1] * db[..., 0]) / denom
            u = (w[..., 0] * da[..., 1] - w[..., 1] * da[..., 0]) / denom
        hit = (denom != 0) & (t > 0) & (t < 1) & (u > 0) & (u < 1)
        hit &= np.arange(n)[None, :] > np.arange(rows.start, rows.stop)[:, None]  # each pair once
        i, _ = np.nonzero(hit)
        out.append(a[rows][i, 1] + t[hit] * d[rows][i, 1])
        if sum(len(x) for x in out) * n > MAX_CELLS:
            raise TooComplex(f"{n} edges crossing each other too often for an exact area")
    return np.concatenate(out) if out else np.zeros(0)


def _widths(a: np.ndarray, b: np.ndarray, owner: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Per height: width of region 0, of region 1, and of their intersection (columns), even–odd fill."""
    ya, yb = a[:, 1], b[:, 1]
    y = ys[:, None]
    crosses = (np.minimum(ya, yb) <= y) & (y < np.maximum(ya, yb)) & (ya != yb)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = a[:, 0] + (y - ya) * (b[:, 0] - a[:, 0]) / (yb - ya)
    x = np.where(crosses, x, np.inf)
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    who = owner[order]
    valid = np.isfinite(xs)
    inside0 = np.cumsum((who == 0) & valid, axis=1) % 2 == 1
    inside1 = np.cumsum((who == 1) & valid, axis=1) % 2 == 1
    with np.errstate(invalid="ignore"):
        gap = np.where(valid[:, 1:], np.diff(xs, axis=1), 0.0)
    in0, in1 = inside0[:, :-1], inside1[:, :-1]
    return np.stack(
        [(gap * in0).sum(axis=1), (gap * in1).sum(axis=1), (gap * (in0 & in1)).sum(axis=1)], axis=1
    )


def region_areas(points_a: np.ndarray, points_b: np.ndarray) -> tuple[float, float, float]:
    """(area of A, area of B, area of A ∩ B), exact up to float rounding."""
    pa, pb = _ring(points_a), _ring(points_b)
    if len(pa) < 3 and len(pb) < 3:
        return 0.0, 0.0, 0.0
    rings = [r for r in (pa, pb) if len(r) >= 3]
    owner_list = [i for i, r in enumerate((pa, pb)) if len(r) >= 3]
    a = np.concatenate(rings)
    b = np.concatenate([np.roll(r, -1, axis=0) for r in rings])
    owner = np.concatenate([np.full(len(r), i) for i, r in zip(owner_list, rings, strict=True)])
    if len(np.unique(a[:, 1])) * len(a) > MAX_CELLS:  # the vertex heights alone make too many slabs
        raise TooComplex(f"{len(a)} edges")
    ys = np.unique(np.concatenate((a[:, 1], _crossing_heights(a, b))))
    if len(ys) < 2:
        return 0.0, 0.0, 0.0
    if len(ys) * len(a) > MAX_CELLS:
        raise TooComplex(f"{len(ys)} slabs × {len(a)} edges")
    heights = np.diff(ys)
    mids = (ys[:-1] + ys[1:]) / 2
    total = np.zeros(3)
    step = max(1, _CHUNK_CELLS // max(len(a), 1))
    for lo in range(0, len(mids), step):
        widths = _widths(a, b, owner, mids[lo : lo + step])
        total += (heights[lo : lo + step, None] * widths).sum(axis=0)
    area_a, area_b, inter = total
    return float(area_a), float(area_b), float(inter)


def region_iou(points_a: np.ndarray, points_b: np.ndarray) -> float:
    area_a, area_b, inter = region_areas(points_a, points_b)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0
