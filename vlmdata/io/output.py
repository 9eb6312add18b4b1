"""The `--out` rule: the one way every command writes what the user names as its output.

A command never deletes or overwrites something it did not write. Every writing command (validate, augment,
fuse, render, export, audit, synth, summarize, tiny-model, eval, infer, import, report, train's `output_dir`,
the demo) goes through one of four calls here:

    with output_dir(out, command="augment", inputs=[dataset, config], roots=image_dirs) as tmp:
        ...write everything into tmp...          # swapped in atomically on success, removed on failure
    with output_file(out, command="export", inputs=[dataset, config]) as tmp:
        ...write the file at tmp...              # replaces `out` atomically on success
    write_output(out, data, command="eval", inputs=[predictions, gt])    # output_file for bytes in memory
    with workspace(out, command="train", inputs=[...]) as folder:
        ...write into folder over time...        # never replaced: a resumable run, the demo's folder

`check_out` applies the rule alone (e.g. to refuse early, before a long computation); the four calls apply it
under the output's lock. The rule, in order (each refusal is a usage error, exit 2, and nothing is written):

1. `out` must not be, hold or lie inside an input (VD001). `inputs` are the command's data files, dataset
   folders, an explicit `--image-root` and config files. `roots` are paths `out` must not be or hold but may
   lie inside: `validate`'s implicit image root (each JSONL's own folder, so `validate data/x.jsonl --out
   data/validated` works, as documented) and the folders of the images a dataset references. Paths are
   compared after resolving symlinks and `..` (and by inode when both exist).
2. `out` must be new or of the kind the command writes (VD002): a folder for folder outputs, a regular file
   for file outputs; never a symlink, device, FIFO, socket or mount point; its parent path must be folders.
3. An existing output must be one the same command wrote (VD003 for folders, VD004 for files): a rerun
   replaces its own earlier output, never another command's (`tiny-model` over a `synth` folder whose images
   a dataset references) nor the user's. A folder output carries the marker `.vlmdata-output.json` (command,
   version, UTC time, the entries it wrote); it is replaced only when the marker is there and the folder holds
   nothing but those entries, so files the user added are never lost. An empty folder counts as new. A
   workspace is reused the same way and is never swapped away. A file output gets the hidden sidecar
   `.NAME.vlmdata-output.json` beside it (command, version, time, size, mtime, sha256); an existing file is
   replaced only when its sidecar matches its current content, so a file the user wrote or edited, or one at
   a common name such as `report.json`, is refused.

Writers of one output are serialised by `output_lock` (wait by default; `wait=False` refuses with VD005);
temporaries are cleaned only when their owner is dead and outputs follow the umask (`vlmdata.io.atomic`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from vlmdata.errors import UsageError
from vlmdata.io import codes
from vlmdata.io.atomic import atomic_dir, atomic_file, atomic_write_json, output_lock

MARKER = ".vlmdata-output.json"
MARKER_MAX_BYTES = 1 << 20
Kind = Literal["folder", "file", "workspace"]
PathArg = str | os.PathLike[str]


def sidecar_of(path: PathArg) -> Path:
    """The hidden identity record vlmdata keeps beside a single-file output."""
    p = Path(path)
    return p.parent / f".{p.name}{MARKER}"


# -- path relations -----------------------------------------------------------------------------------------
def _real(path: PathArg) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _relation(out_real: str, other: str) -> str | None:
    if _same(out_real, other):
        return "is"
    if _inside(other, out_real):
        return "holds"
    if _inside(out_real, other):
        return "lies inside"
    return None


def _out_path(out: PathArg, flag: str) -> tuple[Path, str]:
    """(absolute lexical path, its path with the parent's symlinks resolved)."""
    text = os.fspath(out)
    if not text or "\x00" in text:
        raise UsageError(f"{flag} is not a usable path: {text!r}", code=codes.OUT_NOT_REGULAR)
    absolute = Path(os.path.abspath(text))
    if not absolute.name:
        raise UsageError(f"{flag} {text} is the file-system root", code=codes.OUT_IS_INPUT)
    return absolute, os.path.join(os.path.realpath(absolute.parent), absolute.name)


# -- markers ------------------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MARKER_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("written_by") == "vlmdata" else None


def written_by(path: PathArg) -> dict[str, Any] | None:
    """The marker (folder) or sidecar (file) vlmdata left at `path`, or None."""
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        return _read_json(p / MARKER)
    return _read_json(sidecar_of(p))


def _stamp(command: str, kind: Kind) -> dict[str, Any]:
    from vlmdata import __version__

    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"written_by": "vlmdata", "kind": kind, "command": command, "version": __version__, "time": now}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_unchanged(path: Path, st: os.stat_result, record: dict[str, Any]) -> bool:
    if record.get("kind") != "file" or record.get("file") != path.name or record.get("size") != st.st_size:
        return False
    if record.get("mtime_ns") == st.st_mtime_ns:
        return True
    return record.get("sha256") == _sha256(path)  # copied or touched: the content decides


