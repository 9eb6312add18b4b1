"""Summary rewards (the format-stabilisation recipe). Definitions: docs/rewards.md."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from vlmdata_plugins.rewards.registry import RecordContext, RewardFn, record_context, register

from vlmdata.eval.metrics import summary_content_f1
from vlmdata.eval.parse import (
    IRRELEVANT,
    SummaryParse,
    canonical_summary,
    parse_summary_answer,
    summary_total,
)


def _reference(record: Mapping[str, Any]) -> dict[str, Any] | None:
    summary = record.get("summary")
    if not isinstance(summary, str) or summary.strip() == IRRELEVANT:
        return None
    try:
        data = json.loads(summary)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def summary_reward(
    name: str,
) -> Callable[[Callable[[str, Mapping[str, Any], RecordContext], float]], RewardFn]:
    """Register a summary reward; on an irrelevant record every summary reward is 1 for exactly 无关图片, else 0."""

    def wrap(fn: Callable[[str, Mapping[str, Any], RecordContext], float]) -> RewardFn:
        @functools.wraps(fn)
        def reward(completion: str, record: Mapping[str, Any]) -> float:
            ctx = record_context(record)
            if ctx.irrelevant:
                return 1.0 if completion.strip() == IRRELEVANT else 0.0
            return fn(completion, record, ctx)

        return register(name)(reward)

    return wrap


def _lines(completion: str) -> list[str]:
    return completion.strip().split("\n")


def _header(ctx: RecordContext) -> str | None:
    """The template's exact header line for the record, None for templates without one."""
    return ctx.spec.header_line(ctx.domain) if ctx.header else None


def _parse(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> SummaryParse:
    return parse_summary_answer(completion, ctx.spec, record)


@summary_reward("summary_format")
def summary_format(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """1 when the shape is right: exactly 无关图片 for an irrelevant record; else two lines, line 2 a JSON
    object (templates without a header: one line, a JSON object)."""
    lines = _lines(completion)
    if len(lines) != (2 if ctx.header else 1):
        return 0.0
    try:
        return 1.0 if isinstance(json.loads(lines[-1]), dict) else 0.0
    except ValueError:
        return 0.0


@summary_reward("summary_header")
def summary_header(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """1 when line 1 is exactly the template's header for the record's domain, e.g. `<DOMAIN=X>,
    <TASK=SUMMARY>` (templates without a header: when the answer is the one JSON line, no header before it;
    irrelevant: no header, exactly 无关图片)."""
    header = _header(ctx)
    if header is None:
        return 1.0 if len(_lines(completion)) == 1 and completion.strip().startswith("{") else 0.0
    return 1.0 if _lines(completion)[0] == header else 0.0


@summary_reward("summary_parse")
def summary_parse(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """1 when the JSON line is an object without duplicate keys holding a `统计` list; −1 when the header
    is right but the JSON line fails that; 0 otherwise. Irrelevant records: 1 for exactly 无关图片, else 0."""
    parsed = _parse(completion, record, ctx)
    if parsed.ok and not parsed.irrelevant:
        return 1.0
    return -1.0 if summary_header(completion, record) == 1.0 else 0.0


@summary_reward("summary_dataset")
def summary_dataset(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """1 when the header names the record's domain (its dataset), whatever else the line says (templates
    whose header names no domain, or that have none: as `summary_header`); irrelevant records: 1 for
    exactly 无关图片 (no domain to name)."""
    if not ctx.spec.header_needs_domain and ctx.spec.domain is None:
        return summary_header(completion, record)
    if not ctx.spec.user_defined:
        header = _parse(completion, record, ctx).header
        return 1.0 if header is not None and header[0] == ctx.domain else 0.0
    return summary_header(completion, record)


@summary_reward("summary_objects_total")
def summary_objects_total(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """1 / (1 + |predicted total − reference total|), totals = the sum of every count in `统计`; 0 when the
    prediction does not parse; irrelevant records: 1 for exactly 无关图片, else 0."""
    parsed = _parse(completion, record, ctx)
    if not parsed.ok or parsed.irrelevant:
        return 0.0
    return 1.0 / (1.0 + abs(summary_total(parsed.data) - summary_total(_reference(record))))


@summary_reward("summary_content_f1")
def summary_content_f1_reward(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """Count-weighted F1 over (category, attribute, value) facts, order-insensitive; 0 when unparsable;
    irrelevant records: 1 for exactly 无关图片, else 0."""
    parsed = _parse(completion, record, ctx)
    if not parsed.ok or parsed.irrelevant:
        return 0.0
    return summary_content_f1(parsed.data, _reference(record))


@summary_reward("summary_content")
def summary_content(completion: str, record: Mapping[str, Any], ctx: RecordContext) -> float:
    """Strict audit: 1 iff the canonicalised JSON (keys sorted, `统计` entries in a fixed order) equals the
    reference's; irrelevant records: 1 for exactly 无关图片."""
    parsed = _parse(completion, record, ctx)
    ref = _reference(record)
    if not parsed.ok or parsed.irrelevant or ref is None:
        return 0.0
    return 1.0 if canonical_summary(parsed.data or {}) == canonical_summary(ref) else 0.0
