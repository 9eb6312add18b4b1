"""Synthetic scenes: where objects go (layout) and how they are painted (render).

Layout and render are split so the records are identical whether or not pixels are produced (`--no-images`):
the layout draws from its own generator, the renderer from another.

Geometry convention (contract.md): continuous pixel coordinates, the image covers [0, W] x [0, H] and pixel
(i, j) covers [i, i+1) x [j, j+1). A pixel is painted when its centre (i + 0.5, j + 0.5) lies inside the
shape, so the painted pixels are exactly the rasterisation of the stored geometry:
- `bbox_2d` filled: every pixel whose centre is inside the box; `outline`: those minus the inner box shrunk
  by the stroke thickness (the box is the outer edge of the frame, as an annotator would draw it);
- `poly`: filled, even-odd rule on pixel centres;
- `line`: a stroke of `thickness` px centred on the polyline: pixel centres within thickness / 2 of it (round
  caps and joints).

Objects live in disjoint grid cells separated by a margin wider than any stroke, each in its own saturated
colour drawn from a palette far from the muted background, so a colour mask around an object recovers it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vlmdata.synth.vocab import Category, make_desc, pick_category

PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (0, 128, 128),
    (255, 120, 180),
    (128, 0, 0),
    (0, 0, 128),
    (255, 160, 0),
    (0, 200, 120),
    (200, 0, 255),
)


SHADE = 8  # max shading of an object's colour; with the ±6 grain, a painted pixel stays within 14 levels


@dataclass
class SceneObject:
    desc: str
    kind: str  # bbox_2d | poly | line
    points: list[float]  # flat x, y, ... in continuous pixel coordinates
    color: tuple[int, int, int]
    style: str  # filled | outline (boxes) ; filled (poly) ; stroke (line)
    thickness: int  # stroke width in px (0 for filled shapes)
    image_index: int = 0


def _r(v: float) -> float:
    return round(float(v), 1)


def layout_objects(
    rng: np.random.Generator,
    domain: str,
    width: int,
    height: int,
    n_objects: int,
    image_index: int = 0,
    group_of: dict[str, int] | None = None,
) -> list[SceneObject]:
    """Place `n_objects` non-overlapping objects of `domain` on a W x H canvas (fewer if cells get too small)."""
    if n_objects <= 0:
        return []
    aspect = width / height
    cols = max(1, round(math.sqrt(n_objects * aspect)))
    rows = max(1, math.ceil(n_objects / cols))
    cw, ch = width / cols, height / rows
    while (cw < 24 or ch < 24) and n_objects > 1:
        n_objects -= 1
        cols = max(1, round(math.sqrt(n_objects * aspect)))
        rows = max(1, math.ceil(n_objects / cols))
        cw, ch = width / cols, height / rows
    cells = rng.permutation(rows * cols)[:n_objects]
    colors = rng.permutation(len(PALETTE))
    objects = []
    for slot, cell in enumerate(int(c) for c in cells):
        r, c = divmod(cell, cols)
        category = pick_category(rng, domain)
        kind = category.kinds[int(rng.integers(len(category.kinds)))]
        margin = max(3.0, min(cw, ch) * 0.08)
        box = (c * cw + margin, r * ch + margin, (c + 1) * cw - margin, (r + 1) * ch - margin)
        color = PALETTE[int(colors[slot % len(PALETTE)])]
        group = None
        if category.grouped and group_of is not None:
            group = _group_for(rng, category, group_of)
        desc = make_desc(rng, domain, category, group)
        objects.append(_shape(rng, kind, box, desc, color, min(width, height), image_index))
    return objects


def _group_for(rng: np.random.Generator, category: Category, group_of: dict[str, int]) -> int:
    n_groups = group_of.setdefault("_n", int(rng.integers(1, 4)))
    return int(rng.integers(1, n_groups + 1))


def _shape(
    rng: np.random.Generator,
    kind: str,
    cell: tuple[float, float, float, float],
    desc: str,
    color: tuple[int, int, int],
    short_side: int,
    image_index: int,
) -> SceneObject:
    x0, y0, x1, y1 = cell
    w, h = x1 - x0, y1 - y0
    if kind == "bbox_2d":
        bw, bh = w * rng.uniform(0.45, 1.0), h * rng.uniform(0.45, 1.0)
        bx, by = x0 + rng.uniform(0, w - bw), y0 + rng.uniform(0, h - bh)
        pts = [_r(bx), _r(by), _r(bx + bw), _r(by + bh)]
        t = max(2, round(min(bw, bh) * rng.uniform(0.06, 0.12)))
        if min(bw, bh) > 6 * t and rng.random() < 0.3:
            return SceneObject(desc, kind, pts, color, "outline", t, image_index)
        return SceneObject(desc, kind, pts, color, "filled", 0, image_index)
    if kind == "poly":
        cx, cy = x0 + w / 2, y0 + h / 2
        if rng.random() < 0.4:  # a tilted rectangle, like a label seen at an angle
            a = rng.uniform(-0.6, 0.6)
            hw, hh = w * rng.uniform(0.25, 0.45), h * rng.uniform(0.2, 0.4)
            s = min(
                1.0,
                (w / 2) / (abs(hw * math.cos(a)) + abs(hh * math.sin(a))),
                (h / 2) / (abs(hw * math.sin(a)) + abs(hh * math.cos(a))),
            )
            hw, hh = hw * s, hh * s
            corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
            ca, sa = math.cos(a), math.sin(a)
            xy = [(cx + u * ca - v * sa, cy + u * sa + v * ca) for u, v in corners]
        else:  # a star-shaped polygon around the cell centre: always simple, never degenerate
            k = int(rng.integers(5, 9))
            step = 2 * math.pi / k
            angles = rng.uniform(0, 2 * math.pi) + (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * step
            radii = rng.uniform(0.55, 1.0, k)
            xy = [
                (cx + 0.48 * w * rr * math.cos(t), cy + 0.48 * h * rr * math.sin(t))
                for t, rr in zip(angles, radii, strict=True)
            ]
        pts = [_r(v) for p in xy for v in p]
        return SceneObject(desc, kind, pts, color, "filled", 0, image_index)
    # line: a cable wandering across the cell, monotone along its main axis so points stay distinct
    t = int(max(2, round(short_side / 220)) + rng.integers(0, 4))
    pad = t / 2 + 1
    n = int(rng.integers(2, 6))
    along = np.linspace(0.0, 1.0, n)
    across = rng.uniform(0.0, 1.0, n)
    if w >= h:
        xs = x0 + pad + along * (w - 2 * pad)
        ys = y0 + pad + across * (h - 2 * pad)
    else:
        xs = x0 + pad + across * (w - 2 * pad)
        ys = y0 + pad + along * (h - 2 * pad)
    pts = [_r(v) for p in zip(xs, ys, strict=True) for v in p]
    return SceneObject(desc, "line", pts, color, "stroke", t, image_index)


# ---------------------------------------------------------------- rendering


def object_mask(obj: SceneObject, height: int, width: int) -> np.ndarray:
    """Boolean H x W mask of the pixels `obj` paints (the renderer uses exactly this)."""
    mask = np.zeros((height, width), dtype=bool)
    window = object_window(obj, height, width)
    if window is not None:
        (j0, j1, i0, i1), sub = window
        mask[j0:j1, i0:i1] = sub
    return mask


def object_window(
    obj: SceneObject, height: int, width: int
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """((j0, j1, i0, i1), mask) of the pixels `obj` paints, restricted to its bounding window."""
    p = obj.points
    if obj.kind == "bbox_2d":
        i0, i1 = _span(p[0], p[2], width)
        j0, j1 = _span(p[1], p[3], height)
        if i1 <= i0 or j1 <= j0:
            return None
        sub = np.ones((j1 - j0, i1 - i0), dtype=bool)
        if obj.style == "outline":
            t = obj.thickness
            ii0, ii1 = _span(p[0] + t, p[2] - t, width)
            jj0, jj1 = _span(p[1] + t, p[3] - t, height)
            if ii1 > ii0 and jj1 > jj0:
                sub[jj0 - j0 : jj1 - j0, ii0 - i0 : ii1 - i0] = False
        return (j0, j1, i0, i1), sub
    pts = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    pad = obj.thickness / 2 + 1
    i0, i1 = _span(pts[:, 0].min() - pad, pts[:, 0].max() + pad, width)
    j0, j1 = _span(pts[:, 1].min() - pad, pts[:, 1].max() + pad, height)
    if i1 <= i0 or j1 <= j0:
        return None
    xs = np.arange(i0, i1, dtype=np.float64)[None, :] + 0.5
    ys = np.arange(j0, j1, dtype=np.float64)[:, None] + 0.5
    if obj.kind == "poly":
        return (j0, j1, i0, i1), _inside_polygon(pts, xs, ys)
    return (j0, j1, i0, i1), _near_polyline(pts, obj.thickness / 2, xs, ys)


def _inside_polygon(pts: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd rule on pixel centres: one crossing test per edge, vectorised over the window."""
    inside = np.zeros((ys.shape[0], xs.shape[1]), dtype=bool)
    for (xa, ya), (xb, yb) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        if ya == yb:
            continue
        rows = (ya > ys) != (yb > ys)  # (h, 1): rows whose centre line this edge crosses
        x_cross = xa + (ys - ya) * ((xb - xa) / (yb - ya))
        inside ^= rows & (xs < x_cross)
    return inside


