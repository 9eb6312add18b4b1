"""The contract's semantic rules as pure functions returning every issue they find.

The pydantic models (`models.py`) call these from their validators, so the rules are written once; the fast
bulk path (`vlmdata.validate.fast`) re-implements the same rules vectorised over a whole batch and hands any
record it is not sure about back to the models. An `Issue` is one finding: a code, a field path relative to
the record (`objects[3].bbox_2d`), a message and the value seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vlmdata.contract import codes
from vlmdata.contract.imagesize import ResizeError, aspect_ratio_exceeded, checked_resize
from vlmdata.contract.kinds import GEOMETRY_KINDS, POINT_COUNT_KEYS

IRRELEVANT_SUMMARY = "无关图片"
BOUNDS_TOLERANCE = 0.5  # px: a point outside by at most this is a warning, beyond it an error
ZERO_AREA = 1e-9  # px²: a polygon whose |area| is at most this has zero area
IMAGE_TAG = "<image>"
PIXEL_OVERRIDE_KEYS = ("min_pixels", "max_pixels")  # per-record resize bounds, read from `metadata`


@dataclass
class Issue:
    code: str
    message: str
    field: str | None = None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": codes_severity(self.code),
            "message": self.message,
        }
        if self.field:
            out["field"] = self.field
        if self.value is not None:
            out["value"] = _short(self.value)
        return out


_SEVERITY: dict[str, str] = {}  # code -> severity, filled on first use (hot in validate's warning output)


def codes_severity(code: str) -> str:
    hit = _SEVERITY.get(code)
    if hit is None:
        from vlmdata.errors import CODES

        entry = CODES.get(code)
        if entry is None:
            return "error"
        hit = _SEVERITY[code] = entry.severity
    return hit


def _short(value: Any, limit: int = 200) -> Any:
    if isinstance(value, (int, float, bool)) or value is None:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    if (
        isinstance(value, list)
        and len(value) <= 32
        and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value)
    ):
        if all(not isinstance(v, float) or math.isfinite(v) for v in value) and len(repr(value)) <= limit:
            return list(value)
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def desc_ok(desc: str) -> bool:
    return bool(desc) and not any(c in desc for c in "\n\r\t")


def polygon_area2(points: Sequence[float]) -> float:
    """Twice the signed shoelace area of a flat closed polygon, summed in point order (the fast path matches)."""
    n = len(points) // 2
    total = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        total += points[2 * i] * points[2 * j + 1] - points[2 * j] * points[2 * i + 1]
    return total


def object_issues(obj: dict[str, Any], prefix: str = "") -> list[Issue]:
    """Geometry rules of one object whose fields already have the right types."""
    out: list[Issue] = []
    present = [k for k in GEOMETRY_KINDS if obj.get(k) is not None]
    if len(present) != 1:
        out.append(
            Issue(
                codes.GEOMETRY_KEYS.code,
                f"object has {len(present)} geometry keys {present or ''}".rstrip(),
                prefix.rstrip(".") or None,
            )
        )
        return out
    kind = present[0]
    pts = obj[kind]
    field = f"{prefix}{kind}"
    if kind == "bbox_2d":
        if len(pts) != 4:
            out.append(Issue(codes.BOX_LENGTH.code, f"bbox_2d needs 4 numbers, got {len(pts)}", field, pts))
        elif not (pts[0] < pts[2] and pts[1] < pts[3]):
            out.append(Issue(codes.BOX_INVERTED.code, "box needs x1 < x2 and y1 < y2", field, pts))
    elif len(pts) % 2:
        out.append(
            Issue(codes.ODD_COORDS.code, f"{kind} has an odd number of values ({len(pts)})", field, pts)
        )
    elif kind == "poly":
        if len(pts) < 6:
            out.append(
                Issue(codes.POLY_TOO_FEW.code, f"polygon has {len(pts) // 2} points, needs ≥ 3", field, pts)
            )
        elif abs(polygon_area2(pts)) <= 2 * ZERO_AREA:
            out.append(Issue(codes.POLY_ZERO_AREA.code, "polygon has zero area", field, pts))
    else:
        if len(pts) < 4:
            out.append(
                Issue(codes.LINE_TOO_FEW.code, f"line has {len(pts) // 2} point(s), needs ≥ 2", field, pts)
            )
        elif all(pts[i] == pts[0] and pts[i + 1] == pts[1] for i in range(2, len(pts), 2)):
            out.append(Issue(codes.LINE_TOO_FEW.code, "all points of the line are equal", field, pts))
    for geom, count_key in POINT_COUNT_KEYS.items():
        declared = obj.get(count_key)
        if declared is None:
            continue
        actual = len(obj[geom]) / 2 if obj.get(geom) is not None else None
        if actual is None or declared != actual:
            what = f"{geom} has {actual:g} points" if actual is not None else f"object has no {geom}"
            out.append(
                Issue(
                    codes.POINTS_MISMATCH.code,
                    f"{count_key}={declared} but {what}",
                    f"{prefix}{count_key}",
                    declared,
                )
            )
    return out


def bounds_ok(points: Sequence[float], width: int, height: int) -> bool:
    """True when no point lies outside [0, W] × [0, H] by more than the tolerance (`bounds_issues` has no error)."""
    xs, ys = points[0::2], points[1::2]
    return (
        min(xs) >= -BOUNDS_TOLERANCE
        and min(ys) >= -BOUNDS_TOLERANCE
        and max(xs) - width <= BOUNDS_TOLERANCE
        and max(ys) - height <= BOUNDS_TOLERANCE
    )


def bounds_issues(
    points: Sequence[float], width: int, height: int, field: str
) -> tuple[list[Issue], list[Issue]]:
    """(errors, warnings) for points outside [0, W] × [0, H]."""
    worst = 0.0
    for i, v in enumerate(points):
        limit = width if i % 2 == 0 else height
        worst = max(worst, -v, v - limit)
    if worst > BOUNDS_TOLERANCE:
        return [
            Issue(
                codes.OUT_OF_BOUNDS.code,
                f"a point lies {worst:g} px outside the {width}×{height} image",
                field,
                list(points),
            )
        ], []
    if worst > 0:
        return [], [
            Issue(
                codes.NEAR_BOUNDS.code,
                f"a point lies {worst:g} px outside the {width}×{height} image",
                field,
                list(points),
            )
        ]
    return [], []


def frame_warning(all_points: Sequence[Sequence[float]], width: int, height: int) -> Issue | None:
    """The "looks normalised" warning: every coordinate in [0, 1], or beyond the image while within 0–1000."""
    flat = [v for pts in all_points for v in pts]
    if not flat:
        return None
    lo, hi = min(flat), max(flat)
    xs = [v for pts in all_points for v in pts[0::2]]
    ys = [v for pts in all_points for v in pts[1::2]]
    beyond = max(xs) > width + BOUNDS_TOLERANCE or max(ys) > height + BOUNDS_TOLERANCE
    if (lo >= 0 and hi <= 1 and max(width, height) > 1) or (beyond and lo >= 0 and hi <= 1000):
        return Issue(
            codes.LOOKS_NORMALISED.code,
            f"coordinates span [{lo:g}, {hi:g}] on a {width}×{height} image",
            "objects",
        )
    return None


def is_remote(path: str) -> bool:
    head = path[:16].lower()
    return "://" in head or head.startswith(("http:", "https:", "s3:", "gs:", "ftp:", "data:"))


def image_path_issue(path: str, field: str) -> Issue | None:
    if is_remote(path):
        return Issue(codes.REMOTE_URL.code, "remote image URL", field, path)
    if not path:
        return Issue(codes.OUT_OF_RANGE.code, "empty image path", field, path)
    if "\x00" in path:
        return Issue(codes.NUL_IN_PATH.code, "image path holds a NUL character", field, path)
    return None


def aspect_issue(width: int, height: int) -> Issue | None:
    if not aspect_ratio_exceeded(height, width):
        return None
    return Issue(
        codes.ASPECT_RATIO.code,
        f"a {width}×{height} image has aspect ratio {max(width, height) / min(width, height):.1f}; the Qwen-VL "
        "resize refuses more than 200",
        "width" if width > height else "height",
        f"{width}x{height}",
    )


def pixel_override_issues(
    metadata: Mapping[str, Any] | None, width: int | None, height: int | None
) -> list[Issue]:
    """`metadata.min_pixels` / `metadata.max_pixels`: positive integers, min ≤ max, and a max_pixels under which
    the record's images keep at least one token per side (the floor path of the resize depends on max only)."""
    if not metadata:
        return []
    out: list[Issue] = []
    given: dict[str, int] = {}
    for key in PIXEL_OVERRIDE_KEYS:
        value = metadata.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            out.append(
                Issue(
                    codes.BAD_PIXEL_OVERRIDE.code,
                    f"metadata.{key} must be a positive integer, got {value!r}",
                    f"metadata.{key}",
                    value,
                )
            )
        else:
            given[key] = value
    lo, hi = given.get("min_pixels"), given.get("max_pixels")
    if lo is not None and hi is not None and hi < lo:
        out.append(
            Issue(
                codes.BAD_PIXEL_OVERRIDE.code,
                f"max_pixels {hi} < min_pixels {lo}",
                "metadata.max_pixels",
                hi,
            )
        )
    elif hi is not None and width and height and not aspect_ratio_exceeded(height, width):
        try:
            checked_resize(height, width, 1, hi)
        except ResizeError as exc:
            out.append(Issue(codes.ZERO_SIZE_IMAGE.code, str(exc), "metadata.max_pixels", hi))
    return out
