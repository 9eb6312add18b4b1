"""Turn one JSONL line into the model's verdict plus every issue with its contract code.

`explain_line(raw)` is the reference path (and the fallback of the fast bulk path): it checks UTF-8, finds keys
repeated in one object (VD109: JSON's last-wins would hide them from the models), runs
`Record.model_validate_json` and maps pydantic's error types onto the contract's codes. Field paths are
rendered as `objects[3].bbox_2d`.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from vlmdata.contract import codes
from vlmdata.contract.jsonkeys import repeated_key_issues
from vlmdata.contract.models import Record
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


def issues_from_validation_error(exc: ValidationError) -> list[Issue]:
    out: list[Issue] = []
    seen_messages = False
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        base = field_path(loc)
        if err["type"] == "contract":
            prefix = f"{base}." if base else ""
            for item in err["ctx"]["issues"]:
                sub = item.get("field")
                out.append(
                    Issue(
                        item["code"],
                        item["message"],
                        f"{prefix}{sub}" if sub else (base or None),
                        item.get("value"),
                    )
                )
            continue
        code = _code_for(dict(err))
        if code == codes.BAD_MESSAGES.code:
            if seen_messages:  # a union failure lists every branch; one issue per record is enough
                continue
            seen_messages = True
        value = err.get("input") if code not in (codes.INVALID_JSON.code, codes.MISSING_FIELD.code) else None
        if code == codes.NOT_OBJECT.code:
            value = type(value).__name__
        out.append(
            Issue(
                code,
                err["msg"],
                base or None,
                None if isinstance(value, dict) and code != codes.WRONG_TYPE.code else value,
            )
        )
    return out


def explain_line(raw: bytes) -> tuple[Record | None, list[Issue]]:
    """(the validated record or None, the issues). Never raises for any input bytes."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Issue(
                codes.INVALID_UTF8.code,
                f"invalid UTF-8 byte at offset {exc.start}",
                None,
                raw[exc.start : exc.start + 4].hex(),
            )
        ]
    repeated = repeated_key_issues(raw)
    try:
        record = Record.model_validate_json(raw)
    except ValidationError as exc:
        return None, repeated + issues_from_validation_error(exc)
    except (RecursionError, ValueError) as exc:  # pathologically deep nesting
        return None, [Issue(codes.INVALID_JSON.code, f"JSON cannot be parsed: {exc}")]
    return (None, repeated) if repeated else (record, [])
