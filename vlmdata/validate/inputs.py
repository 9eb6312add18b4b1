"""Data inputs that may be JSONL: the one place a JSONL file is validated on the fly.

A fusion entry's `data`/`val` and a run config's `data.train`/`data.val` may name a contract JSONL file
instead of a dataset. `open_input(path, split, field)` opens every dataset form through
`vlmdata.io.dataset.open_dataset`, and a `.jsonl` / `.ndjson` / `.json` file through `validated_jsonl`: the
dataset `vlmdata validate FILE --max-image-pixels N` writes for it (otherwise default options, images resolved
against the file's own folder), used only when no record was rejected (VD522 otherwise, every time: a rejected
file is never cached; the error lists the first rejected lines with their codes and fields). The pixel limit is
the caller's: a run passes its `data.max_image_pixels`, so the on-the-fly verdicts are the ones `vlmdata
validate --max-image-pixels N` gives and training later decodes under; `vlmdata fuse` uses validate's default.

The cache cannot lie. An entry lives at `$VLMDATA_CACHE/validated-jsonl/<key>` (default
`~/.cache/vlmdata`), where the key is a sha256 over everything the result depends on: the cache format,
vlmdata's version, the file's resolved path, its content's sha256, its image root (the resolved folder) and
the validate options. The same bytes at another path or under another root are another entry (the dataset
stores absolute image paths and the header checks' verdicts). On a hit every image the cached dataset
references is stat-ed again and compared with the (size, mtime) recorded when it was validated; an image
replaced, resized or deleted since makes the entry stale and the file is validated again. Entries are built in
a temporary folder and swapped in under the entry's lock, so concurrent runs never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.io import codes
from vlmdata.io.atomic import atomic_dir, output_lock
from vlmdata.io.dataset import is_jsonl_name, open_dataset
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS
from vlmdata.validate.report import Report
from vlmdata.validate.run import ValidateOptions, validate_files

CACHE_FORMAT = 2
IMAGES_FILE = "images.json"
SHOWN_REJECTS = 5  # rejected lines a VD522 error lists


def is_jsonl(path: str | os.PathLike[str]) -> bool:
    return is_jsonl_name(path) and Path(path).is_file()


def cache_root() -> Path:
    return Path(os.environ.get("VLMDATA_CACHE") or Path.home() / ".cache" / "vlmdata") / "validated-jsonl"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(path: Path, options: ValidateOptions) -> str:
    from vlmdata import __version__

    real = os.path.realpath(path)
    parts = [
        CACHE_FORMAT,
        __version__,
        real,
        _sha256_file(Path(real)),
        os.path.dirname(real),
        options.public(),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:40]


def _image_stats(paths: list[str]) -> dict[str, list[int] | None]:
    stats: dict[str, list[int] | None] = {}
    for p in paths:
        try:
            st = os.stat(p)
            stats[p] = [st.st_size, st.st_mtime_ns]
        except OSError:
            stats[p] = None
    return stats


def _referenced_images(folder: Path) -> list[str]:
    import pyarrow.compute as pc

    table = open_dataset(folder).data.table
    flat = pc.list_flatten(table.column("images"))
    return sorted(set(pc.unique(flat).to_pylist())) if len(flat) else []


def _fresh(entry: Path) -> bool:
    data = entry / "validated" / "data"
    try:
        recorded = json.loads((entry / IMAGES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (data / "state.json").is_file() or not isinstance(recorded, dict):
        return False
    return _image_stats(sorted(recorded)) == recorded


def _rejected_lines(report: Report, rejected: int) -> list[str]:
    """The first rejected lines of a validate run, as `FILE:LINE [id=ID]: CODE FIELD: message; ...`."""
    out = []
    for entry in report.first_rejects(SHOWN_REJECTS):
        where = f"{entry['file']}:{entry['line']}"
        if entry.get("id") is not None:
            where += f" id={entry['id']}"
        issues = [
            " ".join(x for x in (i.get("code"), i.get("field")) if x) + f": {i.get('message')}"
            for i in entry["issues"]
        ]
        out.append(f"{where}: {'; '.join(issues)}")
    if rejected > len(out):
        out.append(f"... and {rejected - len(out)} more rejected line(s)")
    return out


def validated_jsonl(
    path: str | os.PathLike[str],
    field: str | None = None,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
) -> Path:
    """The validated dataset folder of the JSONL file `path` (from the cache when it is still true), its images
    checked under `max_image_pixels` (as `vlmdata validate --max-image-pixels`)."""
    source = Path(os.path.realpath(path))
    options = ValidateOptions(max_image_pixels=max_image_pixels)
    entry = cache_root() / cache_key(source, options)
    with output_lock(entry, what="validate (cache)"):
        if _fresh(entry):
            return entry / "validated" / "data"
        with atomic_dir(entry) as tmp:
            report = validate_files([source], tmp / "validated", options)
            rejected = report.total("rejected")
            if rejected:
                custom = max_image_pixels not in (None, DEFAULT_MAX_IMAGE_PIXELS)
                limit = f" --max-image-pixels {max_image_pixels}" if custom else ""
                raise VlmdataError(
                    codes.JSONL_INVALID,
                    f"{rejected} record(s) of {path} fail validation",
                    where=Location(file=str(path), field=field),
                    hint=f"run `vlmdata validate {path}{limit} --out DIR`, fix the rejected records, then use DIR",
                    details=_rejected_lines(report, rejected),
                )
            images = _referenced_images(tmp / "validated" / "data")
            (tmp / IMAGES_FILE).write_text(json.dumps(_image_stats(images), indent=0), encoding="utf-8")
    return entry / "validated" / "data"


def locate_input(
    path: str | os.PathLike[str],
    split: str = "data",
    field: str | None = None,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
) -> Path:
    """The dataset folder behind a data input (validating a JSONL file first, under `max_image_pixels`)."""
    from vlmdata.io.dataset import locate_dataset

    if is_jsonl(path):
        return validated_jsonl(path, field, max_image_pixels)
    return locate_dataset(path, split, field)


def open_input(
    path: str | os.PathLike[str],
    split: str = "data",
    field: str | None = None,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
) -> Any:
    """`open_dataset` that also takes a JSONL file (validated on the fly, see the module docstring)."""
    return open_dataset(locate_input(path, split, field, max_image_pixels), split, field)
