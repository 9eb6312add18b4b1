"""The Qwen-native dense target: Qwen3-VL's own grounding answer, a JSON list with one item per object.

Qwen3-VL answers "locate ... in JSON format" with a ```json code block holding a list, one item per line
indented by a tab, each item `{"bbox_2d": [x1, y1, x2, y2], "label": "..."}` on the 0–1000 grid (the
layout of the model's own outputs in the Qwen3-VL grounding cookbooks). Training on that layout starts from
the answer the model already gives. Polygons and polylines, which Qwen has no fixed key for, use
`{"polygon": [[x, y], ...], "label": ...}` and `{"line": [[x, y], ...], "label": ...}`:

```json
[
        {"bbox_2d": [100, 100, 300, 400], "label": "person"},
        {"polygon": [[500, 200], [600, 200], [600, 400]], "label": "kite"}
]
```

Coordinates, canonical geometry and object order are exactly the object map's (`dense.grid_objects`): the two
formats differ only in the text around them. Records with several images add `"image": k` (1-based) after the
label. No objects: `[]` inside the block. Without the fence (`fence: false` in a template file) the list
stands alone. `vlmdata.eval.qwen.parse_qwen` reads this format back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.render.dense import grid_objects

QWEN_KEYS = {"bbox_2d": "bbox_2d", "poly": "polygon", "line": "line"}  # object kind → item key
FENCE_OPEN = "```json\n"
FENCE_CLOSE = "\n```"


def qwen_items(record: Mapping[str, Any], objects: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """One JSON text per object, in target order."""
    n_images = len(record.get("images") or [])
    items = []
    for key, kind, geom, index in grid_objects(record, objects):
        item: dict[str, Any] = {QWEN_KEYS[kind]: geom, "label": key[-1]}
        if n_images > 1:
            item["image"] = index + 1
        items.append(json.dumps(item, ensure_ascii=False, separators=(", ", ": ")))
    return items


def qwen_list_text(items: Sequence[str]) -> str:
    return "[\n" + ",\n".join("\t" + it for it in items) + "\n]" if items else "[]"


def qwen_json(
    record: Mapping[str, Any], objects: Sequence[Mapping[str, Any]] | None = None, fence: bool = True
) -> str:
    """The Qwen-native target body of the record's objects (or of `objects`, e.g. after augmentation)."""
    body = qwen_list_text(qwen_items(record, objects))
    return FENCE_OPEN + body + FENCE_CLOSE if fence else body
