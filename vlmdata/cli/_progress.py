"""The one progress bar of the command line: rich, on stderr, only when a person is watching.

    with progress_bar("auditing", total=len(dataset), fmt=fmt) as advance:
        library_call(..., progress=advance)          # the library calls advance(n) after n more units
                                                     # (advance(n, total=T) also sets a total learnt late)

The bar shows when stderr is a terminal and the command prints tables (`--format json` output is for
programs; a pipe or a CI log gets no bar), and only for work of at least `min_total` units, so small inputs
print nothing extra. It is transient: it disappears when the work ends, leaving the command's result. When it
is off, `advance` is a no-op, so the library code is the same either way. `VLMDATA_PROGRESS=0` turns every
bar off, `=1` forces them on (for recording a terminal session).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator


def progress_wanted(fmt: str = "table", total: int | None = None, min_total: int = 1) -> bool:
    forced = os.environ.get("VLMDATA_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    if fmt == "json" or not sys.stderr.isatty():
        return False
    return total is None or total >= min_total


@contextlib.contextmanager
def progress_bar(
    label: str,
    total: int | None,
    *,
    fmt: str = "table",
    unit: str = "records",
    min_total: int = 1,
    in_bytes: bool = False,
) -> Iterator[Callable[..., None]]:
    """Yield `advance(n)`; a transient rich bar on stderr when `progress_wanted`, else a no-op."""
    if not progress_wanted(fmt, total, min_total):
        yield lambda n=1, total=None: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counts = (
        (DownloadColumn(), TransferSpeedColumn()) if in_bytes else (MofNCompleteColumn(), TextColumn(unit))
    )
    with Progress(
        TextColumn(label),
        BarColumn(),
        *counts,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.advance(task, n)

        yield advance
