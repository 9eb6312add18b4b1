"""The one CLI skin: shared options and readable help for every command.

Every command is built with `SkinCommand`, so `--help` shows an argument as its metavar alone (`DATASET...`,
not `{datasets}... <list[Path]>`), and an option without an explicit metavar as a plain word (`N`, `X`,
`TEXT`, `PATH`) or its choices (`[table|json]`) instead of Python type names. The shared options
(`--format`, `--out`, `--config`) are defined here once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import typer
from typer.core import TyperCommand

Format = Literal["table", "json"]

FORMAT_OPTION: Any = typer.Option(
    "table", "--format", metavar="[table|json]", help="Output format: table (default) or json."
)
CONFIG_OPTION: Any = typer.Option(
    ..., "--config", "-c", metavar="FILE", help="YAML config file.", exists=False, dir_okay=False
)


WORKERS_OPTION: Any = typer.Option(
    None,
    "--workers",
    "-j",
    metavar="N",
    help="Worker processes (default: every core this process may use). The output is the same for any count.",
    show_default=False,
)
ENGINE_OPTION: Any = typer.Option(
    "local",
    "--engine",
    metavar="[local|ray]",
    help="local (worker processes on this machine) or ray (tasks on a Ray cluster).",
)
RAY_ADDRESS_OPTION: Any = typer.Option(
    None,
    "--ray-address",
    metavar="ADDRESS",
    help="Ray cluster to use with --engine ray (default: $RAY_ADDRESS, else a local Ray instance).",
    show_default=False,
)


def engine_options(workers: int | None, engine: str, ray_address: str | None) -> Any:
    """`--workers/--engine/--ray-address` as the library's `EngineOptions` (checked there)."""
    from vlmdata.io.engine import EngineOptions

    return EngineOptions(workers=workers, engine=engine, ray_address=ray_address)


def template_ref_option(
    help_text: str = "Template (name or template YAML file) for records that name none; default: the run "
    "config's, else grounding.",
) -> Any:
    """`--template NAME|FILE`: a template for records that do not name their own (`template_option` resolves it)."""
    return typer.Option(None, "--template", metavar="NAME|FILE", help=help_text)


def run_config_option(help_text: str) -> Any:
    """`--config FILE`, optional: the run config a command reads its template section from."""
    return typer.Option(None, "--config", "-c", metavar="FILE", help=help_text)


def out_folder_option(help_text: str, default: Any = ...) -> Any:
    """`--out DIR` for commands that write a folder (the `--out` rule of `vlmdata.io.output`)."""
    return typer.Option(default, "--out", "-o", metavar="DIR", help=help_text)


def out_file_option(help_text: str, default: Any = ...) -> Any:
    """`--out FILE` for commands that write one file (the `--out` rule of `vlmdata.io.output`)."""
    return typer.Option(default, "--out", "-o", metavar="FILE", help=help_text)


_WORDS = {"int": "N", "float": "X", "str": "TEXT", "path": "PATH", "file": "FILE", "directory": "DIR"}


def _word(display: str) -> str:
    inner = display[1:-1] if display.startswith("<") and display.endswith(">") else display
    inner = inner.removesuffix("...")
    list_of = re.fullmatch(r"list\[(.*)\]", inner)
    if list_of:
        inner = list_of.group(1)
    inner = inner.removesuffix(" range")  # a bounded int/float: the bound is shown in the help text
    if "|" in inner:
        return f"[{inner}]"
    return _WORDS.get(inner.lower(), inner.upper())


def _tidy(param: Any, ctx_free: Any) -> None:
    if getattr(param, "param_type_name", None) == "argument":
        label = param.metavar or param.name.upper() + ("..." if param.nargs != 1 else "")
        usage = label if param.required else f"[{label}]"
        param.metavar = label
        param.display_type_rich = lambda ctx: None
        param._rich_display_name = lambda: label
        param._usage_display_name = lambda: usage
    elif getattr(param, "param_type_name", None) == "option" and not (param.is_flag or param.count):
        if param.metavar is None:
            param.metavar = _word(param.display_type(ctx_free))


class SkinCommand(TyperCommand):
    """A Typer command whose help shows readable metavars (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            from typer import _click  # typer's own copy of click (typer >= 0.29)

            ctx = _click.Context(self)
            for param in self.params:
                _tidy(param, ctx)
        except (ImportError, AttributeError):
            pass  # another typer: its own metavars in --help; the command itself is the same


def apply(app: typer.Typer) -> None:
    """Build every command of `app` (and of its sub-apps) with `SkinCommand`."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:
            info.cls = SkinCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            apply(group.typer_instance)


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


def set_verbose(verbose: bool) -> None:
    """`--verbose`: the libraries' own console output stays on the console. Set for the rest of the process
    (torchrun workers started by this command inherit it); `vlmdata.cli.main` restores it afterwards."""
    import os

    from vlmdata.train.quiet import VERBOSE_ENV

    if verbose:
        os.environ[VERBOSE_ENV] = "1"
