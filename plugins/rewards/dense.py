"""Dense (grounding) rewards. Definitions: docs/rewards.md.

The reference is the record's own target rendered with its template and parsed back, so grid rounding,
canonical forms and order are those the model was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vlmdata_plugins.rewards.registry import record_context, register

from vlmdata.eval.metrics import DenseScores, attr_recall, cat_f1, loc_fbeta, score_dense
from vlmdata.eval.parse import DenseParse, PredObject, dense_reference, parse_dense_answer

_REF_CACHE: dict[str, list[PredObject]] = {}


def reference_objects(record: Mapping[str, Any]) -> list[PredObject]:
    ctx = record_context(record)
    key = json.dumps(
        [record.get(k) for k in ("id", "objects", "images", "width", "height")] + [ctx.template],
        ensure_ascii=False,
        default=str,
    )
    cached = _REF_CACHE.get(key)
    if cached is None:
        cached = dense_reference(record, ctx.template)
        if len(_REF_CACHE) > 4096:
            _REF_CACHE.clear()
        _REF_CACHE[key] = cached
    return cached


def _parse(text: str, record: Mapping[str, Any]) -> DenseParse:
    return parse_dense_answer(text, record_context(record).spec, record)


def _scores(completion: str, record: Mapping[str, Any]) -> DenseScores | None:
    parsed = _parse(completion, record)
    if not parsed.ok:
        return None
    return score_dense(parsed.objects, reference_objects(record))


@register("dense_format")
def dense_format(completion: str, record: Mapping[str, Any]) -> float:
    """1 when the layout is right: the template's exact header line for the record (e.g. `<DOMAIN=X>,
    <TASK=DETECTION>` with the record's domain) when it has one, then one JSON object line (object map) or one
    JSON list (Qwen list, in or out of its code fence); else 0."""
    return 1.0 if _parse(completion, record).format_ok else 0.0


@register("dense_parse")
def dense_parse(completion: str, record: Mapping[str, Any]) -> float:
    """1 when the output parses strictly (exact trained text: object map with object_1..N in order, or the
    Qwen list in the template's layout and fence; one geometry each, point pairs, integer grid coordinates,
    `line_points` present and right, no duplicate keys); else 0."""
    return 1.0 if _parse(completion, record).strict_ok else 0.0


@register("dense_loc_fbeta")
def dense_loc_fbeta(completion: str, record: Mapping[str, Any]) -> float:
    """Class-agnostic localisation F-beta (beta 2) averaged over IoU 0.50:0.05:0.95, in [0, 1]; 0 when
    unparsable; 1 when both prediction and reference are empty."""
    scores = _scores(completion, record)
    return 0.0 if scores is None else loc_fbeta(scores, beta=2.0)


@register("dense_cat_f1")
def dense_cat_f1(completion: str, record: Mapping[str, Any]) -> float:
    """F1 of category-aware one-to-one matches (same `类别`, IoU ≥ 0.5), in [0, 1]; 0 when unparsable."""
    scores = _scores(completion, record)
    return 0.0 if scores is None else cat_f1(scores)


@register("dense_attr_recall")
def dense_attr_recall(completion: str, record: Mapping[str, Any]) -> float:
    """Share of reference attribute values (`key=value` tokens other than 类别, `|` values separately)
    reproduced by the category-aware matches at IoU ≥ 0.5, in [0, 1]; 1 when the reference has none;
    0 when unparsable."""
    scores = _scores(completion, record)
    return 0.0 if scores is None else attr_recall(scores)
