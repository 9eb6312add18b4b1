"""The dense target: `<DOMAIN=X>, <TASK=DETECTION>` (domain templates) and one line of JSON.

```
{"object_1": {"desc": "…", "bbox_2d": [x1, y1, x2, y2]}, "object_2": {"desc": "…", "poly": [[x, y], …]},
 "object_3": {"desc": "…", "line_points": 3, "line": [[x, y], …]}}
```

Keys in that order (`desc` first, `line_points` before `line`), integers on the 0–1000 grid (`grid.py`),
point pairs for poly/line, `json.dumps` separators `", "` / `": "`, non-ASCII kept. Records with several
images add `"image": k` (1-based, the picture the object lies on) right after `desc`; single-image records
never carry it, so their targets are exactly the spec's form.

Order: every geometry is canonicalised, converted to the grid and canonicalised again; objects are then sorted
by picture, by the centre of their grid bounding box top to bottom then left to right, then (ties) bbox
before poly before line, then the reference point (the first canonical vertex; a box's top-left corner),
then the remaining coordinates and the desc, so the order never depends on the input order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.contract.kinds import KIND_CODE
from vlmdata.errors import VlmdataError
from vlmdata.render import codes
from vlmdata.render.grid import canonicalize_pairs, dedupe_consecutive, pairs, to_grid
from vlmdata.render.templates import where


def grid_object(
    obj: Any, width: float, height: float, record: Mapping[str, Any], i: int, n_images: int
) -> tuple:
    """(sort key, kind, grid geometry, image index) of one object; anything unusable is VD419 with its place.

    `vlmdata.audit.dense` counts target tokens from this routine's output without building the text: keep its
    signature and result shape stable.
    """
    field = f"objects[{i}]"
    if not isinstance(obj, Mapping):
        raise VlmdataError(
            codes.BAD_GEOMETRY, "an object must be a mapping", where=where(record, field), value=obj
        )
    if not isinstance(obj.get("desc"), str):
        raise VlmdataError(
            codes.BAD_GEOMETRY,
            "desc must be a string",
            where=where(record, field + ".desc"),
            value=obj.get("desc"),
        )
    try:
        out = _grid_object_unchecked(obj, width, height, record, i)
    except (TypeError, ValueError, OverflowError) as exc:
        raise VlmdataError(
            codes.BAD_GEOMETRY,
            f"coordinates must be finite numbers ({exc})",
            where=where(record, field + ".points"),
            value=obj.get("points"),
        ) from None
    index = out[-1]
    if n_images > 0 and not 0 <= index < n_images:
        raise VlmdataError(
            codes.BAD_GEOMETRY,
            f"image_index outside the record's {n_images} image(s)",
            where=where(record, field + ".image_index"),
            value=index,
        )
    return out


def _grid_object_unchecked(
    obj: Mapping[str, Any], width: float, height: float, record: Mapping[str, Any], i: int
) -> tuple:
    kind = obj.get("kind")
    pts = obj.get("points")
    field = f"objects[{i}]"
    if kind not in KIND_CODE or not isinstance(pts, Sequence) or len(pts) % 2:
        raise VlmdataError(
            codes.BAD_GEOMETRY,
            f"object kind {kind!r} with {len(pts or [])} coordinate values",
            where=where(record, field),
        )
    if kind == "bbox_2d":
        if len(pts) != 4:
            raise VlmdataError(
                codes.BAD_GEOMETRY,
                "a box needs exactly 4 values",
                where=where(record, field),
                value=list(pts),
            )
        g = to_grid(pts, width, height)
        x1, x2 = sorted((g[0], g[2]))
        y1, y2 = sorted((g[1], g[3]))
        geom: list[Any] = [x1, y1, x2, y2]
        ref: tuple[float, float] = (x1, y1)
        box: tuple[float, float, float, float] = (x1, y1, x2, y2)
    else:
        min_pts = 3 if kind == "poly" else 2
        if len(pts) < 2 * min_pts:
            raise VlmdataError(
                codes.BAD_GEOMETRY,
                f"a {kind} needs at least {min_pts} points",
                where=where(record, field),
                value=list(pts),
            )
        raw = pairs([float(v) for v in pts])
        px = canonicalize_pairs(kind, raw)
        if len(px) < min_pts:  # degenerate in pixels: render the points as given
            px = raw
        gp = pairs(to_grid([c for p in px for c in p], width, height))
        dd = dedupe_consecutive(gp, closed=kind == "poly")
        canon = canonicalize_pairs(kind, dd) if len(dd) >= min_pts else []
        gp = canon if len(canon) >= min_pts else (dd if len(dd) >= min_pts else gp)
        geom = [[int(x), int(y)] for x, y in gp]
        xs = [p[0] for p in gp]
        ys = [p[1] for p in gp]
        box = (min(xs), min(ys), max(xs), max(ys))
        ref = gp[0]
    index = int(obj.get("image_index") or 0)
    key = (
        index,
        box[1] + box[3],
        box[0] + box[2],
        KIND_CODE[kind],
        ref[1],
        ref[0],
        [c for p in geom for c in p] if kind != "bbox_2d" else geom,
        obj.get("desc") or "",
    )
    return key, kind, geom, index


def grid_objects(
    record: Mapping[str, Any], objects: Sequence[Mapping[str, Any]] | None = None
) -> list[tuple]:
    """The record's objects (or `objects`) on the grid, canonical and in target order: (key, kind, geom, image).

    Both dense formats (this object map and the Qwen list of `vlmdata.render.qwen`) write these, so the two
    agree on every coordinate and on the order.
    """
    objs = (record.get("objects") or []) if objects is None else objects
    n_images = len(record.get("images") or [])
    width, height = record.get("width"), record.get("height")
    if objs and not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in (width, height)
    ):
        raise VlmdataError(
            codes.NO_SIZE,
            "cannot put coordinates on the 0–1000 grid without a positive image size",
            where=where(record, "width"),
            value=(width, height),
        )
    # with objects the size was checked above to be two positive numbers; without, it is never used
    w, h = (float(width), float(height)) if objs else (0.0, 0.0)  # type: ignore[arg-type]
    rendered = [grid_object(o, w, h, record, i, n_images) for i, o in enumerate(objs)]
    rendered.sort(key=lambda r: r[0])
    return rendered


def dense_json(record: Mapping[str, Any], objects: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The one-line JSON of the record's objects (or of `objects`, e.g. after augmentation)."""
    rendered = grid_objects(record, objects)
    n_images = len(record.get("images") or [])
    out: dict[str, dict[str, Any]] = {}
    for n, (key, kind, geom, index) in enumerate(rendered, start=1):
        entry: dict[str, Any] = {"desc": key[-1]}
        if n_images > 1:
            entry["image"] = index + 1
        if kind == "line":
            entry["line_points"] = len(geom)
        entry[kind] = geom
        out[f"object_{n}"] = entry
    return json.dumps(out, ensure_ascii=False, separators=(", ", ": "))
