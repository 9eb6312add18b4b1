"""`vlmdata fuse`: write one epoch of a fusion config as an Arrow dataset plus manifest, or print its plan."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("fuse")
    def fuse(
        config_path: Path = typer.Argument(
            None, metavar="FUSION.yaml", help="Fusion config YAML (or pass --config).", show_default=False
        ),
        config: Path = typer.Option(None, "--config", "-c", help="Fusion config YAML.", dir_okay=False),
        out: Path = typer.Option(
            None, "--out", "-o", help="Output folder: OUT/data (Arrow dataset) + OUT/manifest.json."
        ),
        epoch: int = typer.Option(0, "--epoch", "-e", min=0, help="Epoch whose plan is written."),
        plan: bool = typer.Option(
            False, "--plan", help="Print the per-entry counts without writing anything."
        ),
        fmt: str = typer.Option("table", "--format", help="Output format: table (rich, default) or json."),
    ) -> None:
        """Mix target and source datasets with exact per-entry quotas, deterministically."""
        import json

        from vlmdata.cli._common import require_exists
        from vlmdata.errors import UsageError
        from vlmdata.fuse import fuse_epoch, load_fusion_config, plan_only

        path = config_path or config
        if path is None or (config_path is not None and config is not None):
            raise UsageError("pass the fusion config once, as an argument or with --config")
        if fmt not in ("table", "json"):
            raise UsageError(f"unknown --format {fmt!r}", hint="use table or json")
        if not plan and out is None:
            raise UsageError("--out is required unless --plan is given")
        require_exists(path, "fusion config")
        cfg = load_fusion_config(path)
        if plan:
            result = plan_only(cfg, epoch)
        else:
            result = _fuse_with_progress(fuse_epoch, cfg, out, epoch, fmt)
        if fmt == "json":
            rows = [vars(e) for e in result.entries]
            typer.echo(
                json.dumps(
                    {
                        "epoch": epoch,
                        "seed": cfg.seed,
                        "total": result.total,
                        "entries": rows,
                        "out": None if plan else str(out),
                    }
                )
            )
            return
        _print_table(cfg, result, epoch, None if plan else out)


def _fuse_with_progress(fuse_epoch, cfg, out: Path, epoch: int, fmt: str):  # noqa: ANN001, ANN202 - lazily imported
    """The shared transient progress bar (terminal, table output only); a plain call otherwise."""
    from vlmdata.cli._progress import progress_bar

    done = [0]

    def report(written: int, total: int) -> None:
        advance(written - done[0], total=total)
        done[0] = written

    with progress_bar("fusing", None, fmt=fmt) as advance:
        return fuse_epoch(cfg, out, epoch, progress=report)


def _print_table(cfg, result, epoch: int, out: Path | None) -> None:  # noqa: ANN001 - lazily imported types
    from rich import box
    from rich.table import Table

    from vlmdata.cli._common import console

    table = Table(
        title=f"fusion plan · seed {cfg.seed} · epoch {epoch} · {cfg.interleave}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col, justify in (
        ("entry", "left"),
        ("domain", "left"),
        ("template", "left"),
        ("pool", "right"),
        ("ratio", "right"),
        ("quota", "right"),
        ("realised", "right"),
        ("passes", "right"),
        ("share", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.columns[0].min_width = max([5, *(len(e.name) for e in result.entries)])
    table.columns[2].min_width = max([8, *(len(e.template) for e in result.entries)])
    total = max(result.total, 1)
    for e in result.entries:
        table.add_row(
            e.name,
            e.domain,
            e.template,
            f"{e.pool:,}",
            f"{e.ratio:g}",
            f"{e.quota:,}",
            f"{e.realised:,}",
            f"{e.passes:.2f}",
            f"{100 * e.quota / total:.1f}%",
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        f"{sum(e.pool for e in result.entries):,}",
        "",
        f"{result.total:,}",
        f"{sum(e.realised for e in result.entries):,}",
        "",
        "100%",
    )
    con = console()
    if not con.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        con.width = max(con.width, 120)
    con.print(table)
    if out is not None:
        con.print(f"wrote {result.total:,} records to {out / 'data'} and {out / 'manifest.json'}")
    else:
        con.print("plan only: nothing written")
