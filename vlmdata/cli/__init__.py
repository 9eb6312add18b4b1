"""The `vlmdata` command line: a thin skin over the library.

Every command lives in its own module `vlmdata/cli/cmd_<name>.py` exposing `register(app)`; the app discovers
them, so adding a command never edits a shared file. Command modules import only typer/rich at import time and
defer library imports to the command body, so `vlmdata --help` stays fast. One skin for all of them: shared
options and readable help (`vlmdata.cli._skin`), one renderer for tables and `--format json`
(`vlmdata.cli._render`), and the `--out` rule inside the library functions they call (`vlmdata.io.output`).

Failures raised as `VlmdataError` print as one line with a hint (the traceback only with VLMDATA_DEBUG=1).
Exit codes: 0 clean, 1 data or config problems found, 2 usage error (a missing optional dependency too, with
its install command), 70 internal error (a bug: the command line, the input position when known and a
bug-report hint are printed), 130 interrupted. See docs/reliability.md.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from vlmdata import __version__

app = typer.Typer(
    name="vlmdata",
    help="Validate, augment, fuse, audit and train on dense-caption and grounding data for vision-language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"vlmdata {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """vlmdata command line."""


def _register_commands() -> None:
    from vlmdata.cli._skin import apply

    package_path = os.path.dirname(__file__)
    for info in sorted(pkgutil.iter_modules([package_path]), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(app)
    apply(app)  # one skin: readable help for every command


_register_commands()


def _print_error(text: str) -> None:
    from rich.console import Console
    from rich.text import Text

    # The message is plain text: `[train]` or `[1, 2]` inside it must not be read as rich markup.
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text.assemble(("error ", "bold red"), text))


def _command_line(argv: list[str] | None) -> str:
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    text = shlex.join(["vlmdata", *args])
    return text if len(text) <= 400 else text[:397] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code has one meaning per value (`vlmdata.errors`: 0, 1, 2, 70, 130)."""
    debug = os.environ.get("VLMDATA_DEBUG") == "1"
    verbose = os.environ.get("VLMDATA_VERBOSE")  # `--verbose` sets it for one command (set_verbose)
    try:
        return _run(argv, debug)
    finally:
        if verbose is None:
            os.environ.pop("VLMDATA_VERBOSE", None)
        else:
            os.environ["VLMDATA_VERBOSE"] = verbose


def _run(argv: list[str] | None, debug: bool) -> int:
    from vlmdata.errors import (
        EXIT_INTERNAL,
        EXIT_USAGE,
        VlmdataError,
        internal_error_message,
        missing_dependency,
    )

    try:
        result = app(args=argv, prog_name="vlmdata", standalone_mode=False)
        if isinstance(result, int):  # click returns the code of `typer.Exit(code)` when not standalone
            return result
    except VlmdataError as exc:
        if debug:
            raise
        _print_error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # click usage errors, missing optional modules, and anything unexpected
        # typer ships its own copy of click, so match click's exceptions by shape rather than by class
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # type: ignore[attr-defined]
            return EXIT_USAGE
        if debug:
            raise
        usage = missing_dependency(exc)
        if usage is not None:
            _print_error(str(usage))
            return usage.exit_code
        _print_error(internal_error_message(exc, _command_line(argv)))
        return EXIT_INTERNAL
    return 0


def entry() -> None:
    sys.exit(main())
