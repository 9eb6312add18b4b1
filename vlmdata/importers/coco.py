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

Speed: the file is decoded once with msgspec into dicts of raw JSON values (no Python floats), every field is
copied to the output as its JSON text, and all polygon parts and boxes of a shard of images are parsed and
checked at once with numpy (`vlmdata.validate.coords.parse_flat`, the same bulk parser as validate's fast
path). Parts the bulk screen is not sure about go through the contract's rules one by one, which decide and
name the reason. COCO cannot stream (annotations may refer to any image), so the file is held in memory as
raw bytes plus one small dict per entry; a pretty-printed file is first compacted (its newlines would break
the JSONL lines the raw values are copied into).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from vlmdata.contract.rules import BOUNDS_TOLERANCE, ZERO_AREA
from vlmdata.importers.common import BadGeometry, Context, encode, json_error, numbers, pieces, read_source
from vlmdata.importers.desc import MissingField, clean_desc
from vlmdata.importers.images import ImageSkip
from vlmdata.importers.report import FileTally, ShardResult
from vlmdata.validate.coords import parse_flat

Raw = msgspec.Raw
_PARTS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()
_ENC = msgspec.json.Encoder()
_NOT_META = frozenset({"segmentation", "attributes", "image_id"})
_ZERO = msgspec.Raw(b"0")
_FALSE = (b"0", b"false")
_CATEGORY_KEEP = ("id", "name", "supercategory")


class _Top(msgspec.Struct):
    images: list[dict[str, msgspec.Raw]]
    annotations: list[dict[str, msgspec.Raw]] = []
    categories: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Flavor:
    key: str  # format name and metadata key
    fields: tuple[str, ...]  # --desc-template fields
    category_fields: frozenset[str]  # the fields that depend only on the category (desc cached per category)
    file_name: Callable[[dict[str, Any]], str | None]


@dataclass
class CocoShard:
    flavor: Flavor
    file: str
    stem: str
    images: list[tuple[int, dict[str, Raw]]]  # (index in `images`, entry)
    anns: list[list[tuple[int, dict[str, Raw]]]]  # per image: (index in `annotations`, entry)
    cats: dict[bytes, dict[str, Any]]


def _text(raw: Raw | None) -> str:
    if raw is None:
        return ""
    value = _ANY.decode(raw)
    return value if isinstance(value, str) else _ENC.encode(value).decode()


def _raw_text(raw: Raw) -> str:
    return bytes(raw).decode("utf-8", "replace")


def _int(raw: Raw | None) -> int | None:
    if raw is None:
        return None
    value = _ANY.decode(raw)
    return value if type(value) is int else None


def plan(src: str, ctx: Context, flavor: Flavor) -> Iterator[ShardResult | CocoShard]:
    data = read_source(src)
    try:
        top = msgspec.json.decode(data, type=_Top)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise json_error(exc, data, src) from None
    if b"\n" in data.rstrip() or b"\r" in data.rstrip():  # pretty-printed: compact so raw values are one line
        data = _ENC.encode(_ANY.decode(data))
        top = msgspec.json.decode(data, type=_Top)
    first = ShardResult()
    tally = first.tally(src)
    cats: dict[bytes, dict[str, Any]] = {}
    for i, cat in enumerate(top.categories):
        key = _ENC.encode(cat.get("id"))
        if key in cats:
            tally.note("duplicate_category_id")
            tally.example("duplicate_image", {"index": i, "field": "categories"}, "category id listed twice")
            continue
        cats[key] = cat
    index: dict[bytes, int] = {}
    kept: list[tuple[int, dict[str, Raw]]] = []
    for i, image in enumerate(top.images):
        raw_id = image.get("id")
        if raw_id is None:
            tally.skip_record("missing_field", {"index": i, "field": "id"}, "image entry without `id`")
            continue
        key = bytes(raw_id)
        if key in index:
            tally.skip_record(
                "duplicate_image",
                {"index": i, "id": _text(raw_id)},
                "image id listed twice; the first is kept",
            )
            continue
        index[key] = len(kept)
        kept.append((i, image))
    groups: list[list[tuple[int, dict[str, Raw]]]] = [[] for _ in kept]
    for j, ann in enumerate(top.annotations):
        raw_image = ann.get("image_id")
        pos = index.get(bytes(raw_image)) if raw_image is not None else None
        if pos is None:
            at = {"index": j, "id": _text(ann.get("id")), "field": "image_id"}
            if raw_image is None:
                tally.skip_annotation("missing_field", at, "annotation without `image_id`")
            else:
                tally.skip_annotation("unknown_image", at, "no image has this id", _text(raw_image))
            continue
        groups[pos].append((j, ann))
    del top
    yield first
    size = max(1, ctx.options.shard_size)
    stem = Path(src).stem
    for start in range(0, len(kept), size):
        yield CocoShard(flavor, src, stem, kept[start : start + size], groups[start : start + size], cats)


