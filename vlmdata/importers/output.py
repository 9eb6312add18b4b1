"""Where an import writes: `OUT.jsonl` (streamed, atomic) and `OUT.import.json`, and what it refuses.

The JSONL is streamed into a temporary sibling (`.tmp-OUT.jsonl.*`) and moved into place with `os.replace`
only when the whole import succeeded, so an interrupted import leaves the previous output or none; the report
follows the same way. An existing `OUT.jsonl` is replaced only when its `OUT.import.json` is there too (it is
a previous import's output); anything else at that path, an input file, or a folder is refused (VD175).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vlmdata.errors import VlmdataError
from vlmdata.importers.codes import OUT_REFUSED


def report_path(out: str | Path) -> Path:
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".import.json")


def check_out(out: str | Path, inputs: list[str | Path]) -> None:
    """Refuse an `--out` that is a folder, an input, inside an input folder, or a file import did not write."""
    target = Path(out)
    refuse = None
    real = {os.path.realpath(target), os.path.realpath(report_path(target))}
    for src in inputs:
        src_real = os.path.realpath(src)
        if src_real in real:
            refuse = f"it is an input: {src}"
        elif os.path.isdir(src_real) and any(r.startswith(src_real.rstrip(os.sep) + os.sep) for r in real):
            refuse = f"it lies inside the input folder {src} (a later import would read it)"
    if refuse is None and target.is_dir():
        refuse = "it is a folder"
    elif refuse is None and target.exists() and not report_path(target).exists():
        refuse = (
            f"it exists and was not written by `vlmdata import` (no {report_path(target).name} beside it)"
        )
    if refuse is not None:
        raise VlmdataError(OUT_REFUSED, f"refusing --out {target}: {refuse}", exit_code=2)


@contextlib.contextmanager
def open_output(out: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes `out` atomically when the block ends without an exception."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
