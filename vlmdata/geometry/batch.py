"""The batched fast path: every object of a record moved by one matrix product, and the objects that stay
entirely inside the canvas finished without clipping.

An object that stays inside keeps its area ratio (visibility factor 1) and, when its points were already
canonical (clean, clockwise, started at the top-left vertex), needs only a re-orientation (a mirroring matrix
reverses the ring) and a new start vertex — no clip, no cleaning, no area. Objects that cross the border go
through `transform_object` (the exact clip). The results equal `transform_object`'s for canonical inputs.
"""

from __future__ import annotations

import numpy as np

from vlmdata.geometry.canonical import clean_polygon
from vlmdata.geometry.kernels import EPS_AREA, bbox_corners, keeps_axes


def _start_top_left(p: np.ndarray) -> np.ndarray:
    y = p[:, 1]
    i = int(y.argmin())
    if np.count_nonzero(y == y[i]) > 1:  # ties on y: the smallest x among them
        cand = np.flatnonzero(y == y[i])
        i = int(cand[p[cand, 0].argmin()])
    return p if i == 0 else np.concatenate((p[i:], p[:i]))


def move_inside(
    kinds: list[str],
    points: list[np.ndarray],
    matrix: np.ndarray,
    canvas: tuple[float, float],
    bbox_rotation: str = "poly",
) -> list[tuple[str, np.ndarray] | None]:
    """Per object: (kind, canonical points) when it stays inside the canvas, else None (clip it exactly)."""
    if not kinds:
        return []
    m = np.asarray(matrix, dtype=np.float64)
    axes = keeps_axes(m)
    mirror = (m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]) < 0
    arrays = [
        bbox_corners(p) if k == "bbox_2d" and not axes else p for k, p in zip(kinds, points, strict=True)
    ]
    counts = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    moved = np.concatenate(arrays) @ m[:2, :2].T + m[:2, 2]
    lo = np.minimum.reduceat(moved, starts, axis=0)
    hi = np.maximum.reduceat(moved, starts, axis=0)
    inside = (lo[:, 0] >= 0) & (lo[:, 1] >= 0) & (hi[:, 0] <= canvas[0]) & (hi[:, 1] <= canvas[1])
    # Repeated vertices (consecutive, or a polygon's closing one) are removed by the exact path only: send
    # such objects there so both paths return the same points. Judged on the moved points: two vertices a
    # rounding error apart become one after a flip (64 - 5e-17 == 64).
    inside &= ~_has_repeats(kinds, moved, starts, counts)
    out: list[tuple[str, np.ndarray] | None] = []
    for i, kind in enumerate(kinds):
        if not inside[i]:
            out.append(None)
            continue
        q = moved[starts[i] : starts[i] + counts[i]]
        if kind == "bbox_2d":
            box = np.array([lo[i], hi[i]])
            if (hi[i, 0] - lo[i, 0]) * (hi[i, 1] - lo[i, 1]) <= EPS_AREA:
                out.append(None)
            elif axes or bbox_rotation == "enclose":
                out.append(("bbox_2d", box))
            else:
                out.append(("poly", _start_top_left(q[::-1] if mirror else q)))
        elif kind == "poly":
            if len(clean_polygon(q)) != len(q):  # rounding made a vertex collinear: the exact path drops it
                out.append(None)
                continue
            out.append(("poly", _start_top_left(q[::-1] if mirror else q)))
        else:
            rev = (q[-1, 0], q[-1, 1]) < (q[0, 0], q[0, 1])
            out.append(("line", q[::-1] if rev else q))
    return out


def _has_repeats(kinds: list[str], flat: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per object: does it hold two equal consecutive vertices (for polygons, also last == first)?"""
    same_next = np.zeros(len(flat), dtype=bool)
    if len(flat) > 1:
        same_next[:-1] = np.all(flat[1:] == flat[:-1], axis=1)
    ends = starts + counts - 1
    same_next[ends] = False  # the pair (last of one object, first of the next) is no pair
    repeats = np.logical_or.reduceat(same_next, starts)
    closing = np.all(flat[ends] == flat[starts], axis=1)
    is_poly = np.fromiter((k == "poly" for k in kinds), dtype=bool, count=len(kinds))
    return repeats | (closing & is_poly & (counts > 1))