# ------------------------------------------------------------------------------------------------ convert


@dataclass(slots=True)
class _Ann:
    slot: int  # record slot in the shard
    index: int  # position in `annotations`
    entry: dict[str, Raw]
    desc: str
    parts: list[Any]  # per geometry part: Raw text (sure) / list of flat lists (checked) / None (dropped)
    kind: str = "poly"
    mask_holes: int = 0


def _at(index: int, entry: dict[str, Raw], field: str) -> dict[str, Any]:
    return {"index": index, "id": _text(entry.get("id")), "field": field}


def _where(ann: _Ann, field: str) -> dict[str, Any]:
    return _at(ann.index, ann.entry, field)


class _DescSkip:
    __slots__ = ("reason", "field", "message", "value")

    def __init__(self, reason: str, field: str, message: str, value: Any = None) -> None:
        self.reason, self.field, self.message, self.value = reason, field, message, value


def _desc(
    ctx: Context, cat: dict[str, Any] | None, entry: dict[str, Raw] | None, changed: set[str]
) -> str | _DescSkip:
    """The contract-safe desc of an annotation of category `cat` (`entry` when the template reads it)."""
    if cat is None:
        return _DescSkip("unknown_category", "category_id", "category id not in `categories`")
    try:
        text = ctx.desc.render(_desc_values(cat, entry))
    except MissingField as exc:
        return _DescSkip("desc_field_missing", exc.name, f"--desc-template field `{exc.name}` is absent")
    clean, altered = clean_desc(text)
    if not clean:
        return _DescSkip("empty_desc", "category_id", "the desc is empty", text)
    if altered:
        changed.add(clean)
    return clean


def _skip_desc(tally: FileTally, skip: _DescSkip, index: int, entry: dict[str, Raw]) -> None:
    value = skip.value if skip.reason != "unknown_category" else _text(entry.get("category_id"))
    tally.skip_annotation(skip.reason, _at(index, entry, skip.field), skip.message, value)


