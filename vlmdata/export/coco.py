"""Export a vlmdata dataset as a COCO instances JSON (`vlmdata export --format coco`).

What pycocotools' `COCO(path)` loads, with the annotations the records hold:

- **images**: one entry per distinct image file. An image imported from COCO/LVIS keeps its entry
  (`metadata.coco.image`: id, file name, license, urls, ...); other images get the next free ids and their path
  as `file_name` (relative to `--image-root` when given and the image lies inside it, else absolute).
  `width`/`height` are the record's.
- **categories**: a COCO/LVIS-imported object keeps its `category_id`, with the name and supercategory from
  `metadata.coco.categories`; any other object's category is its desc, numbered after the highest id in use in
  sorted desc order. Categories no object uses are not exported (the dataset does not know them). Two names
  for one id is VD453.
- **annotations**: a `poly` object → a polygon annotation; objects that were parts of one multi-part polygon
  (same `metadata.coco.id`) are regrouped into one annotation with all their parts, in part order; a `bbox_2d`
  object → a box annotation (`segmentation: []`). `line` objects have no COCO form and are counted as skipped.
  Ids, `iscrowd`, `score` and other kept fields come back from the object's metadata; `attributes` from the
  object's attributes.
- **bbox and area**: the imported `bbox`/`area` are written back unchanged when the geometry still matches them
  (a box: `[x, y, x + w, y + h]` equals `bbox_2d` exactly; a polygon: its bounds equal the box to 1e-6 px);
  otherwise (augmented or new geometry) the box is the geometry's bounds `[x1, y1, x2 − x1, y2 − y1]` and the
  area is pycocotools' (the mask area of the polygons, `w · h` of a box), as COCO's own files compute them.

The JSON is written compactly and atomically; records without objects (summary-only, chat) are counted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.errors import VlmdataError
from vlmdata.export.codes import CATEGORY_CONFLICT, NOTHING_TO_EXPORT

_SOURCE_KEYS = ("coco", "lvis")
_OWN = frozenset({"part", "parts", "mask", "holes", "id", "category_id", "bbox", "area", "iscrowd"})


@dataclass
class CocoExportResult:
    out: str
    images: int = 0
    annotations: int = 0
    categories: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "format": "coco",
            "images": self.images,
            "annotations": self.annotations,
            "categories": self.categories,
            "skipped": self.skipped,
        }


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def _source_meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    if not meta:
        return {}
    for key in _SOURCE_KEYS:
        if isinstance(meta.get(key), dict):
            return meta[key]
    return {}


def _points(obj: Mapping[str, Any]) -> tuple[str, list[float]]:
    if "kind" in obj:
        return obj["kind"], [float(v) for v in obj["points"]]
    kind = next(k for k in GEOMETRY_KINDS if obj.get(k) is not None)
    return kind, [float(v) for v in obj[kind]]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _box_and_area(
    kind: str, parts: list[list[float]], meta: Mapping[str, Any], height: int, width: int
) -> tuple[list[float], float]:
    kept = meta.get("bbox")
    if kind == "bbox_2d":
        x1, y1, x2, y2 = parts[0]
        if isinstance(kept, list) and len(kept) == 4:
            x, y, w, h = kept
            if [x, y, x + w, y + h] == [x1, y1, x2, y2]:
                return kept, meta.get("area", w * h)
        return [x1, y1, x2 - x1, y2 - y1], (x2 - x1) * (y2 - y1)
    xs = [v for p in parts for v in p[0::2]]
    ys = [v for p in parts for v in p[1::2]]
    bounds = [min(xs), min(ys), max(xs), max(ys)]
    if isinstance(kept, list) and len(kept) == 4 and "area" in meta:
        x, y, w, h = kept
        if all(_close(a, b) for a, b in zip([x, y, x + w, y + h], bounds, strict=True)):
            return kept, meta["area"]
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects(parts, height, width))
    box = [bounds[0], bounds[1], bounds[2] - bounds[0], bounds[3] - bounds[1]]
    return box, float(mask_utils.area(rle))


def coco_document(
    records: Iterable[Mapping[str, Any]], out: str | Path, image_root: str | Path | None = None
) -> tuple[dict[str, Any], CocoExportResult]:
    result = CocoExportResult(out=str(out))
    root = os.path.abspath(image_root) if image_root else None
    images: dict[str, dict[str, Any]] = {}  # path -> entry
    pending_images: list[tuple[str, dict[str, Any]]] = []  # entries still needing an id
    categories: dict[Any, dict[str, Any]] = {}
    by_desc: dict[str, list[dict[str, Any]]] = {}  # annotations whose category is their desc
    annotations: list[dict[str, Any]] = []
    pending_anns: list[dict[str, Any]] = []
    used_image_ids: set[Any] = set()
    used_ann_ids: set[Any] = set()

    def skip(reason: str, n: int = 1) -> None:
        result.skipped[reason] = result.skipped.get(reason, 0) + n

    for record in records:
        objects = list(record.get("objects") or [])
        if not objects or not record.get("images"):
            skip("records_without_objects")
            continue
        meta = _json(record.get("metadata")) or {}
        src = _source_meta(meta)
        for cat in src.get("categories", []) if isinstance(src.get("categories"), list) else []:
            if "id" not in cat or "name" not in cat:
                continue
            known = categories.get(cat["id"])
            if known is None:
                categories[cat["id"]] = {k: cat[k] for k in ("supercategory", "id", "name") if k in cat}
            elif known["name"] != cat["name"]:
                raise VlmdataError(
                    CATEGORY_CONFLICT,
                    f"category id {cat['id']} is {known['name']!r} and {cat['name']!r}",
                    value=record.get("id"),
                )
        width, height = int(record["width"]), int(record["height"])
        entry_ids: list[dict[str, Any]] = []
        for i, path in enumerate(record["images"]):
            path = str(path)
            entry = images.get(path)
            if entry is None:
                source_image = src.get("image") if i == 0 and len(record["images"]) == 1 else None
                if (
                    isinstance(source_image, dict)
                    and source_image.get("id") not in used_image_ids
                    and "id" in source_image
                ):
                    entry = dict(source_image)
                    entry["width"], entry["height"] = width, height
                    used_image_ids.add(entry["id"])
                else:
                    name = path
                    if root is not None and (path + os.sep).startswith(root + os.sep):
                        name = os.path.relpath(path, root).replace(os.sep, "/")
                    entry = {"file_name": name, "height": height, "width": width}
                    pending_images.append((path, entry))
                images[path] = entry
            entry_ids.append(entry)
        groups: dict[Any, list[tuple[int, Mapping[str, Any], dict[str, Any]]]] = {}
        order: list[Any] = []
        for k, obj in enumerate(objects):
            kind, _ = _points(obj)
            if kind == "line":
                skip("line_objects")
                continue
            ometa = _source_meta(_json(obj.get("metadata")))
            key = (
                (ometa.get("id"), int(obj.get("image_index") or 0))
                if kind == "poly" and "parts" in ometa
                else k
            )
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append((int(ometa.get("part", 0)), obj, ometa))
        for key in order:
            members = sorted(groups[key], key=lambda m: m[0])
            first, ometa = members[0][1], members[0][2]
            kind, _ = _points(first)
            parts = [_points(m[1])[1] for m in members]
            image = entry_ids[int(first.get("image_index") or 0)]
            box, area = _box_and_area(kind, parts, ometa, height, width)
            ann: dict[str, Any] = {
                "segmentation": parts if kind == "poly" else [],
                "area": area,
                "iscrowd": ometa.get("iscrowd", 0),
                "image_id": image,  # replaced by the id once all images have one
                "bbox": box,
            }
            cat_id = ometa.get("category_id")
            if cat_id is not None and cat_id in categories:
                ann["category_id"] = cat_id
            else:
                by_desc.setdefault(first["desc"], []).append(ann)
            attrs = _json(first.get("attributes"))
            if attrs:
                ann["attributes"] = attrs
            ann.update({k: v for k, v in ometa.items() if k not in _OWN})
            if "id" in ometa and ometa["id"] not in used_ann_ids:
                ann["id"] = ometa["id"]
                used_ann_ids.add(ann["id"])
            else:
                pending_anns.append(ann)
            annotations.append(ann)
    if not annotations:
        raise VlmdataError(NOTHING_TO_EXPORT, "no record has a box or polygon object", value=str(out))
    next_image = max([i for i in used_image_ids if isinstance(i, int)], default=0) + 1
    for _, entry in pending_images:
        entry["id"] = next_image
        next_image += 1
    next_cat = max([c for c in categories if isinstance(c, int)], default=0) + 1
    for desc in sorted(by_desc):
        cat = next((c for c in categories.values() if c["name"] == desc), None)
        if cat is None:
            cat = {"id": next_cat, "name": desc}
            categories[next_cat] = cat
            next_cat += 1
        for ann in by_desc[desc]:
            ann["category_id"] = cat["id"]
    next_ann = max([i for i in used_ann_ids if isinstance(i, int)], default=0) + 1
    for ann in pending_anns:
        ann["id"] = next_ann
        next_ann += 1
    for ann in annotations:
        ann["image_id"] = ann["image_id"]["id"]
    ordered = [
        {k: a[k] for k in ("segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id")}
        | {
            k: v
            for k, v in a.items()
            if k not in ("segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id")
        }
        for a in annotations
    ]
    doc = {
        "info": {"description": "exported by vlmdata", "version": "1.0"},
        "licenses": [],
        "images": list(images.values()),
        "annotations": ordered,
        "categories": sorted(categories.values(), key=lambda c: (str(type(c["id"])), c["id"])),
    }
    result.images, result.annotations, result.categories = len(images), len(ordered), len(categories)
    return doc, result


def export_coco(
    records: Iterable[Mapping[str, Any]],
    out: str | Path,
    image_root: str | Path | None = None,
    inputs: Iterable[str | Path | None] = (),
    roots: Iterable[str | Path | None] = (),
) -> CocoExportResult:
    """Write `records` as COCO instances JSON at `out` through the `--out` rule (`vlmdata.io.output`)."""
    from vlmdata.io.output import check_out, write_output

    inputs, roots = [*inputs, image_root], list(roots)
    check_out(out, command="export", kind="file", inputs=inputs, roots=roots)  # refuse before the work
    doc, result = coco_document(records, out, image_root)
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    write_output(out, data, command="export", inputs=inputs, roots=roots)
    return result
