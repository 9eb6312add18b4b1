"""The geometry kinds of the contract, defined once.

An object carries exactly one geometry under one of these keys; the Arrow datasets store the key as the
object's `kind` and its numbers as `points`. The order is the canonical one: kind codes (the fast path's int8
columns, the audit's arrays) are positions in this tuple, and dense targets list boxes before polygons before
lines. Dispatch tables keyed by kind (`vlmdata.geometry.kernels.KERNELS`) are tested to cover exactly these.
"""

from __future__ import annotations

GEOMETRY_KINDS: tuple[str, ...] = ("bbox_2d", "poly", "line")
KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(GEOMETRY_KINDS)}
# the key declaring a kind's point count (checked against the geometry, not stored)
POINT_COUNT_KEYS: dict[str, str] = {"poly": "poly_points", "line": "line_points"}
# fewest (x, y) points of a valid geometry (a box is stored as its two corners)
MIN_POINTS: dict[str, int] = {"bbox_2d": 2, "poly": 3, "line": 2}
