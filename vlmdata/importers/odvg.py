"""Grounding-DINO ODVG JSONL → contract records, one per line (streamed).

A line is `{"filename", "height", "width", "detection": {"instances": [...]}, "grounding": {"caption",
"regions": [...]}}` (Open-GroundingDino's data format); a line may hold either part or both.

- `filename` (relative to the image root) → `images`; the header's displayed size → `width`/`height` (the
  declared `width`/`height` must agree).
- Detection instances `{"bbox": [x1, y1, x2, y2], "label": int, "category": str}` → `bbox_2d` objects; the
  desc field `category` is the instance's `category`, or `--label-map`'s name for its `label` when the instance
  has none (the label map is the `{"0": "person", ...}` JSON Grounding-DINO trains with).
- Grounding regions `{"bbox": [x1, y1, x2, y2], "phrase": str}` → `bbox_2d` objects whose `category` is the
  phrase; a region whose `bbox` is a list of boxes gives one object per box (`part`/`parts` in its metadata).
  The caption is kept in `metadata.odvg.caption`.
- Every other field of the line and of each instance/region is kept verbatim in `metadata.odvg`.
- Record id: `<file stem>:<line number>` (ODVG lines have no id, and one image may appear on several lines).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.importers.codes import SOURCE_SHAPE
from vlmdata.importers.common import BadGeometry, Context, encode, numbers, pieces, read_source
from vlmdata.importers.desc import DescSkip, make_desc
from vlmdata.importers.images import ImageSkip
from vlmdata.importers.lines import LineShard, decoded, plan_lines
from vlmdata.importers.report import FileTally, ShardResult

FIELDS = ("category", "label", "phrase", "caption")


def _label_map(path: str) -> dict[str, str]:
    data = read_source(path)
    try:
        value = json.loads(data)
    except ValueError as exc:
        from vlmdata.importers.codes import SOURCE_NOT_JSON

        raise VlmdataError(
            SOURCE_NOT_JSON, f"label map is not JSON: {exc}", where=Location(file=path)
        ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise VlmdataError(SOURCE_SHAPE, 'label map must be {"0": "name", ...}', where=Location(file=path))
    return {str(k): v for k, v in value.items()}


def plan(src: str, ctx: Context) -> Iterator[LineShard]:
    params = {"label_map": _label_map(ctx.options.label_map) if ctx.options.label_map else None}
    return plan_lines(src, params)


def _items(obj: dict[str, Any], part: str, key: str) -> list[Any] | None:
    section = obj.get(part)
    if section is None:
        return []
    if not isinstance(section, dict) or not isinstance(section.get(key, []), list):
        return None
    return section.get(key, [])


def convert(shard: LineShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.file)
    stem = Path(shard.file).stem
    label_map = shard.params.get("label_map")
    for number, obj in decoded(shard, tally):
        instances, regions = _items(obj, "detection", "instances"), _items(obj, "grounding", "regions")
        if instances is None or regions is None:
            field = "detection.instances" if instances is None else "grounding.regions"
            tally.skip_record("wrong_type", {"line": number, "field": field}, f"`{field}` must be a list")
            continue
        count = len(instances) + len(regions)
        name = obj.get("filename")
        if not isinstance(name, str) or not name:
            tally.skip_record(
                "missing_field", {"line": number, "field": "filename"}, "no `filename`", annotations=count
            )
            continue
        w, h = obj.get("width"), obj.get("height")
        declared = (w, h) if type(w) is int and type(h) is int else None
        ref = ctx.sizer.resolve(name, None, declared)
        if isinstance(ref, ImageSkip):
            tally.skip_record(
                ref.reason,
                {"line": number, "field": "filename"},
                ref.message,
                annotations=count,
                value=ref.value,
                code=ref.code,
            )
            continue
        if not count:
            tally.skip_record("no_annotations", {"line": number}, "line has no instances and no regions")
            continue
        objects: list[dict[str, Any]] = []
        grounding = obj.get("grounding") or {}
        caption = grounding.get("caption") if isinstance(grounding, dict) else None
        for kind, items in (("detection.instances", instances), ("grounding.regions", regions)):
            for k, item in enumerate(items):
                at = {"line": number, "field": f"{kind}[{k}]"}
                made = _objects(item, kind, caption, label_map, ref, ctx, tally, at)
                if made:
                    tally.annotations.add_ok()
                    tally.objects += len(made)
                    objects.extend(made)
        if not objects:
            tally.skip_record(
                "no_valid_annotations", {"line": number}, "every annotation of this line was skipped"
            )
            continue
        tally.records.add_ok()
        extra = {
            k: v for k, v in obj.items() if k not in ("filename", "width", "height", "detection", "grounding")
        }
        meta: dict[str, Any] = {"filename": name, **extra}
        if caption is not None:
            meta["caption"] = caption
        result.lines.append(
            encode(
                {
                    "id": f"{stem}:{number}",
                    "images": [ref.rel],
                    "width": ref.width,
                    "height": ref.height,
                    "objects": objects,
                    "metadata": {
                        "_import": {"format": "odvg", "file": shard.file, "line": number},
                        "odvg": meta,
                    },
                }
            )
        )
    return result


def _objects(
    item: Any,
    kind: str,
    caption: Any,
    label_map: dict[str, str] | None,
    ref: Any,
    ctx: Context,
    tally: FileTally,
    at: dict[str, Any],
) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        tally.skip_annotation("not_object", at, "an instance or region must be an object", item)
        return []
    label = item.get("label")
    if kind == "detection.instances":
        category = item.get("category")
        if category is None and label is not None and label_map is not None:
            category = label_map.get(str(label))
            if category is None:
                tally.skip_annotation(
                    "unknown_category",
                    at | {"field": at["field"] + ".label"},
                    "label not in --label-map",
                    label,
                )
                return []
        values = {"category": category, "label": label, "caption": caption}
    else:
        values = {"category": item.get("phrase"), "phrase": item.get("phrase"), "caption": caption}
    made = make_desc(ctx.desc, values)
    if isinstance(made, DescSkip):
        hint = " (pass --label-map for label-only instances)" if made.field == "category" else ""
        tally.skip_annotation(made.reason, at, made.message + hint, made.value, made.code)
        return []
    desc, changed = made
    if changed:
        tally.note("desc_whitespace")
    bbox = item.get("bbox")
    boxes = bbox if isinstance(bbox, list) and bbox and all(isinstance(b, list) for b in bbox) else [bbox]
    geoms: list[list[float]] = []
    try:
        for box in boxes:
            flat = numbers(box, "bbox")
            if len(flat) != 4:
                raise BadGeometry(
                    "bad_box", "VD209", f"bbox needs 4 numbers [x1, y1, x2, y2], got {len(flat)}", flat
                )
            geoms.extend(pieces("bbox_2d", list(flat), ref.width, ref.height, ctx.options.clip))
    except BadGeometry as exc:
        tally.skip_annotation(
            exc.reason, at | {"field": at["field"] + ".bbox"}, exc.message, exc.value, exc.code
        )
        return []
    meta = {k: v for k, v in item.items() if k != "bbox"}
    out = []
    for p, geom in enumerate(geoms):
        m = meta if len(geoms) == 1 else {**meta, "part": p, "parts": len(geoms)}
        out.append({"desc": desc, "bbox_2d": geom, "metadata": {"odvg": m}})
    return out
