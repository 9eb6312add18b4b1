"""Summary rewards (the format-stabilisation recipe): format / strict header, a gated parse penalty, dataset and
object-count alignment, count-weighted partial JSON match, and an optional strict exact match.

The record's template decides the shape: the BBU/RRU templates answer a `<DOMAIN=X>, <TASK=SUMMARY>` line then
the JSON line; a user template its own header line (or none); `counting` the JSON line alone. Every reward
reads the completion without trailing whitespace or chat end tokens (`registry.clean_completion`). An
irrelevant record (reference `无关图片`) needs no domain, whatever its template; its right answer is exactly
`无关图片`, with no header. Definitions and ranges: docs/rewards.md (generated from the docstrings below).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from vlmdata_plugins.rewards.registry import RecordContext, record_context, register

from vlmdata.eval.metrics import summary_content_f1
from vlmdata.eval.summary import (
    IRRELEVANT,
    SummaryParse,
    canonical_summary,
    parse_summary_answer,
    summary_object_count,
)

HEADER_SHAPE = re.compile(r"^<DOMAIN=[A-Z]+>, <TASK=[A-Z]+>$")


def _reference(record: Mapping[str, Any]) -> dict[str, Any] | None:
    summary = record.get("summary")
    if not isinstance(summary, str) or summary.strip() == IRRELEVANT:
        return None
    try:
        data = json.loads(summary)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _lines(completion: str) -> list[str]:
    return completion.strip().split("\n")


def _is_irrelevant_answer(completion: str) -> bool:
    return completion.strip() == IRRELEVANT


def _json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _header_shape(ctx: RecordContext) -> re.Pattern[str] | None:
    """What line 1 must look like: the BBU/RRU header shape, a user template's header with any domain in it,
    or None for templates without a header."""
    spec = ctx.spec
    if not ctx.header:
        return None
    if not spec.user_defined:
        return HEADER_SHAPE
    parts = re.split(r"\{domain\}", spec.header_text or "")
    return re.compile(
        "^" + r"\S+".join(re.escape(p.replace("{{", "{").replace("}}", "}")) for p in parts) + "$"
    )


def _header(ctx: RecordContext) -> str | None:
    """The template's exact header line for the record, None for templates without one."""
    return ctx.spec.header_line(ctx.domain) if ctx.header else None


