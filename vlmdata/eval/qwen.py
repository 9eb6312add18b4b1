"""Reading the Qwen-native dense format back: a JSON list of `{"bbox_2d"|"polygon"|"line": ..., "label": ...}`.

The format is written by `vlmdata.render.qwen` (and answered by Qwen3-VL out of the box). Parsing follows the
object map's rules (`vlmdata.eval.parse`): tolerant but honest. Tolerated, and recorded in `issues`: a missing
code fence or one without the `json` tag, other whitespace and indentation, flat coordinate lists, float
coordinates. Refused (the parse fails): anything that is not one JSON list, an item without exactly one
geometry or without a label, unknown keys, duplicate keys, coordinates off the 0–1000 grid, inverted boxes.
`strict_ok` means the exact trained text: the layout the renderer writes, byte for byte (fence as the
template says, one item per line, a tab before each, the renderer's separators), integer point pairs.
"""

from __future__ import annotations

from typing import Any

from vlmdata.eval.jsontext import FAILED, load_json
from vlmdata.eval.parse import DenseParse, PredObject, coerce_points

ITEM_KINDS = {"bbox_2d": "bbox_2d", "polygon": "poly", "line": "line"}  # item key → object kind


def split_fence(body: str, issues: list[str]) -> tuple[str, bool | None]:
    """(the JSON text, whether it was fenced); None for the fence flag when the fence is malformed."""
    lines = body.split("\n")
    first = lines[0].strip()
    if not first.startswith("```"):
        return body, False
    if first != "```json":
        issues.append(f"code fence {first!r} instead of ```json (tolerated)")
    if len(lines) < 2 or lines[-1].strip() != "```":
        issues.append("code fence is not closed")
        return "\n".join(lines[1:]), None
    return "\n".join(lines[1:-1]), True


def parse_qwen(text: str, header: str | None = None, fence: bool = True) -> DenseParse:
    """Parse a Qwen-list output. `header`: the exact first line the template writes (None: no header line).

    `fence`: whether the template writes the code fence (a mismatch is tolerated but not strict).
    """
    from vlmdata.render.qwen import FENCE_CLOSE, FENCE_OPEN, qwen_list_text

    result = DenseParse()
    stripped = text.strip().replace("\r\n", "\n")
    if not stripped:
        result.issues.append("empty output")
        return result
    body = stripped
    header_ok = True
    if header is not None:
        first, _, body = stripped.partition("\n")
        result.header_text = first.strip()
        if result.header_text != header:
            header_ok = False
            result.issues.append(f"line 1 is not the header {header!r}: {first[:60]!r}")
    json_text, fenced = split_fence(body.strip(), result.issues)
    if fenced is None:
        return result
    if fenced != fence:
        result.issues.append("code fence " + ("missing" if fence else "not expected") + " (tolerated)")
    payload = load_json(json_text, result)
    if payload is FAILED:
        return result
    if not isinstance(payload, list):
        result.issues.append("the answer is not a JSON list")
        return result
    result.format_ok = header_ok
    texts = _items(payload, result)
    if texts is None:
        result.objects = []  # as the object map: a failed parse yields no objects, not a prefix of them
        return result
    result.ok = True
    expected = qwen_list_text(texts)
    expected = FENCE_OPEN + expected + FENCE_CLOSE if fence else expected
    if header is not None:
        expected = header + "\n" + expected
    result.strict_ok = result.format_ok and stripped == expected and not result.issues
    return result


def _items(payload: list[Any], result: DenseParse) -> list[str] | None:
    """Objects of the list into `result.objects`; the canonical text of each item (for the strict check)."""
    import json

    texts = []
    for i, item in enumerate(payload):
        where = f"item {i + 1}"
        if not isinstance(item, dict):
            result.issues.append(f"{where}: not an object")
            return None
        kinds = [k for k in ITEM_KINDS if k in item]
        if len(kinds) != 1:
            result.issues.append(f"{where}: needs exactly one geometry, has {kinds or 'none'}")
            return None
        key = kinds[0]
        label = item.get("label")
        if not isinstance(label, str) or not label.strip():
            result.issues.append(f"{where}: missing label")
            return None
        extra = set(item) - {key, "label", "image"}
        if extra:
            result.issues.append(f"{where}: unexpected keys {sorted(extra)}")
            return None
        image = item.get("image", 1)
        if isinstance(image, bool) or not isinstance(image, int) or image < 1:
            result.issues.append(f"{where}: image must be a picture number from 1")
            return None
        kind = ITEM_KINDS[key]
        points = coerce_points(kind, item[key], result.issues, where)
        if points is None:
            return None
        result.objects.append(PredObject(label.strip(), kind, points, image - 1))
        canon: dict[str, Any] = {key: item[key], "label": label}
        if "image" in item:
            canon["image"] = image
        texts.append(json.dumps(canon, ensure_ascii=False, separators=(", ", ": ")))
    return texts