def _desc_values(cat: dict[str, Any] | None, entry: dict[str, Raw] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if cat is not None:
        values.update({k: v for k, v in cat.items() if k not in ("id", "name")})
        values["category"] = cat.get("name")
        values["category_id"] = cat.get("id")
    if entry is not None:
        for key in ("attributes", "iscrowd", "score"):
            if key in entry:
                values[key] = _ANY.decode(entry[key])
    return values


def convert(shard: CocoShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.file)
    flavor, opts = shard.flavor, ctx.options
    per_category = ctx.desc.uses_only(set(flavor.category_fields))
    desc_cache: dict[bytes, str | _DescSkip] = {}
    changed_descs: set[str] = set()
    boxes_only, skip_crowd = opts.boxes_only, opts.crowd == "skip"
    slots: list[tuple[int, dict[str, Raw], Any]] = []  # (image index, entry, ImageRef)
    work: list[_Ann] = []
    poly_raws: list[Raw] = []
    poly_owner: list[tuple[int, int]] = []  # (work index, part index)
    box_raws: list[Raw] = []
    box_owner: list[int] = []
    for (i, image), anns in zip(shard.images, shard.anns, strict=True):
        name = flavor.file_name(image)
        if not name:
            at = {"index": i, "id": _text(image.get("id")), "field": "file_name"}
            tally.skip_record("missing_field", at, "image entry without a file name", annotations=len(anns))
            continue
        w, h = _int(image.get("width")), _int(image.get("height"))
        ref = ctx.sizer.resolve(name, None, (w, h) if w and h else None)
        if isinstance(ref, ImageSkip):
            at = {"index": i, "id": _text(image.get("id")), "field": "file_name"}
            tally.skip_record(
                ref.reason, at, ref.message, annotations=len(anns), value=ref.value, code=ref.code
            )
            continue
        if not anns:
            tally.skip_record("no_annotations", {"index": i, "id": _text(image.get("id"))}, "no annotations")
            continue
        if ref.orientation != 1:
            tally.note("exif_oriented_images")
        slot = len(slots)
        slots.append((i, image, ref))
        for j, entry in anns:
            cat_raw = entry.get("category_id")
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
            crowd = entry.get("iscrowd")
            if skip_crowd and crowd is not None and crowd != _ZERO and bytes(crowd).strip() not in _FALSE:
                tally.skip_annotation(
                    "crowd", _at(j, entry, "iscrowd"), "crowd region skipped (--crowd skip)"
                )
                continue
            seg = entry.get("segmentation")
            first = memoryview(seg)[0] if seg is not None and len(seg) else 110  # `n`ull
            parts = None
            if first == 91 and not boxes_only:  # `[`: polygons
                try:
                    parts = _PARTS.decode(seg)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    tally.skip_annotation(
                        "wrong_type", _at(j, entry, "segmentation"), "segmentation must be polygons or an RLE"
                    )
                    continue
            ann = _Ann(slot, j, entry, desc, [])  # type: ignore[arg-type]
            if parts:
                n = len(work)
                for p, part in enumerate(parts):
                    poly_raws.append(part)
                    poly_owner.append((n, p))
                ann.parts = [None] * len(parts)
            elif first == 123 and not boxes_only:  # `{`: an RLE mask
                ann.kind = "mask"
            else:
                bbox = entry.get("bbox")
                if bbox is None:
                    tally.skip_annotation(
                        "no_geometry", _at(j, entry, "bbox"), "no `bbox` and no `segmentation`"
                    )
                    continue
                ann.kind = "bbox_2d"
                box_raws.append(bbox)
                box_owner.append(len(work))
            work.append(ann)
    _screen_polygons(work, slots, poly_raws, poly_owner, opts.clip)
    boxes = _screen_boxes(work, slots, box_raws, box_owner, opts.clip)
    objects: list[list[dict[str, Any]]] = [[] for _ in slots]
    for n, ann in enumerate(work):
        _, _, ref = slots[ann.slot]
        made = _objects(ann, boxes.get(n), ref, shard.flavor.key, ctx, tally)
        if made:
            tally.annotations.add_ok()
            tally.objects += len(made)
            objects[ann.slot].extend(made)
    for slot, (i, image, ref) in enumerate(slots):
        if not objects[slot]:
            tally.skip_record(
                "no_valid_annotations",
                {"index": i, "id": _text(image.get("id"))},
                "every annotation of this image was skipped",
            )
            continue
        tally.records.add_ok()
        result.lines.append(_record(shard, image, ref, objects[slot], ctx))
    return result


def _record(
    shard: CocoShard, image: dict[str, Raw], ref: Any, objects: list[dict[str, Any]], ctx: Context
) -> bytes:
    used: dict[Any, None] = {}
    for obj in objects:
        used[bytes(obj["metadata"][shard.flavor.key]["category_id"])] = None
    categories = []
    for key in used:
        cat = shard.cats[key]
        categories.append({k: cat[k] for k in _CATEGORY_KEEP if k in cat})
    return encode(
        {
            "id": f"{shard.stem}:{_text(image.get('id'))}",
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


def _meta(entry: dict[str, Raw]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _NOT_META}


def _objects(ann: _Ann, box: Any, ref: Any, key: str, ctx: Context, tally: FileTally) -> list[dict[str, Any]]:
    entry = ann.entry
    attrs = entry.get("attributes")
    meta = _meta(entry)
    if attrs is not None and bytes(attrs)[:1] != b"{":
        meta["attributes"] = attrs  # not an object: kept, but not as the contract's `attributes`
        attrs = None
    if ann.kind == "bbox_2d":
        geoms = box
        if isinstance(geoms, BadGeometry):
            tally.skip_annotation(geoms.reason, _where(ann, "bbox"), geoms.message, geoms.value, geoms.code)
            return []
        kind = "bbox_2d"
    elif ann.kind == "mask":
        from vlmdata.importers.masks import rle_polygons

        try:
            geoms, ann.mask_holes = rle_polygons(_ANY.decode(entry["segmentation"]), ref.height, ref.width)
        except BadGeometry as exc:
            tally.skip_annotation(exc.reason, _where(ann, "segmentation"), exc.message, exc.value, exc.code)
            return []
        meta["mask"] = True
        if ann.mask_holes:
            meta["holes"] = ann.mask_holes
            tally.note("mask_holes_filled", ann.mask_holes)
        kind = "poly"
    else:
        geoms = []
        bad = [(p, part) for p, part in enumerate(ann.parts) if isinstance(part, BadGeometry)]
        for part in ann.parts:
            if isinstance(part, list):
                geoms.extend(part)
            elif part is not None and not isinstance(part, BadGeometry):
                geoms.append(part)
        if not geoms:
            if not bad:
                tally.skip_annotation(
                    "no_geometry", _where(ann, "segmentation"), "segmentation has no polygon"
                )
            else:
                p, exc = bad[0]
                where = _where(ann, f"segmentation[{p}]")
                tally.skip_annotation(exc.reason, where, exc.message, exc.value, exc.code)
            return []
        for p, exc in bad:
            tally.drop_part(exc.reason, _where(ann, f"segmentation[{p}]"), exc.message, exc.value)
        kind = "poly"
    out = []
    n = len(geoms)
    for p, geom in enumerate(geoms):
        m = meta if n == 1 else {**meta, "part": p, "parts": n}
        obj: dict[str, Any] = {"desc": ann.desc, kind: geom}
        if attrs is not None:
            obj["attributes"] = attrs
        obj["metadata"] = {key: m}
        out.append(obj)
    return out


def _screen_polygons(
    work: list[_Ann], slots: list[Any], raws: list[bytes], owner: list[tuple[int, int]], clip: bool
) -> None:
    """Fill `ann.parts`: Raw text for parts the bulk screen proves valid, checked lists or `BadGeometry` else."""
    if not raws:
        return
    values, lens, good = parse_flat(raws)
    sure = np.zeros(len(raws), bool)
    if len(lens):
        idx = np.flatnonzero(good)
        sizes = np.array([slots[work[owner[k][0]].slot][2].width for k in idx], np.float64)
        heights = np.array([slots[work[owner[k][0]].slot][2].height for k in idx], np.float64)
        starts = np.zeros(len(lens), np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        pos = np.arange(len(values)) - np.repeat(starts, lens)
        limit = np.where(pos % 2 == 0, np.repeat(sizes, lens), np.repeat(heights, lens))
        outside = np.maximum(-values, values - limit)
        worst = np.maximum.reduceat(outside, starts) if len(values) else np.zeros(0)
        ok = (lens % 2 == 0) & (lens >= 6) & (worst <= BOUNDS_TOLERANCE)
        # twice the shoelace area of the even-length parts, then a margin so float order cannot flip a verdict
        even = np.repeat(lens % 2 == 0, lens)
        xs, ys = values[even][0::2], values[even][1::2]
        plens = lens[lens % 2 == 0] // 2
        if len(plens):
            pstarts = np.zeros(len(plens), np.int64)
            np.cumsum(plens[:-1], out=pstarts[1:])
            nxt = np.arange(len(xs)) + 1
            nxt[pstarts + plens - 1] = pstarts
            terms = xs * ys[nxt] - xs[nxt] * ys
            area2 = np.add.reduceat(terms, pstarts)
            big = np.zeros(len(lens), bool)
            big[lens % 2 == 0] = np.abs(area2) > 4 * ZERO_AREA
            ok &= big
        sure[idx[ok]] = True
    for k, raw in enumerate(raws):
        w, p = owner[k]
        ann = work[w]
        if sure[k]:
            ann.parts[p] = raw
            continue
        _, _, ref = slots[ann.slot]
        try:
            flat = numbers(_ANY.decode(raw), "polygon")
            ann.parts[p] = pieces("poly", flat, ref.width, ref.height, clip)
        except BadGeometry as exc:
            ann.parts[p] = exc
        except msgspec.DecodeError:
            ann.parts[p] = BadGeometry(
                "wrong_type", "VD111", "polygon must be a list of numbers", _raw_text(raw)
            )


def _screen_boxes(
    work: list[_Ann], slots: list[Any], raws: list[bytes], owner: list[int], clip: bool
) -> dict[int, Any]:
    """Per work index: the `bbox_2d` pieces of its COCO `[x, y, w, h]`, or `BadGeometry`."""
    out: dict[int, Any] = {}
    if not raws:
        return out
    values, lens, good = parse_flat(raws)
    starts = np.zeros(len(lens), np.int64)
    if len(lens):
        np.cumsum(lens[:-1], out=starts[1:])
    four = lens == 4
    idx = np.flatnonzero(good)[four]
    if len(idx):
        v = values[starts[four][:, None] + np.arange(4)]
        x1, y1 = v[:, 0], v[:, 1]
        x2, y2 = x1 + v[:, 2], y1 + v[:, 3]
        ws = np.array([slots[work[owner[k]].slot][2].width for k in idx], np.float64)
        hs = np.array([slots[work[owner[k]].slot][2].height for k in idx], np.float64)
        tol = BOUNDS_TOLERANCE
        ok = (x1 < x2) & (y1 < y2) & (x1 >= -tol) & (y1 >= -tol) & (x2 - ws <= tol) & (y2 - hs <= tol)
        ok &= (-x2 <= tol) & (-y2 <= tol) & (x1 - ws <= tol) & (y1 - hs <= tol)
        boxes = np.stack([x1, y1, x2, y2], axis=1).tolist()
        for row, k in enumerate(idx):
            if ok[row]:
                out[owner[k]] = [boxes[row]]
    for k, raw in enumerate(raws):
        n = owner[k]
        if n in out:
            continue
        _, _, ref = slots[work[n].slot]
        try:
            xywh = numbers(_ANY.decode(raw), "bbox")
            if len(xywh) != 4:
                raise BadGeometry(
                    "bad_box", "VD209", f"bbox needs 4 numbers [x, y, w, h], got {len(xywh)}", xywh
                )
            x, y, w, h = xywh
            out[n] = pieces("bbox_2d", [x, y, x + w, y + h], ref.width, ref.height, clip)
        except BadGeometry as exc:
            out[n] = exc
        except msgspec.DecodeError:
            out[n] = BadGeometry("wrong_type", "VD111", "bbox must be a list of numbers", _raw_text(raw))
    return out


def _coco_file_name(image: dict[str, Any]) -> str | None:
    raw = image.get("file_name")
    value = _ANY.decode(raw) if raw is not None else None
    return value if isinstance(value, str) else None


COCO = Flavor(
    key="coco",
    fields=("category", "category_id", "supercategory", "attributes", "iscrowd", "score"),
    category_fields=frozenset({"category", "category_id", "supercategory"}),
    file_name=_coco_file_name,
)


def plan_coco(src: str, ctx: Context) -> Iterator[ShardResult | CocoShard]:
    return plan(src, ctx, COCO)