def _parse(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> SummaryParse:
    return parse_summary_answer(completion, ctx.spec, record)


def _relevant(completion: str, record: Mapping[str, Any]) -> tuple[RecordContext, dict[str, Any] | None]:
    """(context, the parsed prediction or None when it does not parse or says 无关图片)."""
    ctx = record_context(record)
    parsed = _parse(completion, record, ctx) if not ctx.irrelevant else None
    data = parsed.data if parsed is not None and parsed.ok and not parsed.irrelevant else None
    return ctx, data


@register("summary_format")
def summary_format(completion: str, record: Mapping[str, Any]) -> float:
    """1 iff the output is exactly 无关图片 on an irrelevant record, or exactly two lines where line 1 has the
    header shape `<DOMAIN=[A-Z]+>, <TASK=[A-Z]+>` (a user template: its header line, any domain) and line 2 is
    a JSON object (templates without a header: one line, a JSON object); else 0 (无关图片 on a relevant record
    is 0)."""
    ctx = record_context(record)
    if _is_irrelevant_answer(completion):
        return 1.0 if ctx.irrelevant else 0.0
    lines = _lines(completion)
    shape = _header_shape(ctx)
    if len(lines) != (2 if shape is not None else 1):
        return 0.0
    if shape is not None and not shape.match(lines[0]):
        return 0.0
    return 1.0 if _json_object(lines[-1]) else 0.0


@register("summary_header")
def summary_header(completion: str, record: Mapping[str, Any]) -> float:
    """1 iff line 1 is exactly the template's header for the record's domain, e.g. `<DOMAIN=X>, <TASK=SUMMARY>`
    (templates without a header: when the answer is the one JSON line, no header before it); on an irrelevant
    record 1 for exactly 无关图片 (its expected single line) and −1 for a header-shaped line 1 (a header there
    is wrong, not neutral); else 0."""
    ctx = record_context(record)
    first = _lines(completion)[0]
    if ctx.irrelevant:
        if _is_irrelevant_answer(completion):
            return 1.0
        shape = _header_shape(ctx) or HEADER_SHAPE
        return -1.0 if shape.match(first) else 0.0
    header = _header(ctx)
    if header is None:
        return 1.0 if len(_lines(completion)) == 1 and completion.strip().startswith("{") else 0.0
    return 1.0 if first == header else 0.0


@register("summary_parse")
def summary_parse(completion: str, record: Mapping[str, Any]) -> float:
    """A penalty, never positive: 0 when the JSON line (line 2; the only line for templates without a header)
    parses as an object without duplicate keys holding a `统计` list, header right or not, or when an
    irrelevant record is answered exactly 无关图片; −1 otherwise, including 无关图片 on a relevant record and
    a missing line."""
    ctx = record_context(record)
    if _is_irrelevant_answer(completion):
        return 0.0 if ctx.irrelevant else -1.0
    parsed = _parse(completion, record, ctx)
    return 0.0 if parsed.ok and not parsed.irrelevant else -1.0


@register("summary_dataset")
def summary_dataset(completion: str, record: Mapping[str, Any]) -> float:
    """1 when the header names the record's domain (its dataset), whatever else the line says (templates
    whose header names no domain, or that have none: as `summary_header`); irrelevant records: 1 for exactly
    无关图片 (no domain to name), else 0."""
    ctx = record_context(record)
    if ctx.irrelevant:
        return 1.0 if _is_irrelevant_answer(completion) else 0.0
    if not ctx.spec.header_needs_domain and ctx.spec.domain is None:
        return summary_header(completion, record)
    if not ctx.spec.user_defined:
        header = _parse(completion, record, ctx).header
        return 1.0 if header is not None and header[0] == ctx.domain else 0.0
    return summary_header(completion, record)


@register("summary_objects_total")
def summary_objects_total(completion: str, record: Mapping[str, Any]) -> float:
    """1 / (1 + |predicted objects − reference objects|), where a summary's object count sums, per `统计`
    category, the largest total over its attributes (1 for a category without counts), so dropping an
    attribute of the same objects does not change it; 0 when the prediction does not parse; irrelevant records:
    1 for exactly 无关图片, else 0."""
    ctx, data = _relevant(completion, record)
    if ctx.irrelevant:
        return 1.0 if _is_irrelevant_answer(completion) else 0.0
    if data is None:
        return 0.0
    return 1.0 / (1.0 + abs(summary_object_count(data) - summary_object_count(_reference(record))))


@register("summary_content_f1")
def summary_content_f1_reward(completion: str, record: Mapping[str, Any]) -> float:
    """Count-weighted F1 over every fact of the JSON — `统计` (category, attribute, value) counts, `备注` notes as a
    multiset, `分组统计` group sizes — order-insensitive, so leaving out `备注` or `分组统计` lowers it; domain
    gates: an RRU answer carrying `备注` or a BBU answer carrying `分组统计` scores 0; 0 when unparsable;
    irrelevant records: 1 for exactly 无关图片, else 0."""
    ctx, data = _relevant(completion, record)
    if ctx.irrelevant:
        return 1.0 if _is_irrelevant_answer(completion) else 0.0
    if data is None:
        return 0.0
    return summary_content_f1(data, _reference(record), ctx.domain)


@register("summary_content")
def summary_content(completion: str, record: Mapping[str, Any]) -> float:
    """Strict audit: 1 iff the canonical JSON (keys sorted, `统计` entries and `备注` notes compared
    order-insensitively) equals the reference's; else 0; irrelevant records: 1 for exactly 无关图片, else 0."""
    ctx, data = _relevant(completion, record)
    if ctx.irrelevant:
        return 1.0 if _is_irrelevant_answer(completion) else 0.0
    ref = _reference(record)
    if data is None or ref is None:
        return 0.0
    return 1.0 if canonical_summary(data) == canonical_summary(ref) else 0.0
