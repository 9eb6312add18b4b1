"""Turn one JSONL line into the model's verdict plus every issue with its contract code.

`explain_line(raw)` is the reference path (and the fallback of the fast bulk path): it checks UTF-8, finds keys
repeated in one object (VD109: JSON's last-wins would hide them from the models), runs
`Record.model_validate_json` and maps pydantic's error types onto the contract's codes. Field paths are
rendered as `objects[3].bbox_2d`.

`explain_bounded(raw, limit)` gives the same verdict but details at most `limit` issues; the rest are counted
per code. A record with tens of thousands of bad objects then costs memory in proportion to its line (the
explanations past the limit are never built), and its reject entry stays readable.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from pydantic import Field, ValidationError, create_model

from vlmdata.contract import codes
from vlmdata.contract.jsonkeys import repeated_key_issues
from vlmdata.contract.models import DETAIL_BUDGET, DetailBudget, Object, Record
from vlmdata.contract.rules import Issue

_NUMBER_TYPES = {"float_type", "int_type", "float_parsing", "int_parsing", "int_from_float"}
_RANGE_TYPES = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (
            isinstance(part, str)
            and ("[" in part or "-" in part or part in ("str", "text", "image"))
            and out.endswith("content")
        ):
            continue  # union-branch labels such as `list[tagged-union[...]]`
        else:
            out += f".{part}" if out else str(part)
    return out


def _code_for(err: dict[str, Any]) -> str:
    kind = err["type"]
    loc = err.get("loc", ())
    last = next((p for p in reversed(loc) if isinstance(p, str)), None)
    if kind == "json_invalid":
        return codes.INVALID_JSON.code
    if kind == "model_type" and not loc:
        return codes.NOT_OBJECT.code
    if loc and loc[0] == "messages":
        return codes.BAD_MESSAGES.code
    if kind == "missing":
        return codes.MISSING_FIELD.code
    if kind == "extra_forbidden":
        return codes.UNKNOWN_KEY.code
    value = err.get("input")
    if kind == "finite_number" or (isinstance(value, float) and not math.isfinite(value)):
        return codes.NOT_FINITE.code
    if kind in _NUMBER_TYPES and isinstance(value, bool):
        return codes.BOOL_AS_NUMBER.code
    if last == "desc" and kind == "string_too_short":
        return codes.BAD_DESC.code
    if last == "bbox_2d" and kind in ("too_short", "too_long"):
        return codes.BOX_LENGTH.code
    if kind in _RANGE_TYPES:
        return codes.OUT_OF_RANGE.code
    return codes.WRONG_TYPE.code


class _Lazy:
    """The line decoded once, only when an error's value has to be looked up by its location."""

    def __init__(self, raw: bytes | None) -> None:
        self.raw, self.doc, self.done = raw, None, False

    def value_at(self, loc: tuple[Any, ...]) -> Any:
        if not self.done:
            self.done = True
            try:
                self.doc = msgspec.json.decode(self.raw) if self.raw is not None else None
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                self.doc = None
        node: Any = self.doc
        for part in loc:
            if isinstance(part, int) and isinstance(node, list) and -len(node) <= part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(part, str) and not isinstance(node, dict):
                continue  # a union-branch label such as `list[tagged-union[...]]`
            else:
                return None
        return node


def issues_from_validation_error(
    exc: ValidationError, limit: int | None = None, raw: bytes | None = None
) -> tuple[list[Issue], Counter[str]]:
    """(the first `limit` issues, counts per code of the rest); every issue when `limit` is None.

    Over the limit, pydantic's errors are read without their inputs (which would copy the record once per
    error); the value of a listed non-contract error is then looked up in `raw` by its location."""
    out: list[Issue] = []
    more: Counter[str] = Counter()
    seen_messages = False
    with_input = limit is None or exc.error_count() <= limit
    lazy = _Lazy(raw)

    def emit(issue: Issue) -> None:
        if limit is None or len(out) < limit:
            out.append(issue)
        else:
            more[issue.code] += 1

    for err in exc.errors(include_url=False, include_input=with_input):
        loc = tuple(err.get("loc", ()))
        if err["type"] == "contract_more":  # the counts are in the DetailBudget
            continue
        base = field_path(loc)
        if err["type"] == "contract":
            prefix = f"{base}." if base else ""
            for item in err["ctx"]["issues"]:
                sub = item.get("field")
                emit(
                    Issue(
                        item["code"],
                        item["message"],
                        f"{prefix}{sub}" if sub else (base or None),
                        item.get("value"),
                    )
                )
            continue
        if not with_input and (limit is None or len(out) < limit):
            err = {**err, "input": lazy.value_at(loc)}
        code = _code_for(dict(err))
        if code == codes.BAD_MESSAGES.code:
            if seen_messages:  # a union failure lists every branch; one issue per record is enough
                continue
            seen_messages = True
        value = err.get("input") if code not in (codes.INVALID_JSON.code, codes.MISSING_FIELD.code) else None
        if code == codes.NOT_OBJECT.code:
            value = type(value).__name__
        emit(
            Issue(
                code,
                err["msg"],
                base or None,
                None if isinstance(value, dict) and code != codes.WRONG_TYPE.code else value,
            )
        )
    return out, more


