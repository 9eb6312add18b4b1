"""The per-record working state of the pipeline: images, canvas size, objects and the pending affine.

`flush()` applies the pending (composed) affine in ONE resample of every image and ONE transform of every
geometry, then resets it. The warp maps the continuous pixel convention onto OpenCV's pixel-centre indices:
`M_index = T(−½) · M · T(+½)`, so geometry and pixels agree to sub-pixel precision. Pure flips use
`cv2.flip` (exact, no resample).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vlmdata.geometry import transform as gt
from vlmdata.geometry.batch import move_inside

_HALF = gt.translate(0.5, 0.5)
_MHALF = gt.translate(-0.5, -0.5)


def warp_image(img: np.ndarray, matrix: np.ndarray, size: tuple[int, int], fill: int) -> np.ndarray:
    """Resample `img` under the continuous-coordinate affine `matrix` onto a canvas of `size` (W, H)."""
    h, w = img.shape[:2]
    if size == (w, h):
        if np.array_equal(matrix, gt.hflip(w)):
            return cv2.flip(img, 1)
        if np.array_equal(matrix, gt.vflip(h)):
            return cv2.flip(img, 0)
        if np.array_equal(matrix, gt.vflip(h) @ gt.hflip(w)):
            return cv2.flip(img, -1)
    m_idx = _MHALF @ matrix @ _HALF
    return cv2.warpAffine(
        img,
        m_idx[:2],
        size,
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(fill, fill, fill),
    )


@dataclass
class Obj:
    """One object in flight; `pts` is always canonical (the fast path relies on it)."""

    src: dict[str, Any]
    kind: str
    pts: np.ndarray
    vis: float = 1.0


@dataclass
class State:
    images: list[np.ndarray]
    width: int
    height: int
    objs: list[Obj]
    fill: int = 128
    bbox_rotation: str = "poly"
    line_split: str = "split"
    min_visibility: float = 0.0
    pending: np.ndarray = field(default_factory=gt.identity)
    drops: Counter[str] = field(default_factory=Counter)
    converted: int = 0
    split: int = 0
    warps: int = 0

    def flush(self, matrix: np.ndarray | None = None, size: tuple[int, int] | None = None) -> None:
        m = self.pending if matrix is None else matrix
        new = size or (self.width, self.height)
        self.pending = gt.identity()
        if np.array_equal(m, gt.identity()) and new == (self.width, self.height):
            return
        self.images = [warp_image(img, m, new, self.fill) for img in self.images]
        self.warps += 1
        self.apply_geometry(m, new)

    def apply_geometry(
        self, matrix: np.ndarray, size: tuple[int, int], min_visibility: float | None = None
    ) -> None:
        """Transform and clip every object; drop what falls out, what becomes degenerate or too hidden."""
        self.width, self.height = int(size[0]), int(size[1])
        threshold = (
            self.min_visibility if min_visibility is None else max(self.min_visibility, min_visibility)
        )
        kept: list[Obj] = []
        fast = move_inside(
            [o.kind for o in self.objs], [o.pts for o in self.objs], matrix, size, self.bbox_rotation
        )
        for obj, quick in zip(self.objs, fast, strict=True):
            if quick is not None:  # entirely inside: nothing clipped, visibility unchanged
                self.converted += int(obj.kind == "bbox_2d" and quick[0] == "poly")
                kept.append(Obj(obj.src, quick[0], quick[1], obj.vis))
                continue
            res = gt.transform_object(obj.kind, obj.pts, matrix, size, self.bbox_rotation, self.line_split)  # type: ignore[arg-type]
            if res.before <= 0.0:
                self.drops["degenerate"] += 1
                continue
            if not res.pieces:
                self.drops["clipped_out"] += 1
                continue
            vis = obj.vis * res.visibility
            if vis < threshold:
                self.drops["below_min_visibility"] += 1
                continue
            self.converted += int(res.converted)
            self.split += res.split
            kept.extend(Obj(obj.src, kind, pts, vis) for kind, pts in res.pieces)
        self.objs = kept
