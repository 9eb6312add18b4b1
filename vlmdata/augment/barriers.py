"""Barrier ops: each flushes the pending affine, then changes the canvas with an exact, cheap image kernel
(resize, slice, pad) and the matching exact geometry. `expand_to_fit` instead folds into the flush itself: it
grows the output canvas of the pending warp so every corner of the rotated image stays inside.

Each function returns the resolved values (pixel windows, sizes) that go into the record's provenance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from vlmdata.augment.state import State
from vlmdata.geometry import transform as gt


def _aligned(v: float, m: int) -> int:
    return max(m, int(round(v / m)) * m)


def resize(st: State, s: dict[str, Any], p: Any) -> dict[str, Any]:
    st.flush()
    w, h = st.width, st.height
    nw, nh = _aligned(w * s["scale"], p.align_multiple), _aligned(h * s["scale"], p.align_multiple)
    interp = cv2.INTER_AREA if nw * nh < w * h else cv2.INTER_CUBIC
    st.images = [cv2.resize(img, (nw, nh), interpolation=interp) for img in st.images]
    st.apply_geometry(np.diag([nw / w, nh / h, 1.0]), (nw, nh))
    return {"size": [nw, nh]}


def _crop_to(st: State, x0: int, y0: int, cw: int, ch: int, min_visibility: float) -> dict[str, Any]:
    st.images = [np.ascontiguousarray(img[y0 : y0 + ch, x0 : x0 + cw]) for img in st.images]
    st.apply_geometry(gt.translate(-x0, -y0), (cw, ch), min_visibility=min_visibility)
    return {"window": [x0, y0, x0 + cw, y0 + ch]}


def crop(st: State, s: dict[str, Any], p: Any) -> dict[str, Any]:
    st.flush()
    w, h = st.width, st.height
    cw, ch = max(1, round(w * s["size"])), max(1, round(h * s["size"]))
    x0 = min(w - cw, int(s["ux"] * (w - cw + 1)))
    y0 = min(h - ch, int(s["uy"] * (h - ch + 1)))
    return _crop_to(st, x0, y0, cw, ch, p.min_visibility)


def category_of(desc: str) -> str:
    """`类别=<category>` from a BBU/RRU desc, else the plain desc."""
    for token in desc.split(","):
        key, sep, value = token.partition("=")
        if sep and key.strip() == "类别":
            return value.strip()
    return desc.strip()


def _window_start(lo_obj: float, hi_obj: float, size: int, canvas: int, u: float) -> int:
    lo, hi = max(0, math.ceil(hi_obj) - size), min(math.floor(lo_obj), canvas - size)
    if lo > hi:  # the anchor is larger than the window: centre it
        return int(min(max(round((lo_obj + hi_obj - size) / 2), 0), canvas - size))
    return int(lo + min(hi - lo, int(u * (hi - lo + 1))))


def roi_crop(st: State, s: dict[str, Any], p: Any) -> dict[str, Any]:
    st.flush()
    wanted = set(p.anchor_categories)
    cands = [
        o for o in st.objs if not wanted or category_of(o.src["desc"]) in wanted or o.src["desc"] in wanted
    ]
    if not cands:
        return {"skipped": "no anchor object"}
    anchor = cands[min(len(cands) - 1, int(s["anchor_u"] * len(cands)))]
    (ax1, ay1), (ax2, ay2) = anchor.pts.min(axis=0), anchor.pts.max(axis=0)
    w, h = st.width, st.height
    cw = int(min(w, max(p.min_size, round((ax2 - ax1) * s["scale"]))))
    ch = int(min(h, max(p.min_size, round((ay2 - ay1) * s["scale"]))))
    x0 = _window_start(ax1, ax2, cw, w, s["ux"])
    y0 = _window_start(ay1, ay2, ch, h, s["uy"])
    out = _crop_to(st, x0, y0, cw, ch, p.min_visibility)
    out["anchor"] = anchor.src["desc"]
    return out


def expand_to_fit(st: State, s: dict[str, Any], p: Any) -> dict[str, Any]:
    w, h = st.width, st.height
    corners = gt.affine_points(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64), st.pending)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    bw, bh = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    m, k = p.multiple, 1.0

    def dims(k: float) -> tuple[int, int]:
        return max(m, math.ceil(bw * k / m - 1e-9) * m), max(m, math.ceil(bh * k / m - 1e-9) * m)

    nw, nh = dims(k)
    if p.max_pixels is not None and nw * nh > p.max_pixels:
        k = math.sqrt(p.max_pixels / (bw * bh))
        nw, nh = dims(k)
        for _ in range(1000):  # shrink until the aligned canvas fits the pixel cap
            if nw * nh <= p.max_pixels or (nw == m and nh == m):
                break
            k *= 0.995
            nw, nh = dims(k)
    centre = (lo + hi) / 2.0
    if k == 1.0 and gt.keeps_axes(st.pending):  # no rotation pending: an integer shift, so no blur
        shift = np.floor(np.array([nw, nh]) / 2.0 - centre + 0.5)
        matrix = gt.translate(shift[0], shift[1]) @ st.pending
    else:
        matrix = (
            gt.translate(nw / 2.0, nh / 2.0)
            @ np.diag([k, k, 1.0])
            @ gt.translate(-centre[0], -centre[1])
            @ st.pending
        )
    st.flush(matrix, (nw, nh))
    return {"size": [nw, nh], "scale": k}


def pad_to_multiple(st: State, s: dict[str, Any], p: Any) -> dict[str, Any]:
    st.flush()
    w, h = st.width, st.height
    nw, nh = math.ceil(w / p.multiple) * p.multiple, math.ceil(h / p.multiple) * p.multiple
    fill = st.fill if p.fill is None else p.fill
    if (nw, nh) != (w, h):
        st.images = [
            cv2.copyMakeBorder(img, 0, nh - h, 0, nw - w, cv2.BORDER_CONSTANT, value=(fill, fill, fill))
            for img in st.images
        ]
        st.width, st.height = nw, nh
    return {"size": [nw, nh]}


BARRIERS: dict[str, Callable[[State, dict[str, Any], Any], dict[str, Any]]] = {
    "resize": resize,
    "crop": crop,
    "roi_crop": roi_crop,
    "expand_to_fit": expand_to_fit,
    "pad_to_multiple": pad_to_multiple,
}
