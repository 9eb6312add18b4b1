"""YOLO (Ultralytics layout) detection and segmentation labels → contract records, one per image (streamed).

`SRC` is the dataset's `data.yaml` (or the folder holding it). From it:

- `names`: the class names, a `{0: person, 1: car}` mapping or a `[person, car]` list; a dataset without names,
  or a pose (`kpt_shape`) dataset, is refused (VD162 / VD176).
- `path`: the dataset root; relative to the YAML's folder when relative (Ultralytics resolves it against its
  global datasets folder instead; a self-contained dataset reads the same either way), the YAML's folder when
  absent. It is the default image root.
- `--split` (default `train`) picks `train`/`val`/`test`: a folder (images below it, any depth, by Ultralytics'
  image suffixes, sorted), a `.txt` list of image paths (relative ones resolve against the list's folder), or a
  list of those.

Each image's labels are at Ultralytics' path: the last `/images/` of the image path becomes `/labels/` and the
suffix `.txt`. An image without a label file, or with an empty one, is a background image (`no_annotations`).
A label line is `class cx cy w h` (a box, 5 values) or `class x1 y1 ... xn yn` (a polygon, 1 + 2n values,
n ≥ 3), coordinates normalised to the displayed image (Ultralytics reads images with the EXIF orientation
applied): `x · W`, `y · H`, a box → `[(cx − w/2)·W, (cy − h/2)·H, (cx + w/2)·W, (cy + h/2)·H]`. A line of any
other length, or with a non-number, is `bad_label_line`; a class not in `names` is `unknown_category`.

desc fields: `category` (the class name) and `class_id`. Record id: `<split>:<image path relative to the image
root>`; metadata keeps the split and the label file, each object its class id and label line number. One ledger
for the whole split (named by the YAML); examples name the label file and line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.importers.codes import SOURCE_NOT_JSON, SOURCE_SHAPE, UNSUPPORTED_DATASET
from vlmdata.importers.common import BadGeometry, Context, encode, pieces, read_source
from vlmdata.importers.desc import DescSkip, make_desc
from vlmdata.importers.images import ImageSkip
from vlmdata.importers.report import FileTally, ShardResult

FIELDS = ("category", "class_id")
IMG_SUFFIXES = frozenset({"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"})


@dataclass
class YoloShard:
    source: str  # the YAML: the ledger's name
    split: str
    names: dict[int, str]
    images: list[str]  # absolute paths


def _yaml_path(src: Path) -> Path:
    if src.is_dir():
        for name in ("data.yaml", "data.yml", "dataset.yaml"):
            if (src / name).is_file():
                return src / name
        raise VlmdataError(
            SOURCE_SHAPE, "no data.yaml in this folder", where=Location(file=str(src)), exit_code=2
        )
    return src


def _load(src: Path) -> tuple[Path, dict[str, Any]]:
    import yaml

    path = _yaml_path(src)
    text = read_source(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise VlmdataError(
            SOURCE_NOT_JSON,
            f"YAML does not parse: {getattr(exc, 'problem', exc)}",
            where=Location(file=str(path), line=mark.line + 1 if mark else None),
        ) from None
    if not isinstance(data, dict):
        raise VlmdataError(SOURCE_SHAPE, "data.yaml must be a mapping", where=Location(file=str(path)))
    return path, data


def dataset_root(yaml_path: Path, data: dict[str, Any]) -> Path:
    root = data.get("path")
    if root is None or root == "":
        return yaml_path.parent
    root_path = Path(str(root)).expanduser()
    return root_path if root_path.is_absolute() else yaml_path.parent / root_path


def default_root(src: Path) -> Path:
    path, data = _load(src)
    return dataset_root(path, data)


def _names(path: Path, data: dict[str, Any]) -> dict[int, str]:
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise VlmdataError(
            SOURCE_SHAPE,
            "data.yaml needs `names` (a list or an id → name mapping)",
            where=Location(file=str(path), field="names"),
        )
    out = {}
    for k, v in names.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 0 or not isinstance(v, (str, int, float)):
            raise VlmdataError(
                SOURCE_SHAPE,
                f"names entry {k!r}: {v!r} is not `int: name`",
                where=Location(file=str(path), field="names"),
            )
        out[k] = str(v)
    return out


def _images(entry: Any, root: Path, path: Path, split: str) -> list[str]:
    found: list[str] = []
    for item in entry if isinstance(entry, list) else [entry]:
        if not isinstance(item, str):
            raise VlmdataError(
                SOURCE_SHAPE, f"`{split}` entries must be paths", where=Location(file=str(path))
            )
        p = Path(item).expanduser()
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            for folder, dirs, names in os.walk(p):
                dirs.sort()
                found.extend(
                    os.path.join(folder, n) for n in names if n.rsplit(".", 1)[-1].lower() in IMG_SUFFIXES
                )
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line:
                    q = Path(line)
                    found.append(os.path.normpath(q if q.is_absolute() else p.parent / q))
        else:
            raise VlmdataError(
                SOURCE_SHAPE, f"`{split}` path not found: {p}", where=Location(file=str(path), field=split)
            )
    return sorted(os.path.abspath(f) for f in found)


def plan(src: str, ctx: Context) -> Iterator[YoloShard]:
    path, data = _load(Path(src))
    for key in ("kpt_shape", "kpt_names"):
        if key in data:
            raise VlmdataError(
                UNSUPPORTED_DATASET,
                "pose (keypoint) datasets have no contract form",
                where=Location(file=str(path), field=key),
            )
    names = _names(path, data)
    split = ctx.options.split
    if data.get(split) in (None, ""):
        raise VlmdataError(
            SOURCE_SHAPE,
            f"data.yaml has no `{split}` split",
            where=Location(file=str(path)),
            hint="pass --split with one of: " + ", ".join(k for k in ("train", "val", "test") if data.get(k)),
            exit_code=2,
        )
    images = _images(data[split], dataset_root(path, data), path, split)
    size = max(1, ctx.options.shard_size)
    ctx.extra["yolo"] = {"split": split, "images": len(images), "classes": len(names)}
    for start in range(0, len(images), size):
        yield YoloShard(src, split, names, images[start : start + size])


def label_path(image: str) -> str:
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def convert(shard: YoloShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.source)
    for image in shard.images:
        line = _one(image, shard, ctx, tally)
        if line is not None:
            result.lines.append(line)
    return result


def _one(image: str, shard: YoloShard, ctx: Context, tally: FileTally) -> bytes | None:
    labels = label_path(image)
    try:
        with open(labels, "rb") as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        tally.skip_record("bad_label_line", {"path": labels}, f"label file unreadable: {exc}")
        return None
    rows = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    ref = ctx.sizer.resolve(image)
    if isinstance(ref, ImageSkip):
        tally.skip_record(
            ref.reason, {"path": image}, ref.message, annotations=len(rows), value=ref.value, code=ref.code
        )
        return None
    if not rows:
        tally.skip_record("no_annotations", {"path": image}, "background image (no labels)")
        return None
    objects = []
    for number, tokens in rows:
        obj = _object(tokens, ref, shard.names, ctx, tally, {"path": labels, "line": number})
        if obj:
            tally.annotations.add_ok()
            tally.objects += len(obj)
            objects.extend(obj)
    if not objects:
        tally.skip_record("no_valid_annotations", {"path": labels}, "every label line was skipped")
        return None
    tally.records.add_ok()
    rel_labels = os.path.relpath(labels, ctx.root).replace(os.sep, "/")
    return encode(
        {
            "id": f"{shard.split}:{ref.rel}",
            "images": [ref.rel],
            "width": ref.width,
            "height": ref.height,
            "objects": objects,
            "metadata": {
                "_import": {"format": "yolo", "file": shard.source},
                "yolo": {"split": shard.split, "label_file": rel_labels},
            },
        }
    )


def _object(
    tokens: list[str], ref: Any, names: dict[int, str], ctx: Context, tally: FileTally, at: dict[str, Any]
) -> list[dict[str, Any]] | None:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        tally.skip_annotation("bad_label_line", at, "a value is not a number", " ".join(tokens))
        return None
    if not all(math.isfinite(v) for v in values):
        tally.skip_annotation("not_finite", at, "a value is NaN or infinite", " ".join(tokens))
        return None
    n = len(values)
    if not (n == 5 or (n >= 7 and n % 2 == 1)):
        tally.skip_annotation(
            "bad_label_line",
            at,
            f"{n} values: expected `class cx cy w h` or `class x1 y1 x2 y2 x3 y3 ...`",
            " ".join(tokens),
        )
        return None
    if values[0] < 0 or values[0] != int(values[0]):
        tally.skip_annotation(
            "bad_label_line", at, "the class is not a non-negative integer", " ".join(tokens)
        )
        return None
    cls = int(values[0])
    if cls not in names:
        tally.skip_annotation("unknown_category", at, f"class {cls} is not in data.yaml names", cls)
        return None
    made = make_desc(ctx.desc, {"category": names[cls], "class_id": cls})
    if isinstance(made, DescSkip):
        tally.skip_annotation(made.reason, at, made.message, made.value, made.code)
        return None
    desc, changed = made
    if changed:
        tally.note("desc_whitespace")
    w, h = ref.width, ref.height
    if n == 5:
        cx, cy, bw, bh = values[1:]
        kind, flat = "bbox_2d", [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
    else:
        kind = "poly"
        flat = [v * (w if i % 2 == 0 else h) for i, v in enumerate(values[1:])]
    try:
        geoms = pieces(kind, flat, w, h, ctx.options.clip)
    except BadGeometry as exc:
        tally.skip_annotation(exc.reason, at, exc.message, exc.value, exc.code)
        return None
    meta = {"yolo": {"class": cls, "line": at["line"]}}
    return [{"desc": desc, kind: g, "metadata": meta} for g in geoms]
