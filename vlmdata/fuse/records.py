"""What fusion does to a record: tag its metadata and apply the entry's `max_objects` cap.

The same functions serve the offline writer (on Arrow chunks) and the online stream (on one record), so
`vlmdata fuse` output and `FusionStream[i]` are equal record for record.

Metadata tags, appended to the record's `metadata` JSON object: `_source` (entry name), `_domain`
(`target`/`source`), `_mode`, `_template`, and `_augment` (whether training-time augmentation applies).
When the metadata has none of these keys (the normal case) they are appended as text after the existing keys,
so the existing text is kept byte for byte; otherwise the object is parsed and the keys replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlmdata.errors import Location, VlmdataError
from vlmdata.fuse import codes
from vlmdata.fuse.config import Domain, EntryConfig, FusionConfig
from vlmdata.fuse.plan import ObjectSubsetter, object_subset

TAG_KEYS = ("_source", "_domain", "_mode", "_template", "_augment")


@dataclass(frozen=True)
class EntryTags:
    name: str
    domain: Domain
    mode: str
    template: str
    augment: bool
    max_objects: int | None

    @classmethod
    def of(
        cls, config: FusionConfig, domain: Domain, entry: EntryConfig, augment: bool | None = None
    ) -> EntryTags:
        aug = config.augment_of(domain, entry) if augment is None else augment
        return cls(entry.name, domain, entry.mode, config.template_of(domain, entry), aug, entry.max_objects)

    def as_dict(self) -> dict[str, Any]:
        return {
            "_source": self.name,
            "_domain": self.domain,
            "_mode": self.mode,
            "_template": self.template,
            "_augment": self.augment,
        }

    def suffix(self) -> str:
        """The tags as JSON members without braces: `"_source": "x", ...`."""
        return json.dumps(self.as_dict(), ensure_ascii=False)[1:-1]


def tag_metadata(meta: str | None, tags: EntryTags, suffix: str | None = None, record_id: Any = None) -> str:
    suffix = tags.suffix() if suffix is None else suffix
    text = (meta or "{}").strip()
    if text == "{}":
        return "{" + suffix + "}"
    if text.startswith("{") and text.endswith("}") and not any(f'"{k}"' in text for k in TAG_KEYS):
        head = text[:-1].rstrip()
        return head + suffix + "}" if head == "{" else head + ", " + suffix + "}"
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise VlmdataError(
            codes.BAD_METADATA,
            "metadata is not a JSON object",
            where=Location(record_id=None if record_id is None else str(record_id), field="metadata"),
            value=text[:80],
        )
    obj.update(tags.as_dict())
    return json.dumps(obj, ensure_ascii=False)


def finalize_record(record: dict[str, Any], tags: EntryTags, seed: int, epoch: int) -> dict[str, Any]:
    """The fused form of one record (a new dict; `record` is not changed)."""
    from vlmdata.io.features import COLUMNS

    out = {col: record.get(col) for col in COLUMNS}
    out["metadata"] = tag_metadata(out["metadata"], tags, record_id=out["id"])
    objects = out["objects"] or []
    if tags.max_objects is not None and len(objects) > tags.max_objects:
        keep = object_subset(seed, epoch, tags.name, str(out["id"]), len(objects), tags.max_objects)
        objects = [objects[int(i)] for i in keep]
    out["objects"] = list(objects)
    return out


def finalize_table(table: Any, tags: EntryTags, seed: int, epoch: int) -> Any:
    """`finalize_record` over an Arrow table in the normalised schema: same results, vectorised."""
    metas = table.column("metadata").combine_chunks()
    ids = table.column("id").combine_chunks()
    table = table.set_column(
        table.schema.get_field_index("metadata"), "metadata", tag_metadata_array(metas, ids, tags)
    )
    if tags.max_objects is not None:
        objects = cap_objects_array(table.column("objects").combine_chunks(), ids, tags, seed, epoch)
        table = table.set_column(table.schema.get_field_index("objects"), "objects", objects)
    return table


# A metadata text the vectorised path may extend as text: `{...}` with no surrounding whitespace and a value
# character right before the closing brace (so `text[:-1].rstrip() == text[:-1]`). Everything else (nulls,
# whitespace, existing tag keys, non-objects) goes through `tag_metadata` one record at a time.
_FAST_METADATA = r'(?s)^\{.*["0-9\]}el]\}$'


def tag_metadata_array(metas: Any, ids: Any, tags: EntryTags) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    suffix = tags.suffix()
    empty = pc.equal(metas, "{}")
    fast = pc.match_substring_regex(metas, _FAST_METADATA)
    for key in TAG_KEYS:
        fast = pc.and_(fast, pc.invert(pc.match_substring(metas, f'"{key}"')))
    joined = pc.binary_join_element_wise(pc.utf8_slice_codeunits(metas, 0, -1), ", " + suffix + "}", "")
    out = pc.if_else(empty, "{" + suffix + "}", joined)
    slow = ~pc.fill_null(pc.or_(empty, fast), False).to_numpy(zero_copy_only=False)
    rows = np.nonzero(slow)[0]
    if rows.size:
        todo = zip(metas.take(rows).to_pylist(), ids.take(rows).to_pylist(), strict=True)
        fixed = pa.array([tag_metadata(m, tags, suffix, i) for m, i in todo], type=pa.string())
        out = pc.replace_with_mask(out, pa.array(slow), fixed)
    return out


def cap_objects_array(objects: Any, ids: Any, tags: EntryTags, seed: int, epoch: int) -> Any:
    """Apply the `max_objects` cap to a ListArray of objects: only over-long rows are touched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cap = int(tags.max_objects or 0)
    lengths = pc.fill_null(pc.list_value_length(objects), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    over = np.nonzero(lengths > cap)[0]
    if over.size == 0:
        return objects
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    over_lengths = lengths[over]
    over_starts = np.concatenate([[0], np.cumsum(over_lengths)[:-1]])
    positions = np.repeat(starts[over] - over_starts, over_lengths) + np.arange(int(over_lengths.sum()))
    keep = np.ones(int(lengths.sum()), dtype=bool)
    subsetter = ObjectSubsetter(seed, epoch, tags.name)
    keep[positions] = subsetter.keep_mask([str(i) for i in ids.take(over).to_pylist()], over_lengths, cap)
    new_lengths = lengths.copy()
    new_lengths[over] = cap
    offsets = pa.array(np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int32))
    values = objects.flatten().filter(pa.array(keep))
    return pa.ListArray.from_arrays(offsets, values, type=objects.type, mask=objects.is_null())
