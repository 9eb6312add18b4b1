"""Options and output helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_OPTION = typer.Option(..., "--config", "-c", help="YAML config file.", exists=False, dir_okay=False)
OUT_OPTION = typer.Option(..., "--out", "-o", help="Output folder (written atomically).")
FORMAT_OPTION = typer.Option("table", "--format", help="Output format: table (rich, default) or json.")


def console(stderr: bool = False):  # noqa: ANN201 - rich is imported lazily
    """A rich console bound to the stream of this moment (so a quiet block's redirection does not swallow
    what the command itself prints)."""
    import sys

    from rich.console import Console

    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=True)


def set_verbose(verbose: bool) -> None:
    """`--verbose`: the libraries' own console output stays on the console. Set for the rest of the process
    (torchrun workers started by this command inherit it); `vlmdata.cli.main` restores it afterwards."""
    import os

    from vlmdata.train.quiet import VERBOSE_ENV

    if verbose:
        os.environ[VERBOSE_ENV] = "1"


def require_exists(path: Path, what: str) -> Path:
    from vlmdata.errors import UsageError

    if not path.exists():
        raise UsageError(f"{what} not found: {path}", hint="check the path")
    return path


def template_option(value: str | None) -> str | None:
    """A `--template` value: a template name, or a template YAML file (loaded and registered) → its name."""
    if value is None:
        return None
    from vlmdata.render.user import resolve_template_ref

    return resolve_template_ref(value)
