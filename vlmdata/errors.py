"""Stable error codes, the exception every vlmdata failure is raised as, and the exit codes.

Each area defines its codes in a module whose name ends in `codes` inside its package
(`vlmdata/contract/codes.py`, `vlmdata/config/run_codes.py`, ...), through `define()`. The code ranges are
fixed: VD0xx usage (command line, inputs, outputs), VD1xx contract, VD2xx geometry, VD3xx images, VD4xx
conversation, VD5xx dataset, VD6xx config, VD7xx plugins. A code that is no longer raised is `retire()`d: it
stays listed in `docs/errors.md` as retired and can never be defined again, so an old log line never means
something new. `docs/errors.md` is generated from this registry (`render_errors_markdown`); a test keeps it
current. Trainer plugins define their codes the same way; `load_all_codes` finds them through the
entry-point group the plugins register in (`PLUGIN_GROUP`), never by importing a plugin package by name.

Exit codes (one meaning each, for every command): `EXIT_OK` 0; `EXIT_PROBLEMS` 1, data or config problems
were found (rejected lines, over-length records, an invalid config); `EXIT_USAGE` 2, the command cannot run
as given (bad flags, a missing input, a refused `--out`, a missing optional dependency); `EXIT_INTERNAL` 70
(`EX_SOFTWARE` of sysexits.h), an unexpected error: a bug in vlmdata, reported with the command, the input
position when known (`at`) and a bug-report hint.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
PLUGIN_GROUP = "vlmdata.trainers"

_RANGES = {
    "0": "Usage (command line, inputs, outputs)",
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


@dataclass(frozen=True)
class RetiredCode:
    code: str
    title: str
    why: str


CODES: dict[str, ErrorCode] = {}
RETIRED: dict[str, RetiredCode] = {}


def _check_format(code: str) -> None:
    if len(code) != 5 or not code.startswith("VD") or not code[2:].isdigit() or code[2] not in _RANGES:
        raise ValueError(f"malformed error code {code!r}: expected VD followed by three digits in 0xx-7xx")


def define(code: str, title: str, fix: str, severity: Severity = "error") -> ErrorCode:
    _check_format(code)
    if code in RETIRED:
        raise ValueError(f"error code {code} is retired ({RETIRED[code].title}) and cannot be reused")
    existing = CODES.get(code)
    if existing is not None and (existing.title, existing.fix, existing.severity) != (title, fix, severity):
        raise ValueError(f"error code {code} defined twice with different meanings")
    entry = ErrorCode(code, title, fix, severity)
    CODES[code] = entry
    return entry


def retire(code: str, title: str, why: str) -> RetiredCode:
    """Mark `code` as no longer raised: it stays documented as retired and `define` refuses it from now on."""
    _check_format(code)
    if code in CODES:
        raise ValueError(f"error code {code} is defined; remove its definition before retiring it")
    entry = RetiredCode(code, title, why)
    if RETIRED.setdefault(code, entry) != entry:
        raise ValueError(f"error code {code} retired twice with different meanings")
    return entry


USAGE = define(
    "VD000",
    "The command cannot run as given (a bad flag value, a missing or unreadable input)",
    "The message names the flag or path; `vlmdata COMMAND --help` lists the flags and what they take.",
)
MISSING_DEPENDENCY = define(
    "VD006",
    "An optional dependency of this command is not installed",
    "Install the extra the message names, e.g. `pip install 'vlmdata[train]'` for torch and ms-swift.",
)
INTERNAL = define(
    "VD009",
    "Internal error: an unexpected exception (a bug in vlmdata)",
    "Re-run with VLMDATA_DEBUG=1 and report the command, the traceback and the input position it prints.",
)

# top-level module -> the extra of vlmdata that installs it
OPTIONAL_MODULES = {
    "torch": "train",
    "torchvision": "train",
    "swift": "train",
    "transformers": "train",
    "peft": "train",
    "trl": "train",
    "accelerate": "train",
    "qwen_vl_utils": "train",
    "tensorboard": "train",
    "albumentations": "bench",
    "ray": "ray",
}


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
    """The command cannot run as given: exit code 2 (VD000 unless a more precise VD0xx code is passed)."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        code: ErrorCode | str = USAGE,
        where: Location | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(
            code=code, message=message, where=where, value=value, hint=hint, exit_code=EXIT_USAGE
        )


