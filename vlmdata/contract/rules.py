"""The contract's semantic rules as pure functions returning every issue they find.

The pydantic models (`models.py`) call these from their validators, so the rules are written once; the fast
bulk path (`vlmdata.validate.fast`) re-implements the same rules vectorised over a whole batch and hands any
record it is not sure about back to the models. An `Issue` is one finding: a code, a field path relative to
the record (`objects[3].bbox_2d`), a message and the value seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from vlmdata.contract import codes
from vlmdata.contract.kinds import GEOMETRY_KINDS, POINT_COUNT_KEYS

IRRELEVANT_SUMMARY = "无关图片"
BOUNDS_TOLERANCE = 0.5  # px: a point outside by at most this is a warning, beyond it an error
ZERO_AREA = 1e-9  # px²: a polygon whose |area| is at most this has zero area
IMAGE_TAG = "<image>"


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


def summary_issue(summary: str) -> Issue | None:
    if summary == IRRELEVANT_SUMMARY:
        return None
    if "\n" in summary or "\r" in summary:
        return Issue(codes.SUMMARY_JSON.code, "summary must be one line", "summary", summary)
    if summary.lstrip().startswith(("{", "[")):
        try:
            parsed = msgspec.json.decode(summary)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            return Issue(codes.SUMMARY_JSON.code, f"summary JSON does not parse: {exc}", "summary", summary)
        if not isinstance(parsed, dict):
            return Issue(codes.SUMMARY_JSON.code, "summary JSON must be an object", "summary", summary)
    return None


def is_remote(path: str) -> bool:
    head = path[:16].lower()
    return "://" in head or head.startswith(("http:", "https:", "s3:", "gs:", "ftp:", "data:"))


def count_placeholders(messages: Sequence[dict[str, Any]]) -> int:
    count = 0
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, str):
            count += content.count(IMAGE_TAG)
        elif isinstance(content, list):
            for item in content:
                if item.get("type") == "image":
                    count += 1
                elif item.get("type") == "text":
                    count += str(item.get("text", "")).count(IMAGE_TAG)
    return count
