"""Planting known defects: one row per defect kind, each with the contract code `vlmdata validate` must report.

A planter takes a fresh clean record (and the image jobs that paint it) and breaks exactly one thing, so the
record carries one intended defect: the manifest lists its line, id, kind, expected code and field path.
Image defects replace the record's image job (corrupt bytes, truncated file, GIF, hand-written bomb header,
…) or point the path somewhere bad (missing file, `..`, a symlink leaving the root).

Rows with severity `warning` plant problems the contract accepts with a warning (the record is kept).

`DEFECTS` is the single table: adding a defect kind means adding one planter and one row; the tests iterate
over it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlmdata.contract import codes as C
from vlmdata.contract.kinds import GEOMETRY_KINDS, POINT_COUNT_KEYS
from vlmdata.errors import ErrorCode
from vlmdata.synth.imagefiles import ImageJob


@dataclass
class Plant:
    record: dict[str, Any]
    jobs: list[ImageJob]
    field: str | None = None
    raw: bytes | None = None  # the line to write instead of the record's JSON (line-level defects)
    symlinks: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (relpath, target)

    @property
    def record_id(self) -> str | None:
        return None if self.raw is not None else self.record.get("id")


Planter = Callable[[Plant, np.random.Generator], None]


@dataclass(frozen=True)
class Defect:
    kind: str
    code: ErrorCode
    base: str  # record kind the planter starts from: dense | multi | chat_image
    plant: Planter
    needs_images: bool = False  # meaningful only when image files are written

    @property
    def severity(self) -> str:
        return self.code.severity


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _obj(p: Plant, kind: str) -> dict[str, Any]:
    """objects[0], rewritten to geometry `kind` (within its old bounding box) if it has another kind."""
    obj = p.record["objects"][0]
    if kind in obj:
        return obj
    x1, y1, x2, y2 = _bbox(obj)
    for k in (*GEOMETRY_KINDS, *POINT_COUNT_KEYS.values()):
        obj.pop(k, None)
    if kind == "bbox_2d":
        obj["bbox_2d"] = [x1, y1, x2, y2]
    elif kind == "poly":
        obj["poly"] = [x1, y1, x2, y1, x2, y2, x1, y2]
    else:
        obj["line"] = [x1, y1, x2, y2]
    return obj


def _bbox(obj: dict[str, Any]) -> list[float]:
    for k in GEOMETRY_KINDS:
        if k in obj:
            pts = obj[k]
            xs, ys = pts[0::2], pts[1::2]
            return [min(xs), min(ys), max(xs), max(ys)]
    raise KeyError("object without geometry")


def _geom_key(obj: dict[str, Any]) -> str:
    return next(k for k in GEOMETRY_KINDS if k in obj)


# ---------------------------------------------------------------- planters: lines and fields


def malformed_json(p: Plant, rng: np.random.Generator) -> None:
    text = dumps(p.record)
    p.raw = text[: int(len(text) * rng.uniform(0.3, 0.8))].encode("utf-8")


def non_utf8(p: Plant, rng: np.random.Generator) -> None:
    desc = p.record["objects"][0]["desc"]
    text = dumps(p.record).encode("utf-8")
    bad = desc.encode("gbk") if not desc.isascii() else desc.encode() + b"\xff\xfe"
    p.raw = text.replace(desc.encode("utf-8"), bad, 1)


def not_object(p: Plant, rng: np.random.Generator) -> None:
    p.raw = json.dumps([p.record], ensure_ascii=False).encode("utf-8")


def missing_field(p: Plant, rng: np.random.Generator) -> None:
    del p.record["width"]
    p.field = "width"


def wrong_type(p: Plant, rng: np.random.Generator) -> None:
    p.record["height"] = str(p.record["height"])
    p.field = "height"


def unknown_key(p: Plant, rng: np.random.Generator) -> None:
    p.record["objects"][0]["score"] = 0.87
    p.field = "objects[0].score"


def not_finite(p: Plant, rng: np.random.Generator) -> None:
    obj = p.record["objects"][0]
    key = _geom_key(obj)
    obj[key][0] = float("nan")  # json.dumps writes the bare token NaN, as Python pipelines do
    p.field = f"objects[0].{key}[0]"


def bool_as_number(p: Plant, rng: np.random.Generator) -> None:
    obj = p.record["objects"][0]
    key = _geom_key(obj)
    obj[key][1] = True
    p.field = f"objects[0].{key}[1]"


def two_geometry_keys(p: Plant, rng: np.random.Generator) -> None:
    obj = p.record["objects"][0]
    x1, y1, x2, y2 = _bbox(obj)
    if "bbox_2d" in obj:
        obj["poly"] = [x1, y1, x2, y1, x2, y2, x1, y2]
    else:
        obj["bbox_2d"] = [x1, y1, x2, y2]
    p.field = "objects[0]"


def bad_desc(p: Plant, rng: np.random.Generator) -> None:
    obj = p.record["objects"][0]
    obj["desc"] = obj["desc"] + "\n" + obj["desc"]
    p.field = "objects[0].desc"


def out_of_range(p: Plant, rng: np.random.Generator) -> None:
    p.record["width"] = 0
    p.field = "width"


def remote_url(p: Plant, rng: np.random.Generator) -> None:
    p.record["images"] = ["https://example.com/" + p.record["images"][0]]
    p.jobs = []
    p.field = "images[0]"


def no_objects(p: Plant, rng: np.random.Generator) -> None:
    p.record["objects"] = []
    p.record.pop("summary", None)
    p.field = "objects"


def image_index(p: Plant, rng: np.random.Generator) -> None:
    p.record["objects"][0]["image_index"] = len(p.record["images"])
    p.field = "objects[0].image_index"


# ---------------------------------------------------------------- planters: geometry


def box_inverted(p: Plant, rng: np.random.Generator) -> None:
    b = _obj(p, "bbox_2d")["bbox_2d"]
    b[0], b[2] = b[2], b[0]
    p.field = "objects[0].bbox_2d"


def box_zero(p: Plant, rng: np.random.Generator) -> None:
    b = _obj(p, "bbox_2d")["bbox_2d"]
    b[3] = b[1]
    p.field = "objects[0].bbox_2d"


def poly_odd(p: Plant, rng: np.random.Generator) -> None:
    obj = _obj(p, "poly")
    obj.pop("poly_points", None)
    obj["poly"] = obj["poly"][:-1]
    p.field = "objects[0].poly"


def poly_short(p: Plant, rng: np.random.Generator) -> None:
    obj = _obj(p, "poly")
    obj.pop("poly_points", None)
    obj["poly"] = obj["poly"][:4]
    p.field = "objects[0].poly"


def poly_zero_area(p: Plant, rng: np.random.Generator) -> None:
    obj = _obj(p, "poly")
    obj.pop("poly_points", None)
    x1, y1, x2, _ = _bbox(obj)
    obj["poly"] = [x1, y1, round((x1 + x2) / 2, 1), y1, x2, y1]  # three points on one horizontal line
    p.field = "objects[0].poly"


def line_single_point(p: Plant, rng: np.random.Generator) -> None:
    obj = _obj(p, "line")
    obj.pop("line_points", None)
    x, y = obj["line"][0], obj["line"][1]
    obj["line"] = [x, y, x, y]
    p.field = "objects[0].line"


def out_of_bounds(p: Plant, rng: np.random.Generator) -> None:
    b = _obj(p, "bbox_2d")["bbox_2d"]
    b[2] = float(p.record["width"]) + 25.5
    p.field = "objects[0].bbox_2d"


def points_mismatch(p: Plant, rng: np.random.Generator) -> None:
    obj = _obj(p, "poly")
    obj["poly_points"] = len(obj["poly"]) // 2 + 1
    p.field = "objects[0].poly_points"


def near_bounds(p: Plant, rng: np.random.Generator) -> None:
    b = _obj(p, "bbox_2d")["bbox_2d"]
    b[2] = float(p.record["width"]) + 0.3
    p.field = "objects[0].bbox_2d"


def looks_normalised(p: Plant, rng: np.random.Generator) -> None:
    w, h = p.record["width"], p.record["height"]
    for obj in p.record["objects"]:
        key = _geom_key(obj)
        obj[key] = [v / (w if i % 2 == 0 else h) for i, v in enumerate(obj[key])]
    p.field = "objects"


# ---------------------------------------------------------------- planters: images


def _job(p: Plant) -> ImageJob:
    return p.jobs[0]


def image_missing(p: Plant, rng: np.random.Generator) -> None:
    p.record["images"][0] = p.record["images"][0].replace("images/", "images/missing-", 1)
    p.jobs = []
    p.field = "images[0]"


def escape_dotdot(p: Plant, rng: np.random.Generator) -> None:
    name = p.record["images"][0].rsplit("/", 1)[-1]
    p.record["images"][0] = f"images/../../outside-{name}"
    p.jobs = []
    p.field = "images[0]"


def escape_symlink(p: Plant, rng: np.random.Generator) -> None:
    path = p.record["images"][0]
    link = path.replace("images/", "images/link-", 1)
    p.record["images"][0] = link
    depth = link.count("/")
    p.symlinks.append((link, "../" * (depth + 1) + "outside-" + path.rsplit("/", 1)[-1]))
    p.jobs = []
    p.field = "images[0]"


def _fmt(fmt: str) -> Planter:
    def plant(p: Plant, rng: np.random.Generator) -> None:
        job = _job(p)
        new_fmt = fmt if fmt != "truncated" else ("truncated-jpeg" if rng.random() < 0.5 else "truncated-png")
        old_ext = job.relpath.rsplit(".", 1)[-1]
        from vlmdata.synth.imagefiles import EXTENSIONS

        job.relpath = job.relpath[: -len(old_ext) - 1] + EXTENSIONS[new_fmt]
        job.fmt = new_fmt
        job.orientation = 1
        p.record["images"][0] = job.relpath
        p.field = "images[0]"

    return plant


def size_mismatch(p: Plant, rng: np.random.Generator) -> None:
    p.record["width"] += int(rng.integers(8, 40))
    p.field = "width"


def exif_mismatch(p: Plant, rng: np.random.Generator) -> None:
    job = _job(p)
    if job.width == job.height:
        raise ValueError("exif_mismatch needs a non-square base image")
    if not job.relpath.endswith(".jpg"):
        job.relpath = job.relpath.rsplit(".", 1)[0] + ".jpg"
        p.record["images"][0] = job.relpath
    job.fmt = "jpeg"
    job.orientation = 6 if rng.random() < 0.5 else 8
    job.store_raw = True  # annotated on the raw pixels; a viewer shows them rotated by 90°
    p.field = "images[0]"


def decompression_bomb(p: Plant, rng: np.random.Generator) -> None:
    job = _job(p)
    job.relpath = job.relpath.rsplit(".", 1)[0] + ".png"
    job.fmt, job.orientation = "bomb", 1
    job.width, job.height = 40000, 30000
    p.record["images"][0] = job.relpath
    p.record["width"], p.record["height"] = job.width, job.height
    p.field = "images[0]"


def image_sizes_differ(p: Plant, rng: np.random.Generator) -> None:
    p.jobs[1].width += int(rng.integers(16, 64))
    p.field = "images[1]"


# ---------------------------------------------------------------- planters: conversation and dataset


def placeholder_count(p: Plant, rng: np.random.Generator) -> None:
    user = p.record["messages"][0]
    if isinstance(user["content"], str):
        user["content"] = "<image>" + user["content"]
    else:
        user["content"].insert(0, dict(user["content"][0]))
    p.field = "messages[0].content"


def summary_json(p: Plant, rng: np.random.Generator) -> None:
    summary = p.record.get("summary") or '{"统计": [{"类别": "BBU设备"}]}'
    p.record["summary"] = summary[: -int(rng.integers(1, 4))]
    p.field = "summary"


def bad_messages(p: Plant, rng: np.random.Generator) -> None:
    p.record["messages"][-1]["role"] = "robot"
    p.field = f"messages[{len(p.record['messages']) - 1}].role"


def duplicate_id(p: Plant, rng: np.random.Generator) -> None:
    p.field = "id"  # the generator sets the id to one already used by an earlier clean record


DEFECTS: tuple[Defect, ...] = (
    Defect("malformed_json", C.INVALID_JSON, "dense", malformed_json),
    Defect("non_utf8", C.INVALID_UTF8, "dense", non_utf8),
    Defect("not_object", C.NOT_OBJECT, "dense", not_object),
    Defect("missing_field", C.MISSING_FIELD, "dense", missing_field),
    Defect("wrong_type", C.WRONG_TYPE, "dense", wrong_type),
    Defect("unknown_key", C.UNKNOWN_KEY, "dense", unknown_key),
    Defect("nan", C.NOT_FINITE, "dense", not_finite),
    Defect("bool_as_number", C.BOOL_AS_NUMBER, "dense", bool_as_number),
    Defect("two_geometry_keys", C.GEOMETRY_KEYS, "dense", two_geometry_keys),
    Defect("bad_desc", C.BAD_DESC, "dense", bad_desc),
    Defect("out_of_range", C.OUT_OF_RANGE, "dense", out_of_range),
    Defect("remote_url", C.REMOTE_URL, "dense", remote_url),
    Defect("no_objects", C.NO_OBJECTS, "dense", no_objects),
    Defect("image_index", C.IMAGE_INDEX, "dense", image_index),
    Defect("box_inverted", C.BOX_INVERTED, "dense", box_inverted),
    Defect("box_zero", C.BOX_INVERTED, "dense", box_zero),
    Defect("poly_odd", C.ODD_COORDS, "dense", poly_odd),
    Defect("poly_short", C.POLY_TOO_FEW, "dense", poly_short),
    Defect("poly_zero_area", C.POLY_ZERO_AREA, "dense", poly_zero_area),
    Defect("line_single_point", C.LINE_TOO_FEW, "dense", line_single_point),
    Defect("out_of_bounds", C.OUT_OF_BOUNDS, "dense", out_of_bounds),
    Defect("points_mismatch", C.POINTS_MISMATCH, "dense", points_mismatch),
    Defect("image_missing", C.IMAGE_MISSING, "dense", image_missing, True),
    Defect("escape_dotdot", C.OUTSIDE_ROOT, "dense", escape_dotdot, True),
    Defect("escape_symlink", C.OUTSIDE_ROOT, "dense", escape_symlink, True),
    Defect("image_corrupt", C.IMAGE_UNREADABLE, "dense", _fmt("garbage"), True),
    Defect("not_an_image", C.IMAGE_UNREADABLE, "dense", _fmt("text"), True),
    Defect("image_truncated", C.IMAGE_TRUNCATED, "dense", _fmt("truncated"), True),
    Defect("unsupported_format", C.UNSUPPORTED_FORMAT, "dense", _fmt("gif"), True),
    Defect("size_mismatch", C.SIZE_MISMATCH, "dense", size_mismatch, True),
    Defect("exif_mismatch", C.EXIF_MISMATCH, "dense", exif_mismatch, True),
    Defect("decompression_bomb", C.DECOMPRESSION_BOMB, "dense", decompression_bomb, True),
    Defect("image_sizes_differ", C.IMAGE_SIZES_DIFFER, "multi", image_sizes_differ, True),
    Defect("placeholder_count", C.PLACEHOLDER_COUNT, "chat_image", placeholder_count),
    Defect("summary_json", C.SUMMARY_JSON, "dense", summary_json),
    Defect("bad_messages", C.BAD_MESSAGES, "chat_image", bad_messages),
    Defect("duplicate_id", C.DUPLICATE_ID, "dense", duplicate_id),
    Defect("near_bounds", C.NEAR_BOUNDS, "dense", near_bounds),
    Defect("looks_normalised", C.LOOKS_NORMALISED, "dense", looks_normalised),
)

DEFECTS_BY_KIND = {d.kind: d for d in DEFECTS}