# -- where an unexpected error happened ----------------------------------------------------------------------
_POSITION: contextvars.ContextVar[Location | None] = contextvars.ContextVar("vlmdata_position", default=None)


@contextlib.contextmanager
def at(
    file: str | None = None, line: int | None = None, record_id: str | None = None, field: str | None = None
) -> Iterator[None]:
    """Name the input position being processed; an unexpected exception raised inside carries it.

    The CLI prints it with an internal error (`position_of`). Nested `at` blocks refine the outer one (a
    record inside a file); the cost is one context-variable set per block.
    """
    outer = _POSITION.get()
    here = Location(
        file if file is not None else (outer.file if outer else None),
        line if line is not None else (outer.line if outer and file is None else None),
        record_id,
        field,
    )
    token = _POSITION.set(here)
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, VlmdataError) and getattr(exc, "_vlmdata_position", None) is None:
            with contextlib.suppress(AttributeError, TypeError):
                exc._vlmdata_position = here  # type: ignore[attr-defined]
        raise
    finally:
        _POSITION.reset(token)


def position_of(exc: BaseException) -> Location | None:
    """The innermost `at` position an exception was raised in, if any."""
    return getattr(exc, "_vlmdata_position", None)


def missing_dependency(exc: BaseException) -> UsageError | None:
    """The usage error (VD006, with the install command) for a missing optional module, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    extra = OPTIONAL_MODULES.get(top)
    if extra is None:
        return None
    return UsageError(
        f"this needs the module {top!r}, which is not installed",
        hint=f"pip install 'vlmdata[{extra}]'",
        code=MISSING_DEPENDENCY,
    )


def internal_error_message(exc: BaseException, command: str) -> str:
    """The lines printed for an unexpected exception (exit code `EXIT_INTERNAL`)."""
    where = position_of(exc)
    text = f"{INTERNAL.code} internal error in `{command}`"
    if where is not None and str(where):
        text += f" at {where}"
    text += f": {type(exc).__name__}: {exc}"
    text += (
        "\n  this is a bug in vlmdata: please report it with the command line above and the traceback"
        " printed with VLMDATA_DEBUG=1"
    )
    return text


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
    """Import every `codes` module of vlmdata and of the installed trainer plugins' packages.

    Plugins are found through `PLUGIN_GROUP` (the entry points they register their trainers in); a package
    that fails to import is skipped here (`vlmdata plugins` reports it).
    """
    import vlmdata

    roots: list[Any] = [vlmdata]
    from importlib import metadata

    for name in sorted(
        {ep.value.split(":")[0].split(".")[0] for ep in metadata.entry_points(group=PLUGIN_GROUP)}
    ):
        if name == "vlmdata":
            continue
        try:
            roots.append(importlib.import_module(name))
        except Exception:  # noqa: BLE001 - a broken third-party plugin must not break the code registry
            continue
    for root in roots:
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + ".", onerror=lambda _: None):
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
        f"Exit codes: {EXIT_OK} clean; {EXIT_PROBLEMS} data or config problems found; {EXIT_USAGE} usage error (VD0xx and",
        f"any error the message marks as usage); {EXIT_INTERNAL} internal error (a bug: please report it). See",
        "docs/reliability.md.",
        "",
    ]
    rows: list[tuple[str, str]] = []
    for code, entry in codes.items():
        title = entry.title.replace("|", "\\|")
        fix = entry.fix.replace("|", "\\|")
        rows.append((code, f"| `{code}` | {entry.severity} | {title} | {fix} |"))
    for code, old in RETIRED.items():
        title = old.title.replace("|", "\\|")
        why = old.why.replace("|", "\\|")
        rows.append((code, f"| `{code}` | retired | ~~{title}~~ | No longer raised: {why} Never reused. |"))
    rows.sort()
    current = None
    for i, (code, row) in enumerate(rows):
        group = code[2]
        if group != current:
            current = group
            lines += [
                f"## VD{group}xx — {_RANGES[group]}",
                "",
                "| code | severity | meaning | fix |",
                "|---|---|---|---|",
            ]
        lines.append(row)
        if i + 1 == len(rows) or rows[i + 1][0][2] != group:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    # Run as a script this file is `__main__`; the registry lives in the imported module.
    from vlmdata.errors import render_errors_markdown as _render

    print(_render(), end="")
