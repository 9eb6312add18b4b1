"""Pure float64 kernels per geometry kind, and the one dispatch table `KERNELS[op][kind]`.

Every kernel takes an `(N, 2)` float64 array of points in the contract's continuous pixel convention (origin
top-left, y down, the image covers `[0, W] × [0, H]`) and returns a new array; nothing is mutated. A box is
held as its two corners `[[x1, y1], [x2, y2]]`. Kernels are vectorised over points: the only Python loops
run over clip edges (four) or polyline pieces, never over vertices.

Ops of the table:
- `affine(points, M)`: apply a 3×3 affine matrix. For `bbox_2d` it returns the four transformed corners
  (TL, TR, BR, BL) as a polygon; `transform_object` turns them back into a box when the matrix keeps axes.
- `clip(points, rect)`: intersect with `rect = (x0, y0, x1, y1)`; returns a list of pieces (empty when
  nothing is left). Polygons: Sutherland–Hodgman, vertices kept, duplicate and collinear vertices removed; a
  concave polygon that leaves and re-enters the window gives one piece per part (`pieces.split_clipped_ring`),
  never one ring bridged along the window edge. Polylines: Liang–Barsky per segment; a line that leaves and
  re-enters gives several pieces; a repeated vertex (a zero-length segment) never splits a line.
- `measure(points)`: area (`bbox_2d`, `poly`) or length (`line`), ≥ 0.
- `degenerate(points)`: zero area, fewer than 3 distinct polygon vertices, fewer than 2 distinct line points.
- `canonical(points)`: the canonical order of `vlmdata.geometry.canonical`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vlmdata.geometry.canonical import canonical_bbox_2d, canonical_line, canonical_poly, clean_polygon
from vlmdata.geometry.pieces import split_clipped_ring

EPS_AREA = 1e-6  # px²: below this a box/polygon is degenerate
EPS_LENGTH = 1e-6  # px: below this a line is degenerate

Rect = tuple[float, float, float, float]


# ---------------------------------------------------------------- affine


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(matrix, dtype=np.float64)
    return pts @ m[:2, :2].T + m[:2, 2]


def bbox_corners(points: np.ndarray) -> np.ndarray:
    (x1, y1), (x2, y2) = np.asarray(points, dtype=np.float64).reshape(2, 2)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def affine_bbox_2d(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return affine_points(bbox_corners(points), matrix)


affine_poly = affine_points
affine_line = affine_points


def keeps_axes(matrix: np.ndarray, tol: float = 1e-12) -> bool:
    """True when the matrix maps axis-aligned boxes to axis-aligned boxes (scale, flip, translate, 90° turns)."""
    m = np.asarray(matrix, dtype=np.float64)
    scale = max(abs(m[0, 0]), abs(m[0, 1]), abs(m[1, 0]), abs(m[1, 1]), 1.0)
    diag = abs(m[0, 1]) <= tol * scale and abs(m[1, 0]) <= tol * scale
    anti = abs(m[0, 0]) <= tol * scale and abs(m[1, 1]) <= tol * scale
    return bool(diag or anti)


# ---------------------------------------------------------------- measure


def area_poly(points: np.ndarray) -> float:
    """Absolute shoelace area."""
    return abs(signed_area(points))


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the polygon runs clockwise on screen (y down)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1]))


def area_bbox_2d(points: np.ndarray) -> float:
    (x1, y1), (x2, y2) = np.asarray(points, dtype=np.float64).reshape(2, 2)
    return float(max(x2 - x1, 0.0) * max(y2 - y1, 0.0))


def length_line(points: np.ndarray) -> float:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) < 2:
        return 0.0
    return float(np.hypot(*np.diff(p, axis=0).T).sum())


# ---------------------------------------------------------------- degenerate


def degenerate_bbox_2d(points: np.ndarray) -> bool:
    (x1, y1), (x2, y2) = np.asarray(points, dtype=np.float64).reshape(2, 2)
    return bool(x2 - x1 <= 0 or y2 - y1 <= 0 or (x2 - x1) * (y2 - y1) <= EPS_AREA)


def degenerate_poly(points: np.ndarray) -> bool:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return bool(len(p) < 3 or area_poly(p) <= EPS_AREA)  # < 3 distinct vertices have zero area


def degenerate_line(points: np.ndarray) -> bool:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return bool(len(p) < 2 or length_line(p) <= EPS_LENGTH)  # all points equal: zero length


# ---------------------------------------------------------------- clip


def clip_bbox_2d(points: np.ndarray, rect: Rect) -> list[np.ndarray]:
    (x1, y1), (x2, y2) = np.asarray(points, dtype=np.float64).reshape(2, 2)
    out = np.array([[max(x1, rect[0]), max(y1, rect[1])], [min(x2, rect[2]), min(y2, rect[3])]])
    return [] if degenerate_bbox_2d(out) else [out]


def _clip_half_plane(p: np.ndarray, axis: int, bound: float, keep_greater: bool) -> np.ndarray:
    """One Sutherland–Hodgman pass against `p[:, axis] >= bound` (or `<=`), vectorised over edges."""
    if len(p) == 0:
        return p
    q = np.concatenate((p[1:], p[:1]))
    pin = p[:, axis] >= bound if keep_greater else p[:, axis] <= bound
    qin = np.concatenate((pin[1:], pin[:1]))
    cross = pin != qin
    denom = q[:, axis] - p[:, axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(cross, (bound - p[:, axis]) / np.where(cross, denom, 1.0), 0.0)
    inter = p + t[:, None] * (q - p)
    inter[:, axis] = bound  # exact on the clip edge
    both = np.stack([p, inter], axis=1)  # (n, 2, 2): vertex, then the crossing on its outgoing edge
    mask = np.stack([pin, cross], axis=1)
    return both[mask]


def clip_poly(points: np.ndarray, rect: Rect) -> list[np.ndarray]:
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = rect
    if len(p) and p[:, 0].min() >= x0 and p[:, 0].max() <= x1 and p[:, 1].min() >= y0 and p[:, 1].max() <= y1:
        out = p.copy()
    else:
        out = _clip_half_plane(p, 0, x0, True)
        out = _clip_half_plane(out, 0, x1, False)
        out = _clip_half_plane(out, 1, y0, True)
        out = _clip_half_plane(out, 1, y1, False)
        np.clip(out[:, 0], x0, x1, out=out[:, 0])
        np.clip(out[:, 1], y0, y1, out=out[:, 1])
        pieces = [clean_polygon(ring) for ring in split_clipped_ring(out, rect)]
        return [pc for pc in pieces if not degenerate_poly(pc)]
    out = clean_polygon(out)
    return [] if degenerate_poly(out) else [out]


def clip_line(points: np.ndarray, rect: Rect) -> list[np.ndarray]:
    """Liang–Barsky on every segment at once; consecutive segments that stay inside join into one piece."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    p = _dedupe_consecutive(p)  # a repeated vertex is a zero-length segment, not a gap in the line
    if len(p) < 2:
        return []
    x0, y0, x1, y1 = rect
    a, b = p[:-1], p[1:]
    d = b - a
    nonzero = (d[:, 0] != 0) | (d[:, 1] != 0)
    pp = np.stack([-d[:, 0], d[:, 0], -d[:, 1], d[:, 1]], axis=1)
    qq = np.stack([a[:, 0] - x0, x1 - a[:, 0], a[:, 1] - y0, y1 - a[:, 1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = qq / pp
    t0 = np.max(np.where(pp < 0, r, 0.0), axis=1)
    t1 = np.min(np.where(pp > 0, r, 1.0), axis=1)
    t0 = np.maximum(t0, 0.0)
    t1 = np.minimum(t1, 1.0)
    parallel_out = np.any((pp == 0) & (qq < 0), axis=1)
    keep = nonzero & ~parallel_out & (t1 > t0)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return []
    t0k, t1k = t0[idx], t1[idx]
    start = a[idx] + t0k[:, None] * d[idx]
    end = a[idx] + t1k[:, None] * d[idx]
    # exact endpoints where nothing was cut, so unclipped vertices are bit-identical
    start = np.where((t0k == 0.0)[:, None], a[idx], start)
    end = np.where((t1k == 1.0)[:, None], b[idx], end)
    new_piece = np.ones(len(idx), dtype=bool)
    new_piece[1:] = (idx[1:] != idx[:-1] + 1) | (t0k[1:] > 0.0) | (t1k[:-1] < 1.0)
    both = np.stack([start, end], axis=1)
    mask = np.stack([new_piece, np.ones(len(idx), dtype=bool)], axis=1)
    flat = both[mask]
    # float rounding in t can leave an end a few ulps outside: snap into the rectangle
    np.clip(flat[:, 0], x0, x1, out=flat[:, 0])
    np.clip(flat[:, 1], y0, y1, out=flat[:, 1])
    # index in `flat` where each piece begins: its segment index plus the pieces started before it
    starts = np.flatnonzero(new_piece) + np.arange(int(new_piece.sum()))
    pieces = np.split(flat, starts[1:])
    return [pc for pc in (_dedupe_consecutive(pc) for pc in pieces) if not degenerate_line(pc)]


def _dedupe_consecutive(p: np.ndarray) -> np.ndarray:
    if len(p) < 2:
        return p
    keep = np.ones(len(p), dtype=bool)
    keep[1:] = np.any(p[1:] != p[:-1], axis=1)
    return p[keep]


# ---------------------------------------------------------------- the table

KERNELS: dict[str, dict[str, Callable[..., Any]]] = {
    "affine": {"bbox_2d": affine_bbox_2d, "poly": affine_poly, "line": affine_line},
    "clip": {"bbox_2d": clip_bbox_2d, "poly": clip_poly, "line": clip_line},
    "measure": {"bbox_2d": area_bbox_2d, "poly": area_poly, "line": length_line},
    "degenerate": {"bbox_2d": degenerate_bbox_2d, "poly": degenerate_poly, "line": degenerate_line},
    "canonical": {"bbox_2d": canonical_bbox_2d, "poly": canonical_poly, "line": canonical_line},
}
