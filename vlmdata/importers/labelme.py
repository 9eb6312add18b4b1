"""LabelMe JSON files → contract records, one per annotated image (streamed file by file).

`SRC` is a folder (every `*.json` below it, in sorted path order; hidden files skipped) or one JSON file. Each
file is what LabelMe saves: `version`, `flags`, `shapes`, `imagePath`, `imageData`, `imageHeight`,
`imageWidth`, plus whatever other keys it carried.

- `imagePath` is relative to the JSON file's own folder (Windows `\\` separators are read as `/`, as LabelMe
  does); the image must lie inside the image root (default: the `SRC` folder). The embedded `imageData` blob is
  never decoded: the image file is the source of truth (a JSON whose image file is missing is skipped as
  `image_missing`, saying that the image is only embedded). `imageWidth`/`imageHeight` must agree with the
  header's displayed size; LabelMe applies the EXIF orientation when it shows an image, so its points are in
  the displayed frame.
- Shapes, by `shape_type` (absent means `polygon`, as in LabelMe's oldest files):
  `rectangle` (two opposite corners, any order) → `bbox_2d`; `polygon` → `poly`; `line`, `linestrip` → `line`.
  `point`, `points`, `circle`, `mask`, AI-assisted kinds and anything unknown are skipped and counted
  (`unsupported_shape`), never dropped silently.
- desc fields: `category` (= `label`), `label`, `group_id`, `description`, `shape_type`, `flags`. Shape `flags`
  (when not empty) → the object's `attributes`; `group_id`, `description`, `shape_type` and any other shape key
  → `metadata.labelme`. Image-level `flags`, `version`, `imagePath` and other keys → the record's
  `metadata.labelme`.
- Record id: the JSON's path relative to `SRC` without `.json` (its stem when `SRC` is a file).
- Accounting: one ledger for `SRC`; `records` counts JSON files, examples name the file. JSON files that are not
  LabelMe files (no `shapes` list) are counted as `not_an_annotation_file`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import msgspec

from vlmdata.importers.common import BadGeometry, Context, encode, numbers, pieces
from vlmdata.importers.desc import DescSkip, make_desc
from vlmdata.importers.images import ImageSkip
from vlmdata.importers.report import FileTally, ShardResult

FIELDS = ("category", "label", "group_id", "description", "shape_type", "flags")
_KINDS = {"rectangle": "bbox_2d", "polygon": "poly", "line": "line", "linestrip": "line"}
_SHAPE_OWN = frozenset({"label", "points", "flags", "shape_type", "mask"})
_FILE_OWN = frozenset({"shapes", "imageData", "imageHeight", "imageWidth"})
_DECODER = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY = msgspec.json.Decoder()


@dataclass
class FileShard:
    source: str  # SRC as given: the ledger's name
    base: str  # folder record ids are relative to
    files: list[str]


def _json_files(src: Path) -> list[str]:
    if src.is_file():
        return [str(src)]
    out: list[str] = []
    for folder, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(folder, n) for n in names if n.endswith(".json") and not n.startswith("."))
    return sorted(out)


def plan(src: str, ctx: Context) -> Iterator[FileShard]:
    path = Path(src)
    files = _json_files(path)
    base = str(path if path.is_dir() else path.parent)
    size = max(1, ctx.options.shard_size // 8)
    for start in range(0, len(files), size):
        yield FileShard(src, base, files[start : start + size])


def convert(shard: FileShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.source)
    for file in shard.files:
        line = _one(file, shard, ctx, tally)
        if line is not None:
            result.lines.append(line)
    return result


def _one(file: str, shard: FileShard, ctx: Context, tally: FileTally) -> bytes | None:
    at = {"path": file}
    try:
        with open(file, "rb") as fh:
            data = fh.read()
        raw = _DECODER.decode(data)
    except OSError as exc:
        tally.skip_record("invalid_json", at, f"cannot read: {exc.strerror or exc}")
        return None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        reason = "not_object" if isinstance(exc, msgspec.ValidationError) else "invalid_json"
        tally.skip_record(reason, at, f"not a JSON object: {exc}")
        return None
    shapes = _ANY.decode(raw["shapes"]) if "shapes" in raw else None
    image_path = _ANY.decode(raw["imagePath"]) if "imagePath" in raw else None
    if not isinstance(shapes, list) or not isinstance(image_path, str):
        tally.skip_record(
            "not_an_annotation_file", at, "no `shapes` list or no `imagePath`: not a LabelMe file"
        )
        return None
    w = _ANY.decode(raw["imageWidth"]) if "imageWidth" in raw else None
    h = _ANY.decode(raw["imageHeight"]) if "imageHeight" in raw else None
    declared = (w, h) if type(w) is int and type(h) is int else None
    ref = ctx.sizer.resolve(
        PureWindowsPath(image_path).as_posix(), os.path.dirname(os.path.abspath(file)), declared
    )
    if isinstance(ref, ImageSkip):
        message = ref.message
        if ref.reason == "image_missing" and bytes(raw.get("imageData", msgspec.Raw(b"null"))) != b"null":
            message += " (the JSON embeds the image as imageData; write it out next to the JSON first)"
        tally.skip_record(
            ref.reason,
            at | {"field": "imagePath"},
            message,
            annotations=len(shapes),
            value=ref.value,
            code=ref.code,
        )
        return None
    if not shapes:
        tally.skip_record("no_annotations", at, "no shapes")
        return None
    objects: list[dict[str, Any]] = []
    for k, shape in enumerate(shapes):
        obj = _object(shape, ref, ctx, tally, at | {"field": f"shapes[{k}]"})
        if obj is not None:
            tally.annotations.add_ok()
            tally.objects += len(obj)
            objects.extend(obj)
    if not objects:
        tally.skip_record("no_valid_annotations", at, "every shape of this file was skipped")
        return None
    tally.records.add_ok()
    rel = os.path.relpath(file, shard.base).replace(os.sep, "/")
    meta = {k: _ANY.decode(v) for k, v in raw.items() if k not in _FILE_OWN}  # decoded: Raw keeps newlines
    return encode(
        {
            "id": rel[: -len(".json")] if rel.endswith(".json") else rel,
            "images": [ref.rel],
            "width": ref.width,
            "height": ref.height,
            "objects": objects,
            "metadata": {"_import": {"format": "labelme", "file": file}, "labelme": meta},
        }
    )


def _object(
    shape: Any, ref: Any, ctx: Context, tally: FileTally, at: dict[str, Any]
) -> list[dict[str, Any]] | None:
    if not isinstance(shape, dict):
        tally.skip_annotation("not_object", at, "a shape must be an object", shape)
        return None
    shape_type = shape.get("shape_type") or "polygon"
    kind = _KINDS.get(shape_type) if isinstance(shape_type, str) else None
    if kind is None:
        tally.skip_annotation(
            "unsupported_shape", at, f"shape_type {shape_type!r} has no contract form", shape_type
        )
        return None
    flags = shape.get("flags")
    values = {
        "category": shape.get("label"),
        "label": shape.get("label"),
        "group_id": shape.get("group_id"),
        "description": shape.get("description") or None,
        "shape_type": shape_type,
        "flags": flags,
    }
    made = make_desc(ctx.desc, values)
    if isinstance(made, DescSkip):
        field = at["field"] + (".label" if made.reason != "desc_field_missing" else "")
        tally.skip_annotation(made.reason, at | {"field": field}, made.message, made.value, made.code)
        return None
    desc, changed = made
    if changed:
        tally.note("desc_whitespace")
    try:
        flat = _flat_points(shape.get("points"))
        if kind == "bbox_2d":
            if len(flat) < 4:
                raise BadGeometry("too_few_points", "VD202", "a rectangle needs two corner points", flat)
            xs, ys = flat[0::2], flat[1::2]
            flat = [min(xs), min(ys), max(xs), max(ys)]
        geoms = pieces(kind, flat, ref.width, ref.height, ctx.options.clip)
    except BadGeometry as exc:
        tally.skip_annotation(
            exc.reason, at | {"field": at["field"] + ".points"}, exc.message, exc.value, exc.code
        )
        return None
    meta = {k: v for k, v in shape.items() if k not in _SHAPE_OWN and v is not None and v != ""}
    meta["shape_type"] = shape_type
    out = []
    for p, geom in enumerate(geoms):
        obj: dict[str, Any] = {"desc": desc, kind: geom}
        if isinstance(flags, dict) and flags:
            obj["attributes"] = flags
        obj["metadata"] = {"labelme": meta if len(geoms) == 1 else {**meta, "part": p, "parts": len(geoms)}}
        out.append(obj)
    return out


def _flat_points(points: Any) -> list[float]:
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise BadGeometry("wrong_type", "VD111", "points must be a list of [x, y] pairs", points)
    return numbers([v for p in points for v in p], "points")
