"""`ConfigModel`: the base of every config section model (run sections, augmentation, fusion).

Three rules hold for every field of every section, so no setting reaches run time that loading could refuse:
- unknown keys are errors (`extra="forbid"`);
- numbers are finite: NaN and ±infinity (`.nan`, `.inf` in YAML) are refused (`allow_inf_nan=False`);
- a boolean is not a number: `true` where a number belongs is refused, also inside a list or a
  `[low, high]` range (pydantic would read it as 1). Fields that accept booleans themselves are unaffected.
Bounds (ranges, sizes that decide memory) are declared on each field with `Field(ge=..., le=...)`.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

_NUMBERS = (int, float)


def _bool_in_number_slot(annotation: Any, value: Any) -> bool:
    """True when `value` holds a bool where `annotation` expects a number (recursing into lists/tuples)."""
    if annotation in _NUMBERS:
        return isinstance(value, bool)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _bool_in_number_slot(args[0], value)
    if origin in (typing.Union, types.UnionType):
        if isinstance(value, bool) and bool in args:
            return False
        return any(_bool_in_number_slot(a, value) for a in args if a is not type(None))
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return any(_bool_in_number_slot(a, v) for a, v in zip(args, value, strict=False))
        item = args[0] if args else Any
        return any(_bool_in_number_slot(item, v) for v in value)
    return False


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is not None and _bool_in_number_slot(field.annotation, value):
            raise ValueError("a boolean is not a number")
        return value