def _near_polyline(pts: np.ndarray, radius: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Pixel centres within `radius` of the polyline: a stroke with round caps and joints."""
    best = np.full((ys.shape[0], xs.shape[1]), np.inf)
    for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
        dx, dy = xb - xa, yb - ya
        t = np.clip(((xs - xa) * dx + (ys - ya) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        np.minimum(best, (xs - xa - t * dx) ** 2 + (ys - ya - t * dy) ** 2, out=best)
    return best <= radius * radius


def _span(a: float, b: float, limit: int) -> tuple[int, int]:
    """Pixel indices i with centre i + 0.5 in [a, b)."""
    return max(0, math.ceil(a - 0.5)), min(limit, math.ceil(b - 0.5))


def render_background(rng: np.random.Generator, width: int, height: int, domain: str) -> np.ndarray:
    """A muted, textured H x W x 3 float32 background: lighting, blotches, vignette and scene structure."""
    base = rng.uniform(90, 185)
    tint = rng.uniform(-12, 12, 3)
    gh, gw = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    coarse = rng.uniform(-28, 28, (gh, gw, 1)).astype(np.float32)
    low = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    img = np.empty((height, width, 3), dtype=np.float32)
    img[...] = (base + tint).astype(np.float32)
    img += low
    if domain in ("bbu", "rru"):
        _draw_rack(rng, img, width, height)
    else:
        _draw_street(rng, img, width, height)
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    img *= (1.0 - rng.uniform(0.08, 0.22) * (xs * xs + ys * ys) / 2)[..., None]  # lens vignette
    return img


def _draw_rack(rng: np.random.Generator, img: np.ndarray, width: int, height: int) -> None:
    """Grey rails with mounting holes, panels and vent slots: an equipment cabinet, all low saturation."""
    n_rails = int(rng.integers(2, 5))
    for x in np.sort(rng.uniform(0, width, n_rails)):
        rw = max(3, int(width * rng.uniform(0.01, 0.03)))
        x0 = int(x)
        img[:, x0 : x0 + rw] -= rng.uniform(25, 45)
        img[:, x0 : x0 + 1] += 30  # lit edge
        step = max(8, rw * 3)
        hole = max(1, rw // 3)
        cx = x0 + rw // 2
        for y in range(step // 2, height, step):
            img[y : y + hole, max(0, cx - hole // 2) : cx + (hole + 1) // 2] -= 45
    n_panels = int(rng.integers(2, 6))
    for _ in range(n_panels):
        pw, ph = int(width * rng.uniform(0.2, 0.6)), int(height * rng.uniform(0.05, 0.2))
        px, py = int(rng.uniform(0, width - pw)), int(rng.uniform(0, height - ph))
        img[py : py + ph, px : px + pw] += rng.uniform(-20, 20)
        img[py : py + 1, px : px + pw] += 25  # top bevel catches the light
        img[py + ph - 1 : py + ph, px : px + pw] -= 25
        slot_gap = max(4, ph // 4)
        for sy in range(py + slot_gap // 2, py + ph, slot_gap):
            img[sy : sy + max(1, slot_gap // 3), px + 4 : px + pw - 4] -= 18


def _draw_street(rng: np.random.Generator, img: np.ndarray, width: int, height: int) -> None:
    """A pale sky fading to the horizon, grey building blocks, and darker ground with a ground texture."""
    horizon = int(height * rng.uniform(0.35, 0.65))
    sky = np.linspace(25, 0, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] += sky + np.array([-4, 0, 6], dtype=np.float32)  # faintly blue, still muted
    for _ in range(int(rng.integers(2, 6))):
        bw, bh = int(width * rng.uniform(0.08, 0.25)), int(horizon * rng.uniform(0.2, 0.8))
        bx = int(rng.uniform(0, max(1, width - bw)))
        img[horizon - bh : horizon, bx : bx + bw] -= rng.uniform(15, 40)
    img[horizon:] -= rng.uniform(15, 35)
    stripes = np.sin(np.arange(height - horizon, dtype=np.float32) * rng.uniform(0.3, 0.9))[:, None, None]
    img[horizon:] += 4 * stripes


def _drop_shadows(
    rng: np.random.Generator, img: np.ndarray, windows: list[tuple[tuple[int, int, int, int], np.ndarray]]
) -> None:
    """Soft shadows cast down-right by every object, painted on the background before the objects."""
    height, width = img.shape[:2]
    offset = max(1, round(min(width, height) * rng.uniform(0.006, 0.015)))
    shade = np.zeros((height, width), dtype=np.float32)
    for (j0, j1, i0, i1), sub in windows:
        j1, i1 = min(j1, height - offset), min(i1, width - offset)
        if j1 > j0 and i1 > i0:
            region = shade[j0 + offset : j1 + offset, i0 + offset : i1 + offset]
            np.maximum(region, sub[: j1 - j0, : i1 - i0], out=region)
    k = 2 * offset + 1
    soft = cv2.GaussianBlur(shade, (k, k), 0)
    img *= (1.0 - rng.uniform(0.25, 0.4) * soft)[..., None]


def _shaded(rng: np.random.Generator, color: tuple[int, int, int], sub: np.ndarray) -> np.ndarray:
    """The object's colour under a gentle light falling from a random side (at most ±SHADE levels)."""
    a = rng.uniform(0, 2 * math.pi)
    h, w = sub.shape
    ys, xs = np.nonzero(sub)
    c, s = math.cos(a), math.sin(a)
    t = ((xs + 0.5 - w / 2) * c / w + (ys + 0.5 - h / 2) * s / h) / (0.5 * (abs(c) + abs(s)))  # in [-1, 1]
    light = np.rint(SHADE * t).astype(np.int16)[:, None]
    return np.clip(np.asarray(color, dtype=np.int16)[None, :] + light, 0, 255).astype(np.uint8)


def render_scene(
    rng: np.random.Generator,
    width: int,
    height: int,
    domain: str,
    objects: list[SceneObject],
) -> np.ndarray:
    """Background, object shadows, every object in its colour (gently shaded), then a fine sensor grain (±6):
    small enough to keep each object's pixels far from the muted background and the other palette colours."""
    img = render_background(rng, width, height, domain)
    windows = [(obj, object_window(obj, height, width)) for obj in objects]
    painted = [(obj, win) for obj, win in windows if win is not None]
    if objects:
        _drop_shadows(rng, img, [win for _, win in painted])
    np.clip(img, 30, 215, out=img)
    out = img.astype(np.uint8)
    for obj, ((j0, j1, i0, i1), sub) in painted:
        out[j0:j1, i0:i1][sub] = _shaded(rng, obj.color, sub)
    grain_h, grain_w = min(height, 97), min(width, 101)
    grain = rng.integers(-6, 7, (grain_h, grain_w, 1), dtype=np.int16)
    reps = (math.ceil(height / grain_h), math.ceil(width / grain_w), 1)
    grain = np.tile(grain, reps)[:height, :width]
    return np.clip(out.astype(np.int16) + grain, 0, 255).astype(np.uint8)