@dataclass
class Explanation:
    record: Record | None
    issues: list[Issue]
    more: Counter[str] = field(default_factory=Counter)  # issues past the listed ones, per code
    note: str | None = None  # set when the explanation is known to be partial


BIG_LINE = 256 * 1024  # bytes; above this a line is first validated with `objects` failing fast
_FAIL_FAST: list[type[Record]] = []


def _fail_fast_record() -> type[Record]:
    """`Record` whose `objects` list stops at its first failing object: the same verdict on every line (a test
    fuzzes both), without one pydantic error per object for a huge line of mistyped objects."""
    if not _FAIL_FAST:
        objects: Any = Annotated[list[Object], Field(fail_fast=True)] | None
        _FAIL_FAST.append(create_model("Record", __base__=Record, objects=(objects, None)))
    return _FAIL_FAST[0]


def _native_object_error(exc: ValidationError) -> str | None:
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = err.get("loc", ())
        if loc and loc[0] == "objects" and err["type"] not in ("contract", "contract_more"):
            return field_path(tuple(loc[:2]))
    return None


def explain_bounded(raw: bytes, limit: int | None) -> Explanation:
    """The verdict on one line with at most `limit` issues listed (all when None). Never raises.

    A line over BIG_LINE bytes is first validated with `objects` failing fast and every object rule only
    counted: a valid line is done; a line whose objects hold type errors is explained from that pass (the
    rest of its objects unexamined, said in `note`); otherwise the full pass lists the first `limit` issues.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issue = Issue(
            codes.INVALID_UTF8.code,
            f"invalid UTF-8 byte at offset {exc.start}",
            None,
            raw[exc.start : exc.start + 4].hex(),
        )
        return Explanation(None, [issue])
    repeated = repeated_key_issues(raw)
    if limit is not None and len(raw) > BIG_LINE:
        first = _explain_with(_fail_fast_record(), raw, limit, DetailBudget(0))
        if first.record is not None or first.note is not None:
            return with_repeats(first, repeated, limit)
    explained = _explain_with(Record, raw, limit, DetailBudget(limit) if limit is not None else None)
    return with_repeats(explained, repeated, limit)


def with_repeats(explained: Explanation, repeated: list[Issue], limit: int | None) -> Explanation:
    """A repeated key rejects the line whatever the models say; its issues come first, within `limit`."""
    if not repeated:
        return explained
    issues = repeated + explained.issues
    more = Counter(explained.more)
    if limit is not None and len(issues) > limit:
        more.update(i.code for i in issues[limit:])
        issues = issues[:limit]
    return Explanation(None, issues, more, explained.note)


def _explain_with(
    model: type[Record], raw: bytes, limit: int | None, budget: DetailBudget | None
) -> Explanation:
    token = DETAIL_BUDGET.set(budget)
    try:
        return Explanation(model.model_validate_json(raw), [])
    except ValidationError as exc:
        note = None
        if model is not Record:
            stopped = _native_object_error(exc)
            if stopped is None:
                return Explanation(None, [])  # no mistyped object: the full pass explains it, bounded
            note = (
                f"validation of `objects` stopped at {stopped}, the first object with a wrong type, in a line of "
                f"{len(raw)} bytes; fix it and validate again to see the issues of the objects after it"
            )
        issues, more = issues_from_validation_error(exc, limit, raw)
        if budget is not None:
            more.update(budget.deferred)
        return Explanation(None, issues, more, note)
    except (RecursionError, ValueError) as exc:  # pathologically deep nesting
        return Explanation(None, [Issue(codes.INVALID_JSON.code, f"JSON cannot be parsed: {exc}")])
    finally:
        DETAIL_BUDGET.reset(token)


def explain_line(raw: bytes) -> tuple[Record | None, list[Issue]]:
    """(the validated record or None, every issue). Never raises for any input bytes."""
    out = explain_bounded(raw, None)
    return out.record, out.issues
