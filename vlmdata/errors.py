"""Stable error codes and the exception every vlmdata failure is raised as.

Each area defines its codes in a module whose name ends in `codes` inside its package
(`vlmdata/contract/codes.py`, `vlmdata/config/run_codes.py`, ...), through `define()`. The code ranges are fixed: VD1xx contract, VD2xx
geometry, VD3xx images, VD4xx conversation, VD5xx dataset, VD6xx config, VD7xx plugins. `docs/errors.md` is
generated from this registry (`render_errors_markdown`), and a test keeps it current.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

_RANGES = {
    "1": "Contract (records and fields)",
    "2": "Geometry",
    "3": "Images",
    "4": "Conversation",
    "5": "Dataset",
    "6": "Configuration",
    "7": "Plugins",
}


@dataclass(frozen=True)
class ErrorCode:
    code: str
    title: str
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return self.code


CODES: dict[str, ErrorCode] = {}


def define(code: str, title: str, fix: str, severity: Severity = "error") -> ErrorCode:
    if len(code) != 5 or not code.startswith("VD") or not code[2:].isdigit() or code[2] not in _RANGES:
        raise ValueError(f"malformed error code {code!r}: expected VD followed by three digits in 1xx-7xx")
    existing = CODES.get(code)
    if existing is not None and (existing.title, existing.fix, existing.severity) != (title, fix, severity):
        raise ValueError(f"error code {code} defined twice with different meanings")
    entry = ErrorCode(code, title, fix, severity)
    CODES[code] = entry
    return entry


@dataclass
class Location:
    """Where a problem sits: any subset of file, line, record id and a field path such as `objects[3].bbox_2d`."""

    file: str | None = None
    line: int | None = None
    record_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.record_id is not None:
            parts.append(f"id={self.record_id}")
        if self.field:
            parts.append(self.field)
        return " ".join(parts)


@dataclass
class VlmdataError(Exception):
    """A failure the user can act on: a code, a one-line message, where it happened and what to do.

    The CLI prints `str(error)` (never a traceback unless VLMDATA_DEBUG=1) and exits with `exit_code`:
    1 for data or config problems, 2 for usage errors.
    """

    code: ErrorCode | str
    message: str
    where: Location | None = None
    value: Any = None
    hint: str | None = None
    exit_code: int = 1
    details: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def code_str(self) -> str:
        return str(self.code)

    def __str__(self) -> str:
        head = f"{self.code_str}"
        if self.where is not None and str(self.where):
            head += f" {self.where}"
        text = f"{head}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        fix = self.hint
        if fix is None and isinstance(self.code, ErrorCode):
            fix = self.code.fix
        if fix:
            text += f"\n  fix: {fix}"
        for line in self.details:
            text += f"\n  {line}"
        return text


class UsageError(VlmdataError):
    """Bad flags or missing inputs: exit code 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(code="VD000", message=message, hint=hint, exit_code=2)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant (difflib ratio ≥ 0.6, case, `-` and `_` ignored), or None."""
    import difflib

    def norm(s: str) -> str:
        return s.lower().replace("-", "_")

    options = {norm(c): c for c in choices if isinstance(c, str)}
    key = norm(str(word))
    if key in options:
        return options[key]
    match = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    if match:
        return options[match[0]]
    prefixed = [c for n, c in options.items() if len(key) >= 3 and (n.startswith(key) or key.startswith(n))]
    return prefixed[0] if len(prefixed) == 1 else None


def unknown_key_fix(word: str, choices: Iterable[str]) -> str:
    """The fix of an unknown-key error: the closest valid key first, then every valid key."""
    valid = sorted({c for c in choices if isinstance(c, str)})
    guess = closest(word, valid)
    listed = ", ".join(valid) if len(valid) <= 40 else ", ".join(valid[:40]) + ", …"
    head = f"did you mean `{guess}`? " if guess is not None else "no valid key is close; "
    return head + (f"valid keys here: {listed}" if valid else "this mapping takes no keys")


def model_keys_at(model: Any, path: Sequence[Any]) -> list[str] | None:
    """The keys a pydantic model accepts at `path` (field names and aliases), following nested models
    through Optional/Union/list/dict annotations; None when the path leaves the models."""
    import typing

    from pydantic import BaseModel

    def models_in(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]

    current: list[type[BaseModel]] = models_in(model)
    for part in path:
        if isinstance(part, int):
            continue  # a list index: the list's item model is already current
        nxt = [
            m for c in current if part in c.model_fields for m in models_in(c.model_fields[part].annotation)
        ]
        if nxt:
            current = nxt
        elif not any(part in c.model_fields for c in current):
            continue  # a dict key (a name chosen by the user): the value model is already current
        else:
            return None  # a scalar field: no keys below it
    if not current:
        return None
    keys: set[str] = set()
    for c in current:
        for name, info in c.model_fields.items():
            keys.add(name)
            if isinstance(info.alias, str):
                keys.add(info.alias)
    return sorted(keys)


def load_all_codes() -> dict[str, ErrorCode]:
    """Import every `codes` module of vlmdata and vlmdata_plugins so the registry is complete."""
    import vlmdata

    roots: list[Any] = [vlmdata]
    try:
        import vlmdata_plugins

        roots.append(vlmdata_plugins)
    except ImportError:
        pass
    for root in roots:
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + "."):
            if info.name.rsplit(".", 1)[-1].endswith("codes"):  # codes.py, run_codes.py, ...
                importlib.import_module(info.name)
    return dict(sorted(CODES.items()))


def render_errors_markdown() -> str:
    codes = load_all_codes()
    lines = [
        "# Error codes",
        "",
        "Every problem vlmdata reports carries one of these codes, with where it was found (file:line, record id,",
        "field path), the value seen, and what to do. Warnings do not reject a record; errors do.",
        "This page is generated from the code registry (`python -m vlmdata.errors > docs/errors.md`).",
        "",
    ]
    current = None
    for code, entry in codes.items():
        group = code[2]
        if group != current:
            current = group
            lines += [
                f"## VD{group}xx — {_RANGES[group]}",
                "",
                "| code | severity | meaning | fix |",
                "|---|---|---|---|",
            ]
        title = entry.title.replace("|", "\\|")
        fix = entry.fix.replace("|", "\\|")
        lines.append(f"| `{code}` | {entry.severity} | {title} | {fix} |")
        nxt = [c for c in codes if c > code]
        if not nxt or nxt[0][2] != group:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    # Run as a script this file is `__main__`; the registry lives in the imported module.
    from vlmdata.errors import render_errors_markdown as _render

    print(_render(), end="")
