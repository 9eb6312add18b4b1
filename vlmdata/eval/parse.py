"""Tolerant-but-honest parsing of dense outputs.

Tolerant: leading/trailing whitespace, flat coordinate lists instead of point pairs, and float coordinates are
accepted and normalised. Honest: everything tolerated is recorded in `issues`, a strict parse (`strict_ok`)
requires the exact trained format, and nothing is guessed — an object without exactly one geometry, a
duplicate key or an unparsable line makes the parse fail rather than silently dropping content.

Dense format (targets-audit.md): optional header `<DOMAIN=X>, <TASK=DETECTION>` on line 1, then one line of
JSON `{"object_1": {"desc": ..., "bbox_2d"|"poly"|"line": ...}, ...}` on the 0–1000 grid. The Qwen-native
list (`fmt="qwen"`) is read by `vlmdata.eval.qwen.parse_qwen`; `parse_dense` dispatches on the format, so
`vlmdata eval` and the GRPO rewards read every dense template with one function. Summaries are read by
`vlmdata.eval.summary` (its names are importable from here too), the shared strict-JSON and header plumbing
is `vlmdata.eval.jsontext`.

A template's exact header line (`header=`, user templates and the built-ins alike) is checked by equality; a
record with several images gives each object an `"image": k` (PredObject.image is k - 1) and matching never
pairs objects of different pictures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.eval.jsontext import (
    FAILED,
    HEADER_RE,
    DuplicateKeyError,
    load_json,
    loads_strict,
    parse_header,
    split_lines,
)
from vlmdata.eval.summary import (
    IRRELEVANT,
    SummaryParse,
    canonical_summary,
    parse_summary,
    parse_summary_answer,
    summary_fact_counts,
    summary_facts,
    summary_object_count,
)

__all__ = [
    "FAILED",
    "HEADER_RE",
    "IRRELEVANT",
    "DenseParse",
    "DuplicateKeyError",
    "PredObject",
    "SummaryParse",
    "canonical_summary",
    "coerce_points",
    "dense_reference",
    "desc_attributes",
    "desc_category",
    "load_json",
    "loads_strict",
    "parse_dense",
    "parse_dense_answer",
    "parse_summary",
    "parse_summary_answer",
    "summary_fact_counts",
    "summary_facts",
    "summary_object_count",
]

OBJECT_KEY_RE = re.compile(r"^object_([1-9][0-9]*)$")


@dataclass
class PredObject:
    desc: str
    kind: str
    points: list[float]  # flat x, y on the 0–1000 grid
    image: int = 0  # the picture the object lies on (0-based)

    @property
    def category(self) -> str:
        return desc_category(self.desc)


@dataclass
class DenseParse:
    header: tuple[str, str] | None = None
    objects: list[PredObject] = field(default_factory=list)
    ok: bool = False  # the JSON part parsed into objects (tolerantly)
    strict_ok: bool = False  # exactly the trained format, nothing tolerated
    format_ok: bool = False  # right number of lines, header shape, line 2 a JSON object
    duplicate_keys: bool = False
    issues: list[str] = field(default_factory=list)
    header_text: str | None = None  # line 1 as written, when the template has a header


def desc_category(desc: str) -> str:
    """`类别=X,...` → X; a plain desc (generic detection data) is its own category."""
    tokens = [t.strip() for t in desc.split(",")]
    for token in tokens:
        if token.startswith("类别="):
            return token[len("类别=") :]
    return desc.strip()


def desc_attributes(desc: str) -> dict[str, frozenset[str]]:
    """`k=v1|v2` tokens other than 类别, as {key: {values}}; a plain desc has none."""
    out: dict[str, frozenset[str]] = {}
    for token in desc.split(","):
        token = token.strip()
        if "=" not in token:
            continue
        key, _, value = token.partition("=")
        if key == "类别":
            continue
        out[key] = frozenset(v for v in value.split("|") if v)
    return out


def coerce_points(kind: str, value: Any, issues: list[str], key: str) -> list[float] | None:
    if not isinstance(value, list) or not value:
        issues.append(f"{key}.{kind}: not a non-empty list")
        return None
    flat: list[float] = []
    if all(isinstance(v, list) for v in value):
        for pair in value:
            if len(pair) != 2:
                issues.append(f"{key}.{kind}: point {pair!r} is not an [x, y] pair")
                return None
            flat.extend(pair)
        if kind == "bbox_2d":
            issues.append(f"{key}.bbox_2d: given as point pairs (tolerated)")
    else:
        flat = list(value)
        if kind != "bbox_2d":
            issues.append(f"{key}.{kind}: flat list instead of point pairs (tolerated)")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        issues.append(f"{key}.{kind}: non-numeric coordinate")
        return None
    if any(isinstance(v, float) and not float(v).is_integer() for v in flat):
        issues.append(f"{key}.{kind}: non-integer coordinates (tolerated)")
    if len(flat) % 2:
        issues.append(f"{key}.{kind}: odd number of coordinates")
        return None
    n = len(flat) // 2
    if (kind == "bbox_2d" and len(flat) != 4) or (kind == "poly" and n < 3) or (kind == "line" and n < 2):
        issues.append(f"{key}.{kind}: wrong number of points ({n})")
        return None
    if any(v < 0 or v > 1000 for v in flat):
        issues.append(f"{key}.{kind}: coordinate outside 0–1000")
        return None
    # a box narrower than one grid unit rounds to x1 == x2 (the renderer writes it so): kept; inverted is not
    if kind == "bbox_2d" and not (flat[0] <= flat[2] and flat[1] <= flat[3]):
        issues.append(f"{key}.bbox_2d: inverted box (x1 > x2 or y1 > y2)")
        return None
    return [float(v) for v in flat]


def _parse_objects(payload: Any, result: DenseParse) -> None:
    if not isinstance(payload, dict):
        result.issues.append("JSON is not an object")
        return
    strict = True
    objects: list[tuple[int, PredObject]] = []
    for key, body in payload.items():
        m = OBJECT_KEY_RE.match(key)
        if not m:
            result.issues.append(f"unexpected key {key!r}")
            return
        if not isinstance(body, dict):
            result.issues.append(f"{key}: not an object")
            return
        desc = body.get("desc")
        if not isinstance(desc, str) or not desc.strip():
            result.issues.append(f"{key}: missing desc")
            return
        kinds = [k for k in GEOMETRY_KINDS if k in body]
        if len(kinds) != 1:
            result.issues.append(f"{key}: needs exactly one geometry, has {kinds or 'none'}")
            return
        kind = kinds[0]
        allowed = {"desc", "image", kind} | ({"line_points"} if kind == "line" else set())
        extra = set(body) - allowed
        if extra:
            result.issues.append(f"{key}: unexpected keys {sorted(extra)}")
            return
        image = body.get("image", 1)
        if isinstance(image, bool) or not isinstance(image, int) or image < 1:
            result.issues.append(f"{key}: image must be a picture number from 1")
            return
        n_issues = len(result.issues)
        points = coerce_points(kind, body[kind], result.issues, key)
        if points is None:
            return
        if len(result.issues) > n_issues:
            strict = False
        if kind == "line":
            lp = body.get("line_points")
            if lp is None:
                strict = False
                result.issues.append(f"{key}: line_points missing (tolerated)")
            elif lp != len(points) // 2:
                result.issues.append(f"{key}: line_points {lp} != {len(points) // 2} points")
                return
        objects.append((int(m.group(1)), PredObject(desc.strip(), kind, points, image - 1)))
    numbers = [n for n, _ in objects]
    if numbers != list(range(1, len(numbers) + 1)):
        strict = False
        result.issues.append("object keys are not object_1..object_N in order (tolerated)")
    result.objects = [o for _, o in objects]
    result.ok = True
    result.strict_ok = strict


def parse_dense(
    text: str,
    expect_header: bool | None = None,
    *,
    fmt: str = "object_map",
    header: str | None = None,
    fence: bool = True,
) -> DenseParse:
    """Parse a dense output of format `fmt` (`object_map` or `qwen`).

    `header`: the exact header line the template writes for this record (then line 1 must equal it).
    Without it, `expect_header` says whether a `<DOMAIN=X>, <TASK=DETECTION>` line is expected: True for
    target_dense*, False for header-less templates, None = either. `fence`: the qwen format's code fence.
    """
    if fmt == "qwen":
        from vlmdata.eval.qwen import parse_qwen

        return parse_qwen(text, header, fence)
    if header is not None:
        expect_header = True
    result = DenseParse()
    lines = split_lines(text)
    if text.strip() == "":
        result.issues.append("empty output")
        return result
    json_line: str
    if len(lines) == 2:
        result.header = parse_header(lines[0])
        result.header_text = lines[0].strip()
        if header is not None and result.header_text != header:
            result.issues.append(f"line 1 is not the header {header!r}: {lines[0][:60]!r}")
        elif header is None and result.header is None:
            result.issues.append(f"line 1 is not a header: {lines[0][:60]!r}")
        json_line = lines[1]
    elif len(lines) == 1:
        json_line = lines[0]
    else:
        result.issues.append(f"expected 1 or 2 lines, got {len(lines)}")
        return result
    header_shape_ok = (
        len(lines) == 2 and result.header is not None and result.header[1] == "DETECTION"
    ) or len(lines) == 1
    if header is not None:
        header_shape_ok = len(lines) == 2 and result.header_text == header
    elif expect_header is True:
        header_shape_ok = header_shape_ok and result.header is not None
    elif expect_header is False:
        header_shape_ok = header_shape_ok and len(lines) == 1
    payload = load_json(json_line, result)
    if payload is FAILED:
        return result
    result.format_ok = header_shape_ok and isinstance(payload, dict)
    _parse_objects(payload, result)
    result.strict_ok = result.strict_ok and result.format_ok and json_line == json_line.strip()
    return result


# -- the entry points of `vlmdata eval` and the dense rewards -----------------------------------------------
def parse_dense_answer(text: str, template: Any, record: Any) -> DenseParse:
    """`text` parsed as a dense answer of `template` for `record` (its format, its exact header line)."""
    from vlmdata.render.templates import target_header

    return parse_dense(
        text,
        template.header,
        fmt=template.format,
        header=target_header(template, record),
        fence=template.fence,
    )


def dense_reference(record: Any, template_name: str) -> list[PredObject]:
    """The record's objects as its rendered target says, read back by the parser (the reference of eval and
    the dense rewards). A target our own parser cannot read is a bug, never an empty reference: VD422."""
    from vlmdata.errors import Location, VlmdataError
    from vlmdata.render import render_target
    from vlmdata.render.codes import BAD_TARGET
    from vlmdata.render.templates import get_template

    text = render_target(record, template_name)
    parsed = parse_dense_answer(text, get_template(template_name), record)
    if not parsed.ok:
        raise VlmdataError(
            BAD_TARGET,
            f"the rendered {template_name!r} target does not parse back: " + "; ".join(parsed.issues),
            where=Location(record_id=str(record.get("id"))),
            value=text[:200],
        )
    return parsed.objects
