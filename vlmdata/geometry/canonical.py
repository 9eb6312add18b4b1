"""Canonical point order, applied after every geometric change and when targets are rendered.

- `bbox_2d`: `[min x, min y, max x, max y]`.
- `poly`: a repeated closing vertex is dropped, consecutive duplicates and collinear vertices are removed, the
  ring runs clockwise on screen (y down, i.e. positive shoelace area) and starts at the vertex with the
  smallest y (ties: smallest x).
- `line`: the interior order is kept; the whole line is reversed when its last point is smaller than its first
  by (x, y).

`canonicalize(kind, points)` accepts a flat `[x1, y1, ...]` list or an `(N, 2)` array and answers in the
same form (a flat list of floats for list input, an array for array input).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_COLLINEAR_RTOL = 1e-12


def clean_polygon(points: np.ndarray) -> np.ndarray:
    """Drop the closing vertex, consecutive duplicates and collinear (including back-tracking) vertices."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    for _ in range(len(p) + 1):  # each pass removes every flagged vertex at once; terminates fast
        n = len(p)
        if n < 3:
            return p
        nxt = np.concatenate((p[1:], p[:1]))
        dup = np.all(p == nxt, axis=1)
        if dup.any():
            p = p[~dup]
            continue
        prv = np.concatenate((p[-1:], p[:-1]))
        u, v = p - prv, nxt - p
        cross = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
        scale = np.hypot(u[:, 0], u[:, 1]) * np.hypot(v[:, 0], v[:, 1])
        flat = np.abs(cross) <= _COLLINEAR_RTOL * scale
        if not flat.any():
            return p
        if flat.all():
            return p[:0]
        # remove non-adjacent flagged vertices first so a run of collinear points keeps its end points
        drop = flat & ~np.concatenate((flat[-1:], flat[:-1]))
        p = p[~drop]
    return p


def canonical_poly(points: np.ndarray) -> np.ndarray:
    p = clean_polygon(points)
    if len(p) < 3:
        return p
    x, y = p[:, 0], p[:, 1]
    # the orientation from an exactly rounded sum of the cross terms: the same multiset of products for every
    # rotation of the ring (and their negation for its reversal), so a self-intersecting ring whose signed area
    # is ~0 gets one orientation, and canonicalising its canonical form changes nothing
    terms = np.concatenate((x * np.roll(y, -1), -(np.roll(x, -1) * y)))
    area2 = math.fsum(terms.tolist())
    if area2 < 0:
        p = p[::-1]
    start = int(np.lexsort((p[:, 0], p[:, 1]))[0])
    return p if start == 0 else np.concatenate((p[start:], p[:start]))


def canonical_line(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) >= 2 and (p[-1, 0], p[-1, 1]) < (p[0, 0], p[0, 1]):
        return p[::-1].copy()
    return p.copy()


def canonical_bbox_2d(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.array([p.min(axis=0), p.max(axis=0)])


_CANON = {"bbox_2d": canonical_bbox_2d, "poly": canonical_poly, "line": canonical_line}


def canonicalize(kind: str, points: Any) -> Any:
    fn = _CANON.get(kind)
    if fn is None:
        from vlmdata.errors import VlmdataError
        from vlmdata.geometry.codes import UNKNOWN_KIND

        raise VlmdataError(
            UNKNOWN_KIND, "unknown geometry kind", value=kind, hint="use bbox_2d, poly or line"
        )
    arr = np.asarray(points, dtype=np.float64)
    out = fn(arr.reshape(-1, 2))
    if isinstance(points, np.ndarray):
        return out if arr.ndim == 2 else out.reshape(-1)
    return [float(v) for v in out.reshape(-1)]
