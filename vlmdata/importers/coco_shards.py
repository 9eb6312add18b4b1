"""A COCO (or LVIS) instances JSON as shards of images with their annotations: the plan half of the importer.

COCO cannot stream (an annotation may refer to any image), so the file is decoded once with msgspec into dicts
of raw JSON values (no Python floats) and held in memory as raw bytes plus one small dict per entry; a
pretty-printed file is first compacted (its newlines would break the JSONL lines the raw values are copied
into). Categories and images listed twice are reported and the first is kept; annotations without an image, or
naming an unknown one, are reported; the rest are grouped image by image (a stable sort by image slot) and cut
into shards of `--shard-size` images. `vlmdata.importers.coco.convert` turns each shard into records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from vlmdata.importers.common import Context, json_error, read_source
from vlmdata.importers.report import ShardResult

Raw = msgspec.Raw
JSON_ANY = msgspec.json.Decoder()
JSON_ENC = msgspec.json.Encoder()
CATEGORY_KEEP = ("id", "name", "supercategory")


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
    counts: list[int]  # annotations per image
    indices: list[int]  # each annotation's index in `annotations`, image by image
    entries: list[dict[str, Raw]]  # the annotations themselves, in the same order
    cats: dict[bytes, dict[str, Any]]  # category id (JSON text) -> category
    cat_entries: dict[bytes, dict[str, Any]]  # the same, reduced to what records keep


def raw_text(raw: Raw | None) -> str:
    if raw is None:
        return ""
    value = JSON_ANY.decode(raw)
    return value if isinstance(value, str) else JSON_ENC.encode(value).decode()


def raw_int(raw: Raw | None) -> int | None:
    if raw is None:
        return None
    value = JSON_ANY.decode(raw)
    return value if type(value) is int else None


def plan(src: str, ctx: Context, flavor: Flavor) -> Iterator[ShardResult | CocoShard]:
    data = read_source(src)
    try:
        top = msgspec.json.decode(data, type=_Top)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise json_error(exc, data, src) from None
    if b"\n" in data.rstrip() or b"\r" in data.rstrip():  # pretty-printed: compact so raw values are one line
        data = JSON_ENC.encode(JSON_ANY.decode(data))
        top = msgspec.json.decode(data, type=_Top)
    first = ShardResult()
    tally = first.tally(src)
    cats: dict[bytes, dict[str, Any]] = {}
    for i, cat in enumerate(top.categories):
        key = JSON_ENC.encode(cat.get("id"))
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
                {"index": i, "id": raw_text(raw_id)},
                "image id listed twice; the first is kept",
            )
            continue
        index[key] = len(kept)
        kept.append((i, image))
    anns = top.annotations
    del top
    # image slot of every annotation (-1: unknown image id, -2: no image_id), then a stable sort by slot
    slot_of = np.fromiter(
        (-2 if (r := a.get("image_id")) is None else index.get(bytes(r), -1) for a in anns),
        np.int64,
        len(anns),
    )
    for j in np.flatnonzero(slot_of < 0).tolist():
        ann = anns[j]
        at = {"index": j, "id": raw_text(ann.get("id")), "field": "image_id"}
        if slot_of[j] == -2:
            tally.skip_annotation("missing_field", at, "annotation without `image_id`")
        else:
            tally.skip_annotation("unknown_image", at, "no image has this id", raw_text(ann["image_id"]))
    order = np.argsort(slot_of, kind="stable")
    order = order[slot_of[order] >= 0]
    counts = np.bincount(slot_of[order], minlength=len(kept)).tolist()
    ends = np.cumsum([0, *counts]).tolist()
    entries = {k: {f: c[f] for f in CATEGORY_KEEP if f in c} for k, c in cats.items()}
    yield first
    size = max(1, ctx.options.shard_size)
    stem = Path(src).stem
    for start in range(0, len(kept), size):
        stop = min(start + size, len(kept))
        picked = order[ends[start] : ends[stop]].tolist()
        yield CocoShard(
            flavor,
            src,
            stem,
            kept[start:stop],
            counts[start:stop],
            picked,
            [anns[j] for j in picked],
            cats,
            entries,
        )
