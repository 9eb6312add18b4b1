"""The table of import formats: one row per format, each backed by its own module.

A row names the format, what `SRC` is, the `--desc-template` fields it provides, the format-specific options it
honours (others are refused with a usage error rather than silently ignored), the default image root, and two
functions: `plan(src, ctx)` yields units of work (or `ShardResult`s for what it already accounted while reading,
e.g. annotations pointing at unknown images) and `convert(unit, ctx)` turns one unit into output lines plus
its accounting. `convert` is a pure function of its unit and the context, so units can be spread over workers
and merged in order. Adding a format = one module with `plan`/`convert` + one row here (and its section in
docs/import.md; `tests/importers/test_registry.py` checks that every row is documented).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmdata.importers import coco, labelme, lvis, odvg, qwen, swift, yolo
from vlmdata.importers.common import Context
from vlmdata.importers.report import ShardResult

FORMAT_OPTIONS = frozenset({"crowd", "boxes_only", "label_map", "split", "frame"})


def _beside(src: Path) -> Path:
    """The folder of a file source, or the source folder itself."""
    return src if src.is_dir() else src.parent


@dataclass(frozen=True)
class Format:
    name: str
    summary: str
    source: str
    plan: Callable[[str, Context], Iterator[Any]]
    convert: Callable[[Any, Context], ShardResult]
    fields: tuple[str, ...]
    options: frozenset[str] = frozenset()
    default_root: Callable[[Path], Path] = _beside
    streaming: bool = False
    makes_descs: bool = True  # False: the format writes conversations, so --desc-template has nothing to do


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "coco",
            "COCO instances JSON: boxes, polygons, RLE masks",
            "instances JSON file",
            coco.plan_coco,
            coco.convert,
            coco.COCO.fields,
            frozenset({"crowd", "boxes_only"}),
        ),
        Format(
            "lvis",
            "LVIS JSON (COCO-like; keeps neg / not-exhaustive category ids)",
            "LVIS JSON file",
            lvis.plan_lvis,
            lvis.convert,
            lvis.LVIS.fields,
            frozenset({"crowd", "boxes_only"}),
        ),
        Format(
            "odvg",
            "Grounding-DINO ODVG JSONL: detection and grounding/REC lines",
            "ODVG JSONL file",
            odvg.plan,
            odvg.convert,
            odvg.FIELDS,
            frozenset({"label_map"}),
            streaming=True,
        ),
        Format(
            "labelme",
            "LabelMe JSON files: rectangle, polygon, line, linestrip",
            "folder of LabelMe JSON files (searched recursively) or one file",
            labelme.plan,
            labelme.convert,
            labelme.FIELDS,
            streaming=True,
        ),
        Format(
            "yolo",
            "YOLO detection/segmentation labels with data.yaml class names",
            "data.yaml (or the folder holding it)",
            yolo.plan,
            yolo.convert,
            yolo.FIELDS,
            frozenset({"split"}),
            default_root=yolo.default_root,
            streaming=True,
        ),
        Format(
            "swift",
            "ms-swift JSONL: grounding (objects + <ref-object>/<bbox>) and plain messages+images chat",
            "ms-swift JSONL file",
            swift.plan,
            swift.convert,
            swift.FIELDS,
            streaming=True,
            makes_descs=False,
        ),
        Format(
            "qwen",
            'Qwen-VL native answers: [{"bbox_2d": [...], "label": ...}] JSON, 0–1000 grid or pixels',
            "JSONL of messages+images whose assistant turn is the JSON answer",
            qwen.plan,
            qwen.convert,
            qwen.FIELDS,
            frozenset({"frame"}),
            streaming=True,
        ),
    )
}