# -- the rule -----------------------------------------------------------------------------------------------
def check_out(
    out: PathArg,
    *,
    command: str,
    kind: Kind = "folder",
    inputs: Iterable[PathArg | None] = (),
    roots: Iterable[PathArg | None] = (),
    flag: str = "--out",
) -> Path:
    """Apply the `--out` rule (module docstring) to `out`; return its absolute path or raise VD001–VD004."""
    absolute, out_real = _out_path(out, flag)
    shown = os.fspath(out)
    for paths, nest_ok in ((inputs, False), (roots, True)):
        for p in paths:
            if p is None:
                continue
            relation = _relation(out_real, _real(p))
            if relation is None or (relation == "lies inside" and nest_ok):
                continue
            raise UsageError(
                f"{flag} {shown} {relation} the input {os.fspath(p)}; `vlmdata {command}` never writes over "
                "its own inputs",
                hint="write the output to a new path outside every input",
                code=codes.OUT_IS_INPUT,
            )
    _check_parents(absolute, flag, shown)
    try:
        st = os.lstat(absolute)
    except FileNotFoundError:
        return absolute
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"{flag} {shown} is a symlink; it is never replaced", code=codes.OUT_NOT_REGULAR)
    if kind == "file":
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise UsageError(
                f"{flag} {shown} is {what}; `vlmdata {command}` writes a single file",
                code=codes.OUT_NOT_REGULAR,
            )
        record = _read_json(sidecar_of(absolute))
        if record is None or not _file_unchanged(absolute, st, record) or record.get("command") != command:
            if record is None:
                why = "vlmdata did not write it"
            elif record.get("command") != command:
                why = f"`vlmdata {record.get('command')}` wrote it, not `vlmdata {command}`"
            else:
                why = "it changed since vlmdata wrote it"
            raise UsageError(
                f"{flag} {shown} is an existing file and {why}",
                hint="choose a new path, or move the file away yourself",
                code=codes.OUT_FOREIGN_FILE,
            )
        return absolute
    if not stat.S_ISDIR(st.st_mode):
        what = "a file" if stat.S_ISREG(st.st_mode) else "not a regular folder"
        raise UsageError(
            f"{flag} {shown} is {what}; `vlmdata {command}` writes a folder", code=codes.OUT_NOT_REGULAR
        )
    if os.path.ismount(absolute):
        raise UsageError(f"{flag} {shown} is a mount point; it is never replaced", code=codes.OUT_NOT_REGULAR)
    names = set(os.listdir(absolute))
    if not names:
        return absolute
    marker = _read_json(absolute / MARKER)
    if marker is None:
        raise UsageError(
            f"{flag} {shown} is a non-empty folder that vlmdata did not write",
            hint="choose a new or empty folder; vlmdata replaces only folders it wrote",
            code=codes.OUT_FOREIGN_FOLDER,
        )
    if marker.get("command") != command:
        raise UsageError(
            f"{flag} {shown} holds the output of `vlmdata {marker.get('command')}`, not of `vlmdata {command}`",
            hint="choose a new or empty folder; an output is only ever replaced by the command that wrote it",
            code=codes.OUT_FOREIGN_FOLDER,
        )
    if kind == "workspace":
        if marker.get("kind") != "workspace":
            raise UsageError(
                f"{flag} {shown} is a `vlmdata {command}` output folder, not a working folder",
                hint="choose a new or empty folder",
                code=codes.OUT_FOREIGN_FOLDER,
            )
        return absolute
    if marker.get("kind") != "folder" or not isinstance(marker.get("entries"), list):
        raise UsageError(
            f"{flag} {shown} is a `vlmdata {marker.get('command')}` working folder; it is never replaced",
            hint="choose a new or empty folder",
            code=codes.OUT_FOREIGN_FOLDER,
        )
    extra = sorted(names - {MARKER} - {str(e) for e in marker["entries"]})
    if extra:
        listed = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise UsageError(
            f"{flag} {shown} holds {listed}, which vlmdata did not write; replacing the folder would lose it",
            hint="move those entries out of the folder, or choose another path",
            code=codes.OUT_FOREIGN_FOLDER,
        )
    return absolute


