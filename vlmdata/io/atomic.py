"""Atomic writes, owner-tagged temporaries and output locks: the primitives under `vlmdata.io.output`.

Files are written to a temporary sibling and moved into place with `os.replace`; folders are built in a
temporary sibling folder and swapped in with two renames, so a process killed at any moment leaves either the
previous output or none, never a half-written one. Everything is created with the user's umask (a plain
`open`/`mkdir` mode, never `mkstemp`/`mkdtemp`'s private 0600/0700).

Temporary siblings are named `.tmp-<NAME>.<HOST>-<PID>.<RANDOM>` (HOST: 8 hex digits of the host name's
sha1). Readers ignore them. Stale ones are removed by the next write of the same target, and only when their
owner is provably dead: same host and no process with that id. A live run's temporary (another process
writing the same target) is never touched, and a temporary of a target whose name merely starts with NAME
(`out.v2` vs `out`) never matches, because the whole suffix is parsed rather than globbed.

`output_lock` serialises writers of one target with an `fcntl.flock` on the hidden `.<NAME>.vlmdata-lock`
beside it (holding the owner's pid for messages); the lock file is removed on release, and a waiter that
acquired a lock file removed meanwhile retries on the new one.

These primitives do not apply the `--out` rule; commands go through `vlmdata.io.output`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("vlmdata")

_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
_TMP_SUFFIX = re.compile(r"([0-9a-f]{8})-(\d+)\.[0-9a-f]{8}")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_name(target: Path) -> Path:
    """A fresh temporary sibling path of `target`, tagged with this host and process."""
    return target.parent / f".tmp-{target.name}.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}"


def temp_owner(target: Path, candidate: str) -> tuple[str, int] | None:
    """(host tag, pid) when `candidate` is a temporary sibling name of exactly `target`, else None."""
    prefix = f".tmp-{target.name}."
    if not candidate.startswith(prefix):
        return None
    m = _TMP_SUFFIX.fullmatch(candidate[len(prefix) :])
    return (m.group(1), int(m.group(2))) if m else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid we can judge: keep its temporary
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def clean_stale_temps(target: Path) -> list[Path]:
    """Remove the temporary siblings of `target` whose owner process is dead; returns what was removed."""
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return removed
    for name in names:
        owner = temp_owner(target, name)
        if owner is None or owner[0] != _HOST or _alive(owner[1]) or owner[1] == os.getpid():
            continue
        path = target.parent / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        removed.append(path)
    return removed


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _refuse_non_regular(target: Path, want_dir: bool) -> None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    if not ok:
        from vlmdata.errors import UsageError
        from vlmdata.io import codes

        kind = "folder" if want_dir else "regular file"
        raise UsageError(
            f"{target} exists and is not a {kind}; it is never replaced",
            code=codes.OUT_NOT_REGULAR,
        )


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically (a temporary sibling, fsync, rename); refuses a non-regular target."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _refuse_non_regular(target, want_dir=False)
    tmp = temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=False)
    return atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary sibling path (an empty file); on clean exit it replaces `path` atomically.

    The caller writes the temporary path by name (any library that takes a path). On an exception it is
    removed and `path` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _refuse_non_regular(target, want_dir=False)
    tmp = temp_name(target)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder; on clean exit it replaces `path` (which may already exist).

    On an exception the temporary folder is removed and `path` is untouched. Entries named in `keep` that
    exist in the previous folder and were not written into the temporary one are carried over. Stale
    temporaries of `path` whose owner is dead are removed first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _refuse_non_regular(target, want_dir=True)
    clean_stale_temps(target)
    tmp = temp_name(target)
    os.mkdir(tmp, 0o777)  # the umask applies, as for any folder the user creates
    try:
        yield tmp
        for name in keep:
            if (target / name).exists() and not (tmp / name).exists():
                shutil.copy2(target / name, tmp / name)  # a copy: the old folder stays whole until the swap
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.lexists(target):
        old = temp_name(target)
        os.replace(target, old)
    os.replace(tmp, target)
    fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- locks ---------------------------------------------------------------------------------------------------
def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.vlmdata-lock"


def _lock_owner(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "?"
    except OSError:
        return "?"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], wait: bool = True, what: str = "vlmdata") -> Iterator[None]:
    """Hold the exclusive lock of `path` (a file or folder target) for the block.

    `wait=False` raises VD005 (naming the holder's pid) instead of waiting. A waiter logs once, on the
    `vlmdata` logger, which process it waits for.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(target)
    announced = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                owner = _lock_owner(lock)
                if not wait:
                    from vlmdata.errors import UsageError
                    from vlmdata.io import codes

                    raise UsageError(
                        f"{target} is being written by another vlmdata process ({owner})",
                        code=codes.OUT_BUSY,
                    ) from None
                if not announced:
                    log.warning("waiting for %s: another vlmdata process (%s) is writing it", target, owner)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed this lock file on release: lock the current one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} ({what})\n".encode())
            break
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
