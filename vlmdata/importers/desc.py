"""`--desc-template`: how an annotation's fields become the object's one-line `desc`.

A template is a Python format string over the fields the format provides (`docs/import.md` lists them; every
format has `category`). The default `{category}` gives plain category names, as generic grounding data uses.
Fields may be indexed (`{attributes[occluded]}`) but not reached through attributes (`{x.y}` is refused), so a
template can only read the annotation's own values. Unknown fields and bad syntax fail before anything is read
(VD163); a field without a value on one annotation skips that annotation (`desc_field_missing`).

The rendered text is made contract-safe: newline, carriage return and tab become spaces (counted in the
report's notes as `desc_whitespace`); a desc that is empty or only spaces is skipped (`empty_desc`), and so is
one holding text the chat template acts on (Qwen control tokens, grounding placeholders, `<image>`:
`model_tokens`, by the contract's own `text_issues`).
"""

from __future__ import annotations

import string
from _string import formatter_field_name_split as _formatter_field_name_split
from collections.abc import Mapping
from typing import Any

from vlmdata.contract.text import text_issues
from vlmdata.errors import VlmdataError
from vlmdata.importers.codes import BAD_DESC_TEMPLATE

DEFAULT_TEMPLATE = "{category}"
_CONTROL = str.maketrans({"\n": " ", "\r": " ", "\t": " "})


class MissingField(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Values(dict):
    def __missing__(self, key: str) -> Any:
        raise MissingField(key)


class DescTemplate:
    def __init__(self, template: str, fields: tuple[str, ...], fmt: str) -> None:
        self.template = template
        roots: list[str] = []
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise self._error(f"bad template syntax: {exc}", template, fields) from None
        for _, name, spec, _ in parsed:
            if name is None:
                continue
            if spec and "{" in spec:
                raise self._error("nested fields in a format spec are not allowed", template, fields)
            if name == "" or name.isdigit():
                raise self._error("positional fields are not allowed; name them", template, fields)
            root, rest = _formatter_field_name_split(name)
            if any(is_attr for is_attr, _ in rest):
                raise self._error(f"attribute access `{name}` is not allowed", template, fields)
            if root not in fields:
                raise self._error(f"unknown field `{root}` for format {fmt}", template, fields)
            roots.append(str(root))
        if not roots:
            raise self._error("the template has no field, so every desc would be the same", template, fields)
        self.fields = tuple(dict.fromkeys(roots))
        single = parsed[0] if len(parsed) == 1 else None
        # `{category}` alone: the value itself (no formatting call on the hot path); same result
        self.simple: str | None = None
        if single is not None and not single[0] and not single[2] and not single[3] and single[1] in fields:
            self.simple = single[1]

    @staticmethod
    def _error(message: str, template: str, fields: tuple[str, ...]) -> VlmdataError:
        return VlmdataError(
            BAD_DESC_TEMPLATE,
            message,
            value=template,
            hint="fields of this format: " + ", ".join(f"{{{f}}}" for f in fields),
            exit_code=2,
        )

    def uses_only(self, names: set[str]) -> bool:
        return set(self.fields) <= names

    def render(self, values: Mapping[str, Any]) -> str:
        """The desc for one annotation; raises `MissingField` when a field has no value."""
        if self.simple is not None:
            value = values.get(self.simple)
            if value is None:
                raise MissingField(self.simple)
            return value if isinstance(value, str) else str(value)
        clean = _Values({k: v for k, v in values.items() if v is not None})
        try:
            return self.template.format_map(clean)
        except (KeyError, IndexError, TypeError) as exc:
            raise MissingField(str(exc).strip("'\"")) from None


def clean_desc(text: str) -> tuple[str, bool]:
    """(contract-safe desc, whether control characters were replaced); an all-space desc comes back empty."""
    cleaned = text.translate(_CONTROL)
    if not cleaned.strip():
        return "", cleaned != text
    return cleaned, cleaned != text


class DescSkip:
    """Why an annotation gets no desc: a skip reason, its code, the field at fault, a message, the value."""

    __slots__ = ("reason", "code", "field", "message", "value")

    def __init__(self, reason: str, code: str, field: str, message: str, value: Any = None) -> None:
        self.reason, self.code, self.field, self.message, self.value = reason, code, field, message, value


def make_desc(template: DescTemplate, values: Mapping[str, Any]) -> tuple[str, bool] | DescSkip:
    """(desc, whether control characters were replaced) for one annotation, or why it has none."""
    try:
        text = template.render(values)
    except MissingField as exc:
        return DescSkip(
            "desc_field_missing", "VD171", exc.name, f"--desc-template field `{exc.name}` has no value"
        )
    desc, changed = clean_desc(text)
    if not desc:
        return DescSkip("empty_desc", "VD116", "desc", "the desc is empty", text)
    issues = text_issues(desc, "desc", "desc")
    if issues:
        return DescSkip("model_tokens", issues[0].code, "desc", issues[0].message, desc)
    return desc, changed
