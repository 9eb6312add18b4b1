"""Turn a Sutherland–Hodgman result into the separate pieces of a polygon cut by a rectangle.

Sutherland–Hodgman clips a concave polygon against a rectangle into ONE ring: when the polygon leaves and
re-enters the window, the ring runs along the window edge to join the pieces, and on the way back it runs
along the same stretch in the opposite direction — a zero-width "bridge". The area is exact but the ring is
not a valid polygon (it touches itself along the bridge) and a renderer draws the bridge.

`split_clipped_ring(ring, rect)` removes the bridges and returns one ring per piece:

1. Every edge lying on one of the window's four lines is cut at every vertex that lies on that line, and the
   directed stretches along each line are summed (+1 forward, −1 backward): a bridge and its return cancel,
   the border of a real piece keeps its direction.
2. The remaining directed edges (the ring's interior edges and the surviving border stretches) are linked
   end to start into closed rings. Where two pieces touch at a point (several edges leave one node), the
   walk takes the sharpest turn towards the interior, so pieces that only touch stay apart.

Rings are oriented so that the interior lies on the left of every edge in the (x, y) plane (positive
shoelace area, i.e. clockwise on screen with y down). The loops run over the edges of the rare rings that
touch a window line more than once (the common case returns at once); no per-vertex loop runs on the
common path. A ring the walk cannot close (not expected from Sutherland–Hodgman) is returned whole.
"""

from __future__ import annotations

import math

import numpy as np

Rect = tuple[float, float, float, float]


def _on_lines(a: np.ndarray, b: np.ndarray, rect: Rect) -> np.ndarray:
    """Per edge: the index of the window line it lies on (0: x=x0, 1: x=x1, 2: y=y0, 3: y=y1), or -1."""
    x0, y0, x1, y1 = rect
    out = np.full(len(a), -1, dtype=np.int64)
    for i, (axis, bound) in enumerate(((0, x0), (0, x1), (1, y0), (1, y1))):
        hit = (a[:, axis] == bound) & (b[:, axis] == bound) & (out < 0)
        out[hit] = i
    return out


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def split_clipped_ring(ring: np.ndarray, rect: Rect) -> list[np.ndarray]:
    p = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len(p) < 4:
        return [p]
    if _signed_area(p) < 0:
        p = p[::-1].copy()
    a, b = p, np.roll(p, -1, axis=0)
    keep = np.any(a != b, axis=1)
    a, b = a[keep], b[keep]
    line = _on_lines(a, b, rect)
    x0, y0, x1, y1 = rect
    bounds = (x0, x1, y0, y1)
    n_edges = np.bincount(line[line >= 0], minlength=4)
    n_vertices = np.array([np.count_nonzero(p[:, 0 if i < 2 else 1] == bounds[i]) for i in range(4)])
    if np.all(n_edges + (n_vertices > 2 * n_edges) < 2):
        return [p]  # at most one stretch along each window line and nothing touching it: one piece
    edges: list[tuple[tuple[float, float], tuple[float, float]]] = [
        ((float(s[0]), float(s[1])), (float(e[0]), float(e[1])))
        for s, e in zip(a[line < 0], b[line < 0], strict=True)
    ]
    for i, bound in enumerate(bounds):
        on = line == i
        if not on.any():
            continue
        axis = 1 if i < 2 else 0  # the coordinate that varies along this line
        fixed = 1 - axis
        ts, te = a[on, axis], b[on, axis]
        on_line_vertices = p[p[:, fixed] == bound, axis]
        cuts = np.unique(np.concatenate((ts, te, on_line_vertices)))
        cover = np.zeros(len(cuts), dtype=np.int64)
        lo = np.searchsorted(cuts, np.minimum(ts, te))
        hi = np.searchsorted(cuts, np.maximum(ts, te))
        sign = np.where(te > ts, 1, -1)
        np.add.at(cover, lo, sign)
        np.add.at(cover, hi, -sign)
        net = np.cumsum(cover)[:-1]  # net direction over [cuts[k], cuts[k+1]]
        for k in np.flatnonzero(net):
            s, e = float(cuts[k]), float(cuts[k + 1])
            if net[k] < 0:
                s, e = e, s
            for _ in range(abs(int(net[k]))):
                if axis == 1:
                    edges.append(((bound, s), (bound, e)))
                else:
                    edges.append(((s, bound), (e, bound)))
    rings = _link(edges)
    if rings is None:
        return [p]
    return [np.array(r, dtype=np.float64) for r in rings]


def _link(
    edges: list[tuple[tuple[float, float], tuple[float, float]]],
) -> list[list[tuple[float, float]]] | None:
    leaving: dict[tuple[float, float], list[int]] = {}
    for k, (s, _) in enumerate(edges):
        leaving.setdefault(s, []).append(k)
    used = [False] * len(edges)
    rings = []
    for first in range(len(edges)):
        if used[first]:
            continue
        used[first] = True
        start, node = edges[first]
        ring = [start]
        prev = start
        while node != start:
            options = [k for k in leaving.get(node, []) if not used[k]]
            if not options:
                return None
            k = (
                options[0]
                if len(options) == 1
                else max(options, key=lambda j: _turn(prev, node, edges[j][1]))
            )
            used[k] = True
            ring.append(node)
            prev, node = node, edges[k][1]
        rings.append(ring)
    return rings


def _turn(prev: tuple[float, float], node: tuple[float, float], nxt: tuple[float, float]) -> float:
    """Signed turn angle at `node`, left positive; going straight back counts as the least wanted."""
    ux, uy = node[0] - prev[0], node[1] - prev[1]
    vx, vy = nxt[0] - node[0], nxt[1] - node[1]
    angle = math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)
    return -math.pi if angle >= math.pi else angle
