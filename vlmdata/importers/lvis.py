"""LVIS (v0.5 / v1) JSON → contract records: the COCO importer with LVIS's differences.

- LVIS v1 image entries have no `file_name`; the file is named by the last two parts of `coco_url`
  (`train2017/000000391895.jpg`), so `--image-root` is the COCO images folder holding `train2017/` and
  `val2017/`. A `file_name`, when present (v0.5), wins.
- The image entry, with its `neg_category_ids` and `not_exhaustive_category_ids`, is kept verbatim in
  `metadata.lvis.image`; the categories the record uses are in `metadata.lvis.categories`.
- Desc template fields are the category's: `category` (its `name`), `category_id`, `synset`, `synonyms`, `def`
  and `frequency`, plus the annotation's `score` where present.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vlmdata.importers.coco import convert
from vlmdata.importers.coco_shards import JSON_ANY, CocoShard, Flavor, plan
from vlmdata.importers.common import Context
from vlmdata.importers.report import ShardResult


def _lvis_file_name(image: dict[str, Any]) -> str | None:
    for key in ("file_name", "coco_url"):
        raw = image.get(key)
        value = JSON_ANY.decode(raw) if raw is not None else None
        if isinstance(value, str) and value:
            if key == "coco_url":
                return "/".join(value.rstrip("/").split("/")[-2:])
            return value
    return None


LVIS = Flavor(
    key="lvis",
    fields=("category", "category_id", "synset", "synonyms", "def", "frequency", "score"),
    category_fields=frozenset({"category", "category_id", "synset", "synonyms", "def", "frequency"}),
    file_name=_lvis_file_name,
)


def plan_lvis(src: str, ctx: Context) -> Iterator[ShardResult | CocoShard]:
    return plan(src, ctx, LVIS)


__all__ = ["LVIS", "convert", "plan_lvis"]
