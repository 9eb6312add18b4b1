"""msgspec mirrors of the contract's pydantic models, derived from them (never written by hand).

The pydantic models (`models.py`) are the single definition of a record. Two msgspec shapes are derived from
them field by field — same names, same order, same defaults, same optional/required — so a field added to a
model appears in both without touching this module:

- the fast-path structs (`FRecord`, `FObject`, `FMessage`, ...), which decode a whole batch of lines strictly
  (unknown fields forbidden; the length and range constraints of the models as `msgspec.Meta`). Fields that
  the fast path parses in bulk itself stay raw JSON text (`FAST_RAW`: the object's `desc` and its geometry);
- the canonical structs (`CRecord`, ...), the typed form a derived record id is computed from
  (`vlmdata.validate.ids`): no constraints, defaults omitted when encoding, so absent, null and default values
  encode alike, in the models' field order;
- the key structs (`KRecord`, ...): every field kept as raw JSON text, so re-encoding a decoded line writes each
  key that was present exactly once — what the repeated-key screen of the fast path compares against.

A content item (`{"type": "text", "text": ...}`) is a tagged struct keyed by its `type` literal. The
derivation understands the annotations the models use (str/int/float/bool, lists, `dict[str, Any]`, unions
with None, literals, nested models, `Annotated` constraints); anything else raises at import, so a model
change the mirrors cannot follow is loud.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import annotated_types as at
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from vlmdata.contract.models import Message, Object, Record

RAW_EMPTY = msgspec.Raw(b"")
# (model, field) -> default of a field the fast path keeps as raw JSON text (None: required)
FAST_RAW: dict[tuple[str, str], msgspec.Raw | None] = {
    ("Object", "desc"): None,
    ("Object", "bbox_2d"): RAW_EMPTY,
    ("Object", "poly"): RAW_EMPTY,
    ("Object", "line"): RAW_EMPTY,
}
_META_KEYS = {
    at.MinLen: "min_length",
    at.MaxLen: "max_length",
    at.Gt: "gt",
    at.Ge: "ge",
    at.Lt: "lt",
    at.Le: "le",
}


def _constraints(items: typing.Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, FieldInfo):
            out.update(_constraints(item.metadata))
            continue
        key = _META_KEYS.get(type(item))
        if key is not None:
            out[key] = getattr(item, key)
    return out


class _Deriver:
    def __init__(self, prefix: str, *, fast: bool) -> None:
        self.prefix, self.fast = prefix, fast
        self.structs: dict[type[BaseModel], Any] = {}

    def struct(self, model: type[BaseModel]) -> Any:
        if model in self.structs:
            return self.structs[model]
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        tag = None
        for name, info in model.model_fields.items():
            literal = (
                typing.get_args(info.annotation) if typing.get_origin(info.annotation) is Literal else ()
            )
            if name == "type" and len(literal) == 1:
                tag = literal[0]  # a tagged struct: `type` is its tag, not a field
                continue
            raw = FAST_RAW.get((model.__name__, name), ...) if self.fast else ...
            if raw is not ...:
                kind: Any = msgspec.Raw
                default: Any = raw
            else:
                kind = self.type(info.annotation, _constraints(info.metadata))
                default = None if info.is_required() else info.get_default(call_default_factory=True)
            fields.append((name, kind) if default is None and info.is_required() else (name, kind, default))
        options: dict[str, Any] = {"omit_defaults": True, "gc": False}
        if self.fast:
            options["forbid_unknown_fields"] = True
        if tag is not None:
            options.update(tag_field="type", tag=tag)
        self.structs[model] = msgspec.defstruct(self.prefix + model.__name__, fields, **options)
        return self.structs[model]

    def type(self, annotation: Any, constraints: dict[str, Any]) -> Any:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is Annotated:
            return self.type(args[0], {**_constraints(args[1:]), **constraints})
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            members = [a for a in args if a is not type(None)]
            inner = [self.type(a, constraints if len(members) == 1 else {}) for a in members]
            out = inner[0] if len(inner) == 1 else typing.Union[tuple(inner)]  # noqa: UP007
            return out | None if type(None) in args else out
        if origin is Literal:
            return self._meta(annotation, constraints)
        if origin is list:
            return self._meta(list[self.type(args[0], {})], constraints)  # type: ignore[misc]
        if origin is dict:
            return self._meta(dict[str, Any], constraints)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.struct(annotation)
        if annotation in (str, int, float, bool):
            return self._meta(annotation, constraints)
        raise TypeError(f"cannot mirror {annotation!r} in msgspec")

    def _meta(self, kind: Any, constraints: dict[str, Any]) -> Any:
        if not self.fast or not constraints:
            return kind
        return Annotated[kind, msgspec.Meta(**constraints)]


_fast = _Deriver("F", fast=True)
FRecord: Any = _fast.struct(Record)
FObject: Any = _fast.struct(Object)
FMessage: Any = _fast.struct(Message)

_canonical = _Deriver("C", fast=False)
CRecord: Any = _canonical.struct(Record)
CObject: Any = _canonical.struct(Object)


def _is_model_list(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is list:
            item = typing.get_args(arg)[0]
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item
    return None


def _is_free_form(annotation: Any) -> bool:
    for arg in (annotation, *typing.get_args(annotation)):
        inner = typing.get_args(arg)[0] if typing.get_origin(arg) is Annotated else arg
        if typing.get_origin(inner) is dict:
            return True
    return False


def _key_struct(model: type[BaseModel], made: dict[type[BaseModel], Any]) -> Any:
    """Every field as raw JSON text (exact presence, values copied verbatim when encoded), except lists of
    models, which are lists of their own key structs."""
    if model not in made:
        fields: list[tuple[str, Any, Any]] = []
        for name, info in model.model_fields.items():
            item = _is_model_list(info.annotation)
            if item is not None:
                fields.append((name, list[_key_struct(item, made)] | None | msgspec.UnsetType, msgspec.UNSET))  # type: ignore[misc]
            else:
                fields.append((name, msgspec.Raw, RAW_EMPTY))
        made[model] = msgspec.defstruct("K" + model.__name__, fields, omit_defaults=True, gc=False)
    return made[model]


# Key structs: what the fast path's repeated-key screen (`vlmdata.validate.keyscan`) re-encodes
_keys: dict[type[BaseModel], Any] = {}
KRecord: Any = _key_struct(Record, _keys)
# free-form JSON fields (a mapping of any keys): (model name, field)
FREE_FORM: frozenset[tuple[str, str]] = frozenset(
    (model.__name__, name)
    for model in (Record, Object)
    for name, info in model.model_fields.items()
    if _is_free_form(info.annotation)
)
