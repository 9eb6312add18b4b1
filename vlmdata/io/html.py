"""Writing text into HTML pages (`vlmdata render`'s contact sheet, report pages): escaped unless marked safe.

Anything that comes from data is user-controlled: record ids, descs, image paths, dataset paths, and every key
and value under `metadata` — including vlmdata's own provenance such as `_augment`, which anyone can edit in a
JSONL before validating it. `html(template, **values)` formats a template with every value escaped
(`& < > " '`), so a value can never open a tag or leave a quoted attribute; only values already built by
`html()` (or wrapped in `Safe`) are inserted as they are. Pages are written with `charset=utf-8` and every
attribute double-quoted, which is what the escaping assumes. `href(name)` makes a link to a file the command
itself wrote: relative, with any scheme (`javascript:`, `data:` …) neutralised.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable


class Safe(str):
    """HTML that is already escaped (built by `html()` or `join()`): inserted as is."""


def escape(value: object) -> Safe:
    """`value` (anything; non-strings through `str`) as HTML text, safe in element content and quoted attributes."""
    if isinstance(value, Safe):
        return value
    return Safe(_html.escape(value if isinstance(value, str) else str(value), quote=True))


def html(template: str, *args: object, **values: object) -> Safe:
    """`template.format(...)` with every argument escaped (see the module docstring)."""
    return Safe(template.format(*map(escape, args), **{k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    """Escaped parts joined by `sep` (itself trusted markup such as `<br>`)."""
    return Safe(sep.join(escape(p) for p in parts))


def href(name: str) -> Safe:
    """A link target for a file the page's command wrote, relative to the page."""
    head = name.split("/", 1)[0]
    if ":" in head or name.startswith(("/", "\\")):
        name = "./" + name.lstrip("/\\")
    return escape(name)
