"""Reading summary outputs back, and the facts a summary states (shared by `vlmdata eval` and the rewards).

Format: `<DOMAIN=X>, <TASK=SUMMARY>` then one line of JSON with a `统计` list, or exactly `无关图片`; templates
without a header (`counting`, user templates) write the JSON line alone, a user template's header is that
exact line. Tolerant but honest as the dense parser (`vlmdata.eval.parse`): duplicate keys fail the parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vlmdata.eval.jsontext import FAILED, load_json, parse_header, split_lines

IRRELEVANT = "无关图片"


@dataclass
class SummaryParse:
    header: tuple[str, str] | None = None
    irrelevant: bool = False
    data: dict[str, Any] | None = None
    ok: bool = False
    format_ok: bool = False
    duplicate_keys: bool = False
    issues: list[str] = field(default_factory=list)


def parse_summary(text: str, header: bool | str = True) -> SummaryParse:
    """Parse a summary output. `header`: True for a `<DOMAIN=X>, <TASK=SUMMARY>` line 1 (the BBU/RRU
    templates), a string for that exact line 1, False for templates without a header (the JSON line alone)."""
    result = SummaryParse()
    stripped = text.strip()
    if stripped == IRRELEVANT:
        result.irrelevant = result.ok = result.format_ok = True
        return result
    lines = split_lines(text)
    want = 2 if header is not False else 1
    if len(lines) != want:
        result.issues.append(f"expected {want} line(s), got {len(lines)}")
        if len(lines) >= 1 and header is not False:
            result.header = parse_header(lines[0])
        return result
    if header is not False:
        result.header = parse_header(lines[0])
        if isinstance(header, str) and lines[0].strip() != header:
            result.issues.append(f"line 1 is not the header {header!r}: {lines[0][:60]!r}")
        elif header is True and (result.header is None or result.header[1] != "SUMMARY"):
            result.issues.append(f"line 1 is not a summary header: {lines[0][:60]!r}")
    payload = load_json(lines[-1], result)
    if payload is FAILED:
        return result
    if not isinstance(payload, dict):
        result.issues.append("line 2 is not a JSON object")
        return result
    result.format_ok = True
    stats = payload.get("统计")
    if not isinstance(stats, list) or not all(
        isinstance(e, dict) and isinstance(e.get("类别"), str) for e in stats
    ):
        result.issues.append("`统计` is not a list of entries with a `类别`")
        return result
    result.data = payload
    result.ok = True
    return result


def summary_facts(data: dict[str, Any] | None) -> dict[tuple[str, str, str], int]:
    """(category, attribute, value) → count, from a summary's `统计` list; non-count leaves are ignored."""
    facts: dict[tuple[str, str, str], int] = {}
    for entry in (data or {}).get("统计", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict):
            continue
        category = entry.get("类别")
        if not isinstance(category, str):
            continue
        for attr, values in entry.items():
            if attr == "类别" or not isinstance(values, dict):
                continue
            for value, count in values.items():
                if _is_count(count):
                    key = (category, str(attr), str(value))
                    facts[key] = facts.get(key, 0) + count
    return facts


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def summary_fact_counts(data: dict[str, Any] | None) -> dict[tuple[str, ...], int]:
    """Every fact of a summary with its weight, the multiset `summary_content_f1` compares:

    - `("统计", category, attribute, value)` → its count (positive integer counts only);
    - `("备注", note)` → how many times the note appears (notes are a multiset: order never matters);
    - `("分组统计", group id)` → the group's member count.
    """
    facts: dict[tuple[str, ...], int] = {("统计", *key): count for key, count in summary_facts(data).items()}
    if not isinstance(data, dict):
        return facts
    notes = data.get("备注")
    if isinstance(notes, list):
        for note in notes:
            if isinstance(note, str):
                key = ("备注", note)
                facts[key] = facts.get(key, 0) + 1
    groups = data.get("分组统计")
    if isinstance(groups, dict):
        for gid, count in groups.items():
            if _is_count(count):
                facts[("分组统计", str(gid))] = count
    return facts


def summary_object_count(data: dict[str, Any] | None) -> int:
    """The number of objects a summary states: per `统计` category, the largest total over its attributes
    (an object may show several values of one attribute, and some attributes only on some objects, so the
    largest total is the best lower bound; dropping an attribute of the same objects leaves it unchanged), and
    1 for a category listed without any count."""
    total = 0
    for entry in (data or {}).get("统计", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("类别"), str):
            continue
        sums = [
            sum(c for c in values.values() if _is_count(c))
            for attr, values in entry.items()
            if attr != "类别" and isinstance(values, dict)
        ]
        total += max([1, *sums])
    return total


def canonical_summary(data: dict[str, Any]) -> str:
    """Order-insensitive canonical form: keys sorted, `统计` entries and `备注` notes sorted."""
    copy = dict(data)
    for key in ("统计", "备注"):
        if isinstance(copy.get(key), list):
            copy[key] = sorted(copy[key], key=lambda e: json.dumps(e, ensure_ascii=False, sort_keys=True))
    return json.dumps(copy, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def parse_summary_answer(text: str, template: Any, record: Any) -> SummaryParse:
    """`text` parsed as a summary answer of `template` for `record`."""
    from vlmdata.errors import VlmdataError
    from vlmdata.render.templates import target_header

    if template.header and not template.user_defined:
        return parse_summary(text)  # built-in BBU/RRU: any `<DOMAIN=X>, <TASK=SUMMARY>` line
    try:
        header: bool | str = target_header(template, record) or False
    except VlmdataError:  # an irrelevant record without a domain: its answer has no header anyway
        header = template.header
    return parse_summary(text, header)
