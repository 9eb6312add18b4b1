"""COCO instances JSON → contract records, one per image (LVIS reuses it through `lvis.py`).

Mapping (docs/import.md has the full table):

- `images[]` → one record: `file_name` (relative to the image root) → `images`, the displayed size from the
  header → `width`/`height` (the declared size must agree), the image entry verbatim →
  `metadata.<coco|lvis>.image`, the categories the record uses → `metadata.<coco|lvis>.categories`
  (`id`, `name`, `supercategory`), the record id `<file stem>:<image id>`.
- `annotations[]` → objects, in file order, desc from `--desc-template` (default: the category name):
  - polygon `segmentation` → `poly`; a polygon of several parts becomes one object per part, same desc, with
    `part`/`parts` in its metadata (the export regroups them by annotation id);
  - RLE `segmentation` (`iscrowd` 1, or an RLE on a normal annotation; compressed strings and uncompressed
    count lists) → polygons traced from the decoded mask (`masks.py`); `--crowd skip` skips crowd regions;
  - no segmentation (or `--boxes-only`) → `bbox` `[x, y, w, h]` → `bbox_2d` `[x, y, x + w, y + h]`;
  - `attributes` → the object's `attributes`; every other annotation field (`id`, `category_id`, `iscrowd`,
    `area`, `bbox`, `score`, anything else) → `metadata.<coco|lvis>` verbatim, so the export gives back the
    same ids, areas and boxes.

Speed: the file is read and cut into shards of images by `coco_shards.py` (decoded once with msgspec into raw
JSON values, no Python floats); here every field is copied to the output as its JSON text, and all polygon
parts and boxes of a shard are parsed and checked at once (`screen.py`: `vlmdata.validate.coords.parse_flat`,
the same bulk parser as validate's fast path). Parts the bulk screen is not sure about go through the
contract's rules one by one, which decide and name the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from vlmdata.importers.coco_shards import JSON_ANY, CocoShard, Flavor, Raw, plan, raw_int, raw_text
from vlmdata.importers.common import BadGeometry, Context, encode
from vlmdata.importers.desc import DescSkip, make_desc
from vlmdata.importers.images import ImageSkip
from vlmdata.importers.report import FileTally, ShardResult
from vlmdata.importers.screen import Ann, Batch, screen_boxes, screen_polygons

_PARTS = msgspec.json.Decoder(list[msgspec.Raw])
_ZERO = msgspec.Raw(b"0")
_FALSE = (b"0", b"false")


def _at(index: int, entry: dict[str, Raw], field: str) -> dict[str, Any]:
    return {"index": index, "id": raw_text(entry.get("id")), "field": field}


def _where(ann: Ann, field: str) -> dict[str, Any]:
    return _at(ann.index, ann.entry, field)


def _desc(
    ctx: Context, cat: dict[str, Any] | None, entry: dict[str, Raw] | None, changed: set[str]
) -> str | DescSkip:
    """The contract-safe desc of an annotation of category `cat` (`entry` when the template reads it)."""
    if cat is None:
        return DescSkip("unknown_category", "VD165", "category_id", "category id not in `categories`")
    made = make_desc(ctx.desc, _desc_values(cat, entry))
    if isinstance(made, DescSkip):
        if made.field == "desc":
            made.field = "category_id"
        return made
    text, altered = made
    if altered:
        changed.add(text)
    return text


def _skip_desc(tally: FileTally, skip: DescSkip, index: int, entry: dict[str, Raw]) -> None:
    value = skip.value if skip.reason != "unknown_category" else raw_text(entry.get("category_id"))
    tally.skip_annotation(skip.reason, _at(index, entry, skip.field), skip.message, value, skip.code)


def _desc_values(cat: dict[str, Any] | None, entry: dict[str, Raw] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if cat is not None:
        values.update({k: v for k, v in cat.items() if k not in ("id", "name")})
        values["category"] = cat.get("name")
        values["category_id"] = cat.get("id")
    if entry is not None:
        for key in ("attributes", "iscrowd", "score"):
            if key in entry:
                values[key] = JSON_ANY.decode(entry[key])
    return values


def convert(shard: CocoShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.file)
    flavor, opts = shard.flavor, ctx.options
    per_category = ctx.desc.uses_only(set(flavor.category_fields))
    desc_cache: dict[bytes, str | DescSkip] = {}
    changed_descs: set[str] = set()
    boxes_only, skip_crowd = opts.boxes_only, opts.crowd == "skip"
    slots: list[
        tuple[int, dict[str, Raw], Any, dict[bytes, None]]
    ] = []  # image index, entry, ref, categories
    work: list[Ann] = []
    polys = Batch()
    boxes = Batch()
    indices, entries = shard.indices, shard.entries
    offset = 0
    for (i, image), count in zip(shard.images, shard.counts, strict=True):
        first_ann, offset = offset, offset + count
        name = flavor.file_name(image)
        if not name:
            at = {"index": i, "id": raw_text(image.get("id")), "field": "file_name"}
            tally.skip_record("missing_field", at, "image entry without a file name", annotations=count)
            continue
        w, h = raw_int(image.get("width")), raw_int(image.get("height"))
        ref = ctx.sizer.resolve(name, None, (w, h) if w and h else None)
        if isinstance(ref, ImageSkip):
            at = {"index": i, "id": raw_text(image.get("id")), "field": "file_name"}
            tally.skip_record(ref.reason, at, ref.message, annotations=count, value=ref.value, code=ref.code)
            continue
        if not count:
            tally.skip_record(
                "no_annotations", {"index": i, "id": raw_text(image.get("id"))}, "no annotations"
            )
            continue
        if ref.orientation != 1:
            tally.note("exif_oriented_images")
        slot = len(slots)
        width, height = ref.width, ref.height
        used: dict[bytes, None] = {}
        slots.append((i, image, ref, used))
        for k in range(first_ann, offset):
            j, entry = indices[k], entries[k]
            get = entry.get
            cat_raw = get("category_id")
            key = bytes(cat_raw) if cat_raw is not None else b""
            desc = desc_cache.get(key)
            if desc is None:
                desc = _desc(ctx, shard.cats.get(key), entry if not per_category else None, changed_descs)
                if per_category:
                    desc_cache[key] = desc
            if desc.__class__ is not str:
                _skip_desc(tally, desc, j, entry)  # type: ignore[arg-type]
                continue
            if changed_descs and desc in changed_descs:
                tally.note("desc_whitespace")
            if skip_crowd:
                crowd = get("iscrowd")
                if crowd is not None and crowd != _ZERO and bytes(crowd).strip() not in _FALSE:
                    tally.skip_annotation(
                        "crowd", _at(j, entry, "iscrowd"), "crowd region skipped (--crowd skip)"
                    )
                    continue
            seg = get("segmentation")
            size = len(seg) if seg is not None else 0
            first = memoryview(seg)[0] if seg is not None and size else 110  # `n`ull
            n = len(work)
            if not boxes_only and first not in (91, 123, 110):  # neither a list, an object nor null
                tally.skip_annotation(
                    "wrong_type", _at(j, entry, "segmentation"), "segmentation must be polygons or an RLE"
                )
                continue
            if first == 91 and not boxes_only and size > 2:  # `[...]`: polygons
                try:
                    parts = _PARTS.decode(seg)  # type: ignore[arg-type]  # not None: first == `[`
                except (msgspec.DecodeError, msgspec.ValidationError):
                    tally.skip_annotation(
                        "wrong_type", _at(j, entry, "segmentation"), "segmentation must be polygons or an RLE"
                    )
                    continue
                k = len(parts)
                polys.raws += parts
                polys.work += [n] * k
                polys.part += range(k)
                polys.width += [width] * k
                polys.height += [height] * k
                work.append(Ann(slot, j, entry, desc, [None] * k))
            elif first == 123 and not boxes_only:  # `{`: an RLE mask
                work.append(Ann(slot, j, entry, desc, [], "mask"))
            else:
                bbox = get("bbox")
                if bbox is None:
                    tally.skip_annotation(
                        "no_geometry", _at(j, entry, "bbox"), "no `bbox` and no `segmentation`"
                    )
                    continue
                boxes.add(bbox, n, 0, width, height)
                work.append(Ann(slot, j, entry, desc, [None], "bbox_2d"))
            used[key] = None
    screen_polygons(work, polys, opts.clip)
    screen_boxes(work, boxes, opts.clip)
    meta_key = flavor.key
    objects: list[list[dict[str, Any]]] = [[] for _ in slots]
    imported = made_objects = 0
    for ann in work:
        entry = ann.entry
        if ann.sure == 1 and len(ann.parts) == 1 and "attributes" not in entry:  # the common case, inlined
            meta = dict(entry)
            meta.pop("segmentation", None)
            meta.pop("image_id", None)
            kind = "poly" if ann.kind == "poly" else "bbox_2d"
            objects[ann.slot].append({"desc": ann.desc, kind: ann.parts[0], "metadata": {meta_key: meta}})
            imported += 1
            made_objects += 1
            continue
        made = _objects(ann, slots[ann.slot][2], meta_key, tally)
        if made:
            imported += 1
            made_objects += len(made)
            objects[ann.slot].extend(made)
    tally.annotations.add_ok(imported)
    tally.objects += made_objects
    for slot, (i, image, ref, used) in enumerate(slots):
        if not objects[slot]:
            tally.skip_record(
                "no_valid_annotations",
                {"index": i, "id": raw_text(image.get("id"))},
                "every annotation of this image was skipped",
            )
            continue
        tally.records.add_ok()
        result.lines.append(_record(shard, image, ref, objects[slot], used))
    return result


def _record(
    shard: CocoShard, image: dict[str, Raw], ref: Any, objects: list[dict[str, Any]], used: dict[bytes, None]
) -> bytes:
    categories = [shard.cat_entries[c] for c in used]
    return encode(
        {
            "id": f"{shard.stem}:{raw_text(image.get('id'))}",
            "images": [ref.rel],
            "width": ref.width,
            "height": ref.height,
            "objects": objects,
            "metadata": {
                "_import": {"format": shard.flavor.key, "file": shard.file},
                shard.flavor.key: {"image": image, "categories": categories},
            },
        }
    )


def _objects(ann: Ann, ref: Any, key: str, tally: FileTally) -> list[dict[str, Any]]:
    meta: dict[str, Any] = dict(ann.entry)
    meta.pop("segmentation", None)
    meta.pop("image_id", None)
    attrs = meta.pop("attributes", None)
    if attrs is not None and memoryview(attrs)[0] != 123:  # not an object: kept, but not as attributes
        meta["attributes"] = attrs
        attrs = None
    parts = ann.parts
    if ann.kind == "mask":
        from vlmdata.importers.masks import rle_polygons

        try:
            geoms, holes = rle_polygons(JSON_ANY.decode(ann.entry["segmentation"]), ref.height, ref.width)
        except BadGeometry as exc:
            tally.skip_annotation(exc.reason, _where(ann, "segmentation"), exc.message, exc.value, exc.code)
            return []
        meta["mask"] = True
        if holes:
            meta["holes"] = holes
            tally.note("mask_holes_filled", holes)
    elif ann.sure == len(parts):  # every part proven valid by the bulk screen (the common case)
        geoms = parts
    else:
        geoms = []
        bad = []
        for p, part in enumerate(parts):
            if isinstance(part, BadGeometry):
                bad.append((p, part))
            elif isinstance(part, list):
                geoms.extend(part)  # checked (possibly clipped) pieces
            else:
                geoms.append(part)
        field = "bbox" if ann.kind == "bbox_2d" else "segmentation"
        if not geoms:
            p, first_bad = bad[0]
            where = _where(ann, field if ann.kind == "bbox_2d" else f"segmentation[{p}]")
            tally.skip_annotation(first_bad.reason, where, first_bad.message, first_bad.value, first_bad.code)
            return []
        for p, dropped in bad:
            tally.drop_part(dropped.reason, _where(ann, f"segmentation[{p}]"), dropped.message, dropped.value)
    kind = "bbox_2d" if ann.kind == "bbox_2d" else "poly"
    desc = ann.desc
    n = len(geoms)
    if n == 1 and attrs is None:
        return [{"desc": desc, kind: geoms[0], "metadata": {key: meta}}]
    out = []
    for p, geom in enumerate(geoms):
        m = meta if n == 1 else {**meta, "part": p, "parts": n}
        obj: dict[str, Any] = {"desc": desc, kind: geom}
        if attrs is not None:
            obj["attributes"] = attrs
        obj["metadata"] = {key: m}
        out.append(obj)
    return out


def _coco_file_name(image: dict[str, Any]) -> str | None:
    raw = image.get("file_name")
    value = JSON_ANY.decode(raw) if raw is not None else None
    return value if isinstance(value, str) else None


COCO = Flavor(
    key="coco",
    fields=("category", "category_id", "supercategory", "attributes", "iscrowd", "score"),
    category_fields=frozenset({"category", "category_id", "supercategory"}),
    file_name=_coco_file_name,
)


def plan_coco(src: str, ctx: Context) -> Iterator[ShardResult | CocoShard]:
    return plan(src, ctx, COCO)


__all__ = ["COCO", "CocoShard", "Flavor", "convert", "plan", "plan_coco"]
