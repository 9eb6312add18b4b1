"""Geometry matching on the 0–1000 grid: IoU, greedy one-to-one matching, F-scores.

IoU definitions (documented in docs/eval.md):
- box vs box: exact rectangle IoU.
- a polygon against a polygon or a box: the exact area IoU of the two regions (`geometry.overlap`: horizontal
  slabs, no rasterising, so small objects are measured as exactly as large ones; a box is its rectangle, a
  self-intersecting polygon is filled by the even–odd rule). A pathological pair (thousands of mutually
  crossing edges) is rasterised like lines instead, so a degenerate generation cannot stall a reward.
- a line against anything: a tube of fixed width (`LINE_TUBE_WIDTH` = 16 grid units) around the polyline,
  rasterised with the other shape at 4 sub-units per grid unit on the pair's joint window, so a line
  matches a line drawn within a few units of it; a line never matches a region kind unless the tube
  overlaps.
- a sliver — a box with x1 == x2 or y1 == y2, a polygon whose vertices lie on one segment or point: what an
  object thinner than one grid unit rounds to, and what the renderer writes for it — gets one grid unit of
  width across it, centred (`region_of`): a zero box side becomes [x - 0.5, x + 0.5], a segment polygon the
  1-unit-wide rectangle along it, a point the unit square. So a sliver has an area, matches itself with IoU 1
  and overlaps a shape covering it; an axis-parallel segment polygon and the zero-width box of the same
  sliver read alike. Everything else is read as written.
Greedy matching per threshold: candidate pairs sorted by IoU (descending; ties by prediction then reference
index), each prediction and reference used at most once, pairs below the threshold never match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vlmdata.geometry.overlap import TooComplex, region_iou

LINE_TUBE_WIDTH = 16.0
_SUPERSAMPLE = 4
SLIVER_TOLERANCE = 1e-9  # grid units: vertices this close to one segment make a sliver (`region_of`)
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def region_of(kind: str, pts: Sequence[float]) -> tuple[str, Sequence[float]]:
    """(kind, points) as IoU reads them: a sliver (zero-extent box side, a polygon on one segment or point)
    gets one grid unit of width across it (centred); everything else is unchanged."""
    if kind == "bbox_2d":
        x1, y1, x2, y2 = (float(v) for v in pts)
        if x2 > x1 and y2 > y1:
            return kind, pts
        if x2 <= x1:
            x1, x2 = (x1 + x2) / 2 - 0.5, (x1 + x2) / 2 + 0.5
        if y2 <= y1:
            y1, y2 = (y1 + y2) / 2 - 0.5, (y1 + y2) / 2 + 0.5
        return kind, [x1, y1, x2, y2]
    if kind != "poly":
        return kind, pts
    ring = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    gaps = np.linalg.norm(ring[:, None, :] - ring[None, :, :], axis=-1)
    i, j = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    p, q = ring[i], ring[j]
    length = float(gaps[i, j])
    if length == 0.0:  # a point: the unit square around it
        x, y = p.tolist()
        return "bbox_2d", [x - 0.5, y - 0.5, x + 0.5, y + 0.5]
    d = (q - p) / length
    off = ring - p
    if np.abs(off[:, 0] * d[1] - off[:, 1] * d[0]).max() > SLIVER_TOLERANCE:
        return kind, pts  # vertices off the segment: a region with an area
    n = np.array([-d[1], d[0]]) * 0.5
    return kind, np.concatenate([p + n, q + n, q - n, p - n]).tolist()


def _box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _region_points(kind: str, pts: Sequence[float]) -> np.ndarray:
    if kind == "bbox_2d":
        x1, y1, x2, y2 = pts
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


def _extent(kind: str, pts: Sequence[float]) -> np.ndarray:
    p = _region_points(kind, pts)
    pad = LINE_TUBE_WIDTH / 2 if kind == "line" else 0.0
    return np.array([p[:, 0].min() - pad, p[:, 1].min() - pad, p[:, 0].max() + pad, p[:, 1].max() + pad])


def _rasterise(kind: str, pts: Sequence[float], origin: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, dtype=np.uint8)
    p = (_region_points(kind, pts) - origin) * _SUPERSAMPLE
    shift = 4  # cv2 fixed-point sub-pixel bits
    ip = np.round(p * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    if kind == "line":
        thickness = max(1, int(round(LINE_TUBE_WIDTH * _SUPERSAMPLE)))
        cv2.polylines(
            mask, [ip], isClosed=False, color=1, thickness=thickness, lineType=cv2.LINE_8, shift=shift
        )
    else:
        cv2.fillPoly(mask, [ip], color=1, lineType=cv2.LINE_8, shift=shift)
    return mask


def geometry_iou(kind_a: str, pts_a: Sequence[float], kind_b: str, pts_b: Sequence[float]) -> float:
    return _iou(*region_of(kind_a, pts_a), *region_of(kind_b, pts_b))


def _iou(kind_a: str, pts_a: Sequence[float], kind_b: str, pts_b: Sequence[float]) -> float:
    if kind_a == "bbox_2d" and kind_b == "bbox_2d":
        return _box_iou(pts_a, pts_b)
    ea, eb = _extent(kind_a, pts_a), _extent(kind_b, pts_b)
    if ea[2] < eb[0] or eb[2] < ea[0] or ea[3] < eb[1] or eb[3] < ea[1]:
        return 0.0
    if kind_a != "line" and kind_b != "line":
        try:
            return region_iou(_region_points(kind_a, pts_a), _region_points(kind_b, pts_b))
        except TooComplex:  # thousands of self-crossing edges (a degenerate generation): rasterise instead
            pass
    lo = np.minimum(ea[:2], eb[:2]) - 1
    hi = np.maximum(ea[2:], eb[2:]) + 1
    shape = (
        int(np.ceil((hi[1] - lo[1]) * _SUPERSAMPLE)) + 1,
        int(np.ceil((hi[0] - lo[0]) * _SUPERSAMPLE)) + 1,
    )
    ma = _rasterise(kind_a, pts_a, lo, shape)
    mb = _rasterise(kind_b, pts_b, lo, shape)
    inter = int(np.count_nonzero(ma & mb))
    union = int(np.count_nonzero(ma | mb))
    return inter / union if union else 0.0


def iou_matrix(
    preds: Sequence[tuple[str, Sequence[float]]], refs: Sequence[tuple[str, Sequence[float]]]
) -> np.ndarray:
    out = np.zeros((len(preds), len(refs)), dtype=np.float64)
    read_refs = [region_of(k, p) for k, p in refs]
    for i, (kp, pp) in enumerate(preds):
        kp, pp = region_of(kp, pp)
        for j, (kr, pr) in enumerate(read_refs):
            out[i, j] = _iou(kp, pp, kr, pr)
    return out


def greedy_match(
    ious: np.ndarray, threshold: float, allowed: Callable[[int, int], bool] | None = None
) -> list[tuple[int, int]]:
    """One-to-one pairs (pred, ref) with IoU ≥ threshold, highest IoU first."""
    if ious.size == 0:
        return []
    pi, ri = np.nonzero(ious >= threshold - 1e-12)
    order = sorted(
        zip(pi.tolist(), ri.tolist(), strict=True), key=lambda pr: (-ious[pr[0], pr[1]], pr[0], pr[1])
    )
    used_p: set[int] = set()
    used_r: set[int] = set()
    pairs = []
    for p, r in order:
        if p in used_p or r in used_r or (allowed is not None and not allowed(p, r)):
            continue
        used_p.add(p)
        used_r.add(r)
        pairs.append((p, r))
    return pairs


def f_beta(tp: int, n_pred: int, n_ref: int, beta: float = 1.0) -> float:
    """F-beta from counts; both sides empty counts as a perfect 1.0."""
    if n_pred == 0 and n_ref == 0:
        return 1.0
    if tp == 0:
        return 0.0
    precision, recall = tp / n_pred, tp / n_ref
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)
