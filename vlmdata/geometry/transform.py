"""Affine matrices and the one per-object transform: affine → clip → canonical → measure.

Matrices are 3×3 float64 in the continuous pixel convention (contract.md): a horizontal flip of a canvas of
width W is `x → W − x`, a rotation turns about the canvas centre `(W/2, H/2)`. Positive angles turn
counter-clockwise on screen, as in PIL, OpenCV's `getRotationMatrix2D` and albumentations.

`transform_object(kind, points, M, canvas)` returns a `Transformed` result: the surviving pieces (kind,
points), the measure before clipping (area or length after the affine) and the measure kept, so the caller
computes visibility as kept / before. A box under a matrix that does not keep axes follows `bbox_rotation`:
`poly` turns it into the exact (clipped) polygon, `enclose` keeps the tight box of the clipped polygon.
A polyline cut into several pieces follows `line_split`: `split` keeps every piece, `longest` the longest. A
concave polygon cut into several parts keeps every part as its own object (the caller copies the desc); the
extra pieces are counted in `split`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vlmdata.contract.kinds import GEOMETRY_KINDS, MIN_POINTS
from vlmdata.geometry.kernels import KERNELS, affine_points, bbox_corners, keeps_axes, length_line

BBoxRotation = Literal["poly", "enclose"]
LineSplit = Literal["split", "longest"]


def identity() -> np.ndarray:
    return np.eye(3, dtype=np.float64)


def translate(tx: float, ty: float) -> np.ndarray:
    m = identity()
    m[0, 2], m[1, 2] = tx, ty
    return m


def scale_about(sx: float, sy: float, cx: float, cy: float) -> np.ndarray:
    return translate(cx, cy) @ np.diag([sx, sy, 1.0]) @ translate(-cx, -cy)


def hflip(width: float) -> np.ndarray:
    return np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def vflip(height: float) -> np.ndarray:
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height], [0.0, 0.0, 1.0]])


def rotate_about(angle_deg: float, cx: float, cy: float) -> np.ndarray:
    """Counter-clockwise on screen (y down) by `angle_deg` about (cx, cy)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return translate(cx, cy) @ r @ translate(-cx, -cy)


def invert(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    if m.shape != (3, 3) or not np.isfinite(m).all() or abs(det) < 1e-300 or not np.allclose(m[2], [0, 0, 1]):
        from vlmdata.errors import VlmdataError
        from vlmdata.geometry.codes import BAD_MATRIX

        raise VlmdataError(BAD_MATRIX, "matrix cannot be inverted", value=m.tolist())
    a = m[:2, :2]
    ainv = np.array([[a[1, 1], -a[0, 1]], [-a[1, 0], a[0, 0]]]) / det
    out = identity()
    out[:2, :2] = ainv
    out[:2, 2] = -ainv @ m[:2, 2]
    return out


@dataclass
class Transformed:
    pieces: list[tuple[str, np.ndarray]] = field(default_factory=list)
    before: float = 0.0
    kept: float = 0.0
    converted: bool = False  # a box became a polygon
    split: int = 0  # extra pieces created by cutting a line or a concave polygon

    @property
    def visibility(self) -> float:
        return min(1.0, self.kept / self.before) if self.before > 0 else 0.0


def transform_object(
    kind: str,
    points: np.ndarray,
    matrix: np.ndarray,
    canvas: tuple[float, float],
    bbox_rotation: BBoxRotation = "poly",
    line_split: LineSplit = "split",
    window: tuple[float, float, float, float] | None = None,
) -> Transformed:
    """Transform one object's points (`(N, 2)`; a box as its 2 corners) and clip to the canvas (or `window`)."""
    rect = window if window is not None else (0.0, 0.0, float(canvas[0]), float(canvas[1]))
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = Transformed()
    if kind == "bbox_2d":
        corners = KERNELS["affine"]["bbox_2d"](pts, matrix)
        if keeps_axes(matrix):
            box = np.array([corners.min(axis=0), corners.max(axis=0)])
            out.before = KERNELS["measure"]["bbox_2d"](box)
            pieces = KERNELS["clip"]["bbox_2d"](box, rect)
            out.pieces = [("bbox_2d", pieces[0])] if pieces else []
            out.kept = KERNELS["measure"]["bbox_2d"](pieces[0]) if pieces else 0.0
            return out
        out.before = KERNELS["measure"]["poly"](corners)
        pieces = KERNELS["clip"]["poly"](corners, rect)
        if not pieces:
            return out
        poly = pieces[0]
        out.kept = KERNELS["measure"]["poly"](poly)
        if bbox_rotation == "poly":
            out.pieces = [("poly", KERNELS["canonical"]["poly"](poly))]
            out.converted = True
        else:
            box = KERNELS["canonical"]["bbox_2d"](poly)
            out.pieces = [("bbox_2d", box)] if not KERNELS["degenerate"]["bbox_2d"](box) else []
        return out
    if kind not in KERNELS["affine"]:
        from vlmdata.errors import VlmdataError
        from vlmdata.geometry.codes import UNKNOWN_KIND

        raise VlmdataError(
            UNKNOWN_KIND, "unknown geometry kind", value=kind, hint="use bbox_2d, poly or line"
        )
    moved = KERNELS["affine"][kind](pts, matrix)
    out.before = KERNELS["measure"][kind](moved)
    pieces = KERNELS["clip"][kind](moved, rect)
    if kind == "poly" and len(pieces) > 1:
        out.split = len(pieces) - 1  # a concave polygon cut into parts: one object per part, like a line
    if kind == "line" and len(pieces) > 1:
        if line_split == "longest":
            lengths = [length_line(p) for p in pieces]
            pieces = [pieces[int(np.argmax(lengths))]]
        else:
            out.split = len(pieces) - 1
    out.kept = float(sum(KERNELS["measure"][kind](p) for p in pieces))
    out.pieces = [(kind, KERNELS["canonical"][kind](p)) for p in pieces]
    return out


def object_points(kind: str, flat: list[float] | np.ndarray) -> np.ndarray:
    """Flat contract points → the `(N, 2)` form the kernels take (a box as its two corners).

    Raises VD210 for an unknown kind, VD211 for a point count the kind cannot have (odd, a box without
    exactly 4 numbers, a polygon under 3 or a line under 2 points), VD212 for NaN or infinite values.
    """
    from vlmdata.errors import VlmdataError
    from vlmdata.geometry import codes

    if kind not in GEOMETRY_KINDS:
        raise VlmdataError(
            codes.UNKNOWN_KIND,
            "unknown geometry kind",
            value=kind,
            hint="use one of " + ", ".join(GEOMETRY_KINDS),
        )
    try:
        arr = np.asarray(flat, dtype=np.float64)
    except (TypeError, ValueError):
        raise VlmdataError(codes.BAD_POINTS, "points must be a flat list of numbers", value=flat) from None
    need = MIN_POINTS[kind]
    if arr.ndim != 1 or len(arr) % 2 or len(arr) // 2 < need or (kind == "bbox_2d" and len(arr) != 4):
        raise VlmdataError(codes.BAD_POINTS, f"wrong number of values for {kind}", value=arr.size)
    if not np.isfinite(arr).all():
        raise VlmdataError(codes.NON_FINITE_POINTS, "points must be finite", value=arr.tolist())
    return arr.reshape(-1, 2)


__all__ = [
    "Transformed",
    "affine_points",
    "bbox_corners",
    "hflip",
    "identity",
    "invert",
    "keeps_axes",
    "object_points",
    "rotate_about",
    "scale_about",
    "transform_object",
    "translate",
    "vflip",
]