def _check_parents(absolute: Path, flag: str, shown: str) -> None:
    for parent in absolute.parents:
        if os.path.lexists(parent):
            if not os.path.isdir(parent):
                raise UsageError(
                    f"{flag} {shown}: {parent} is not a folder", code=codes.OUT_NOT_REGULAR, value=str(parent)
                )
            return


# -- writing ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def output_dir(
    out: PathArg,
    *,
    command: str,
    inputs: Iterable[PathArg | None] = (),
    roots: Iterable[PathArg | None] = (),
    wait: bool = True,
    flag: str = "--out",
) -> Iterator[Path]:
    """Check `out` under its lock, yield a temporary folder to fill, then swap it in with its marker."""
    inputs, roots = list(inputs), list(roots)
    absolute = _out_path(out, flag)[0]
    with output_lock(absolute, wait=wait, what=command):
        check_out(absolute, command=command, kind="folder", inputs=inputs, roots=roots, flag=flag)
        with atomic_dir(absolute) as tmp:
            yield tmp
            entries = sorted(n for n in os.listdir(tmp) if n != MARKER)
            atomic_write_json(tmp / MARKER, {**_stamp(command, "folder"), "entries": entries})


@contextlib.contextmanager
def output_file(
    out: PathArg,
    *,
    command: str,
    inputs: Iterable[PathArg | None] = (),
    roots: Iterable[PathArg | None] = (),
    wait: bool = True,
    flag: str = "--out",
) -> Iterator[Path]:
    """Check `out` under its lock, yield a temporary file path to write, then replace `out` with it."""
    inputs, roots = list(inputs), list(roots)
    absolute = _out_path(out, flag)[0]
    with output_lock(absolute, wait=wait, what=command):
        check_out(absolute, command=command, kind="file", inputs=inputs, roots=roots, flag=flag)
        with atomic_file(absolute) as tmp:
            yield tmp
            st = os.stat(tmp)
            record = {
                **_stamp(command, "file"),
                "file": absolute.name,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": _sha256(tmp),
            }
            # the sidecar first: a crash before the rename leaves the old file refused, never trusted
            atomic_write_json(sidecar_of(absolute), record)


def write_output(
    out: PathArg,
    data: bytes | str,
    *,
    command: str,
    inputs: Iterable[PathArg | None] = (),
    roots: Iterable[PathArg | None] = (),
    flag: str = "--out",
) -> Path:
    """`output_file` for content already in memory; returns the absolute path written."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with output_file(out, command=command, inputs=inputs, roots=roots, flag=flag) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
    return _out_path(out, flag)[0]


@contextlib.contextmanager
def workspace(
    out: PathArg,
    *,
    command: str,
    inputs: Iterable[PathArg | None] = (),
    roots: Iterable[PathArg | None] = (),
    wait: bool = False,
    flag: str = "--out",
) -> Iterator[Path]:
    """A folder the command writes into over time (never swapped), held under its lock for the block."""
    inputs, roots = list(inputs), list(roots)
    absolute = _out_path(out, flag)[0]
    with output_lock(absolute, wait=wait, what=command):
        check_out(absolute, command=command, kind="workspace", inputs=inputs, roots=roots, flag=flag)
        absolute.mkdir(parents=True, exist_ok=True)
        atomic_write_json(absolute / MARKER, {**_stamp(command, "workspace"), "entries": None})
        yield absolute


__all__ = [
    "MARKER",
    "check_out",
    "output_dir",
    "output_file",
    "sidecar_of",
    "workspace",
    "write_output",
    "written_by",
]
