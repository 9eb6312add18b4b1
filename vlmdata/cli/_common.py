"""Options and output helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_OPTION = typer.Option(..., "--config", "-c", help="YAML config file.", exists=False, dir_okay=False)
OUT_OPTION = typer.Option(..., "--out", "-o", help="Output folder (written atomically).")
FORMAT_OPTION = typer.Option("table", "--format", help="Output format: table (rich, default) or json.")
WORKERS_OPTION = typer.Option(
    None,
    "--workers",
    "-j",
    help="Worker processes (default: every core this process may use). The output is the same for any count.",
    show_default=False,
)
ENGINE_OPTION = typer.Option(
    "local", "--engine", help="local (worker processes on this machine) or ray (tasks on a Ray cluster)."
)
RAY_ADDRESS_OPTION = typer.Option(
    None,
    "--ray-address",
    help="Ray cluster to use with --engine ray (default: $RAY_ADDRESS, else a local Ray instance).",
    show_default=False,
)


def console(stderr: bool = False):  # noqa: ANN201 - rich is imported lazily
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


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


def engine_options(workers: int | None, engine: str, ray_address: str | None):  # noqa: ANN201
    """`--workers/--engine/--ray-address` as the library's `EngineOptions` (checked there)."""
    from vlmdata.io.engine import EngineOptions

    return EngineOptions(workers=workers, engine=engine, ray_address=ray_address)
