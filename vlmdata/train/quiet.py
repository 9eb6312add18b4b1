"""A quiet console: the backend's chatter goes to a log file, the user sees what vlmdata says.

A training run through ms-swift prints its whole argument dataclass (hundreds of lines), every library's
INFO/WARNING logging, Python warnings (deprecations, `trust_remote_code`), and tqdm bars for loading and
saving weights. None of it is wrong, but it buries what the user needs: the progress, the result and where
the files are. `quiet_backend(log_file)` sends all of that to `log_file` for the duration of the block:

- the handlers of the backend libraries' loggers (`swift`, `transformers`, `peft`, `trl`, `accelerate`,
  `datasets`, `huggingface_hub`, `torch`, `deepspeed`, `modelscope`) and the root logger are replaced by one
  file handler (restored afterwards);
- Python warnings are written to the file instead of stderr;
- `sys.stdout`/`sys.stderr` point at the file, so tqdm bars and `print` from the libraries land there too.

vlmdata's own output inside the block (the training progress bar, the demo's stage lines) goes to
`user_stream()`, the stream that was stderr when the outermost block began. `--verbose` on the commands sets
`VLMDATA_VERBOSE=1` (inherited by torchrun workers), and then the block changes nothing. Output written by
C extensions straight to file descriptor 2 is not captured.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

BACKEND_LOGGERS = (
    "swift",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "datasets",
    "huggingface_hub",
    "torch",
    "deepspeed",
    "modelscope",
    "modelscope_hub",
    "py.warnings",
)
VERBOSE_ENV = "VLMDATA_VERBOSE"

_user_streams: list[TextIO] = []
_progress: list[bool] = []


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


def progress_enabled() -> bool:
    """False inside a block opened with `progress=False` (the demo prints one line per stage instead)."""
    return all(_progress)


def user_stream() -> TextIO:
    """Where vlmdata's own progress and result lines go: stderr as it was outside any quiet block."""
    return _user_streams[0] if _user_streams else sys.stderr


@contextlib.contextmanager
def quiet_backend(
    log_file: str | Path | TextIO, *, enabled: bool | None = None, progress: bool = True
) -> Iterator[Any]:
    """Send library logging, warnings, stdout and stderr to `log_file` (a path, appended; or an open text
    stream such as a `StringIO` when the log's folder does not exist yet); yields it (None when `--verbose` or
    `enabled=False` keeps the console as it is). `progress=False` also turns vlmdata's own per-step training
    progress off inside the block."""
    if enabled is None:
        enabled = not verbose()
    _progress.append(progress)
    try:
        if not enabled:
            yield None
        elif hasattr(log_file, "write"):
            with _redirected(log_file):  # type: ignore[arg-type]
                yield log_file
        else:
            path = Path(log_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8", buffering=1) as fh, _redirected(fh):
                yield path
    finally:
        _progress.pop()


@contextlib.contextmanager
def _redirected(fh: TextIO) -> Iterator[None]:
    _user_streams.append(sys.stderr)
    saved: list[tuple[logging.Logger, list[logging.Handler], bool, int]] = []
    handler = logging.StreamHandler(fh)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in (*BACKEND_LOGGERS, ""):
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        if name == "":
            logger.setLevel(min(logger.level or logging.WARNING, logging.INFO))

    def show(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        fh.write(warnings.formatwarning(message, category, filename, lineno, line))

    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            warnings.showwarning = show
            yield
    finally:
        for logger, handlers, propagate, level in reversed(saved):
            logger.handlers = handlers
            logger.propagate = propagate
            logger.setLevel(level)
        _user_streams.pop()
