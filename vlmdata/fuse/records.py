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
from vlmdata.fuse.plan import object_subset

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
        return text[:-1].rstrip() + ", " + suffix + "}"
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
    """`finalize_record` over an Arrow table in the normalised schema (same results, vectorised caps)."""
    import pyarrow as pa

    suffix = tags.suffix()
    ids = table.column("id").to_pylist()
    metas = table.column("metadata").to_pylist()
    tagged = pa.array(
        [tag_metadata(m, tags, suffix, i) for m, i in zip(metas, ids, strict=True)], type=pa.string()
    )
    table = table.set_column(table.schema.get_field_index("metadata"), "metadata", tagged)
    if tags.max_objects is not None:
        objects = cap_objects_array(table.column("objects").combine_chunks(), ids, tags, seed, epoch)
        table = table.set_column(table.schema.get_field_index("objects"), "objects", objects)
    return table


def cap_objects_array(objects: Any, ids: list[Any], tags: EntryTags, seed: int, epoch: int) -> Any:
    """Apply the `max_objects` cap to a ListArray of objects: only over-long rows are touched."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cap = int(tags.max_objects or 0)
    lengths = pc.fill_null(pc.list_value_length(objects), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    over = np.nonzero(lengths > cap)[0]
    if over.size == 0:
        return objects
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keep = np.ones(int(lengths.sum()), dtype=bool)
    for row in over:
        start, n = int(starts[row]), int(lengths[row])
        keep[start : start + n] = False
        keep[start + object_subset(seed, epoch, tags.name, str(ids[row]), n, cap)] = True
    new_lengths = lengths.copy()
    new_lengths[over] = cap
    offsets = pa.array(np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int32))
    values = objects.flatten().filter(pa.array(keep))
    return pa.ListArray.from_arrays(offsets, values, type=objects.type, mask=objects.is_null())
