"""The one renderer of command results: tables and lines on the terminal, or the result as JSON.

A command turns the library's result into `blocks` (`Table`s and text lines) and calls
`show(fmt, data, blocks)`: `--format json` prints `data` (the result as plain JSON values) on stdout, indented,
and nothing else; `--format table` prints the blocks with rich. Every cell and line is plain text — never read
as rich markup, so `[train]` in a path or an id prints as is — optionally styled (`Styled`). Tables share one
look (title on the left, a rule under the header, a rule before the footer rows) and are never squeezed below
120 columns when the output is not a terminal (logs, pipes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["table", "json"]


@dataclass(frozen=True)
class Styled:
    text: str
    style: str


Cell = str | Styled


@dataclass(frozen=True)
class Col:
    name: str
    right: bool = False  # right-justified (numbers)
    min_width: int | None = None


@dataclass
class Table:
    title: str | None
    columns: Sequence[Col | str]
    rows: list[Sequence[Cell]] = field(default_factory=list)
    footer: list[Sequence[Cell]] = field(default_factory=list)


Block = Table | Cell


def console(stderr: bool = False) -> Any:
    """A rich console bound to the stream of this moment (so a quiet block's redirection of the libraries'
    output does not swallow what the command itself prints)."""
    import sys

    from rich.console import Console

    con = Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=True)
    if not con.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        con.width = max(con.width, 120)
    return con


def _text(cell: Cell) -> Any:
    from rich.text import Text

    return Text(cell.text, style=cell.style) if isinstance(cell, Styled) else Text(str(cell))


def _rich_table(table: Table) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    out = RichTable(title=table.title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in table.columns:
        c = col if isinstance(col, Col) else Col(col)
        out.add_column(c.name, justify="right" if c.right else "left", no_wrap=c.right, min_width=c.min_width)
    for row in table.rows:
        out.add_row(*(_text(cell) for cell in row))
    if table.footer:
        out.add_section()
        for row in table.footer:
            out.add_row(*(_text(cell) for cell in row))
    return out


def print_blocks(blocks: Sequence[Block], stderr: bool = False) -> None:
    con = console(stderr)
    for block in blocks:
        con.print(_rich_table(block) if isinstance(block, Table) else _text(block))


def show(fmt: Format, data: Any, blocks: Sequence[Block], stderr: bool = False) -> None:
    """Print `data` as JSON (`fmt == "json"`) or `blocks` as tables and lines (`fmt == "table"`)."""
    if fmt == "json":
        import typer

        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print_blocks(blocks, stderr)
