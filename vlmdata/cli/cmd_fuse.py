"""`vlmdata fuse`: write one epoch of a fusion config as an Arrow dataset plus manifest, or print its plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_folder_option


def register(app: typer.Typer) -> None:
    @app.command("fuse")
    def fuse(
        config_path: Path = typer.Argument(
            None, metavar="FUSION.yaml", help="Fusion config YAML (or pass --config).", show_default=False
        ),
        config: Path = typer.Option(
            None, "--config", "-c", metavar="FILE", help="Fusion config YAML.", dir_okay=False
        ),
        out: Path = out_folder_option("Output folder: OUT/data (Arrow dataset) + OUT/manifest.json.", None),
        epoch: int = typer.Option(0, "--epoch", "-e", min=0, help="Epoch whose plan is written."),
        plan: bool = typer.Option(
            False, "--plan", help="Print the per-entry counts without writing anything."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Mix target and source datasets with exact per-entry quotas, deterministically."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import require_exists
        from vlmdata.errors import UsageError
        from vlmdata.fuse import fuse_epoch, load_fusion_config, plan_only

        path = config_path or config
        if path is None or (config_path is not None and config is not None):
            raise UsageError("pass the fusion config once, as an argument or with --config")
        if not plan and out is None:
            raise UsageError("--out is required unless --plan is given")
        require_exists(path, "fusion config")
        cfg = load_fusion_config(path)
        if plan:
            result = plan_only(cfg, epoch)
        else:
            result = _fuse_with_progress(fuse_epoch, cfg, out, epoch, fmt)
        data = {
            "epoch": epoch,
            "seed": cfg.seed,
            "total": result.total,
            "entries": [vars(e) for e in result.entries],
            "out": None if plan else str(out),
        }
        show(fmt, data, _blocks(cfg, result, epoch, None if plan else out))


def _fuse_with_progress(fuse_epoch, cfg, out: Path, epoch: int, fmt: str):  # noqa: ANN001, ANN202 - lazily imported
    """The shared transient progress bar (terminal, table output only); a plain call otherwise."""
    from vlmdata.cli._progress import progress_bar

    done = [0]

    def report(written: int, total: int) -> None:
        advance(written - done[0], total=total)
        done[0] = written

    with progress_bar("fusing", None, fmt=fmt) as advance:
        return fuse_epoch(cfg, out, epoch, progress=report)


def _blocks(cfg: Any, result: Any, epoch: int, out: Path | None) -> list[Any]:
    from vlmdata.cli._render import Col, Table

    names = max([5, *(len(e.name) for e in result.entries)])
    templates = max([8, *(len(e.template) for e in result.entries)])
    table = Table(
        f"fusion plan · seed {cfg.seed} · epoch {epoch} · {cfg.interleave}",
        [
            Col("entry", min_width=names),
            "domain",
            Col("template", min_width=templates),
            *(Col(c, True) for c in ("pool", "ratio", "quota", "realised", "passes", "share")),
        ],
    )
    total = max(result.total, 1)
    for e in result.entries:
        table.rows.append(
            [
                e.name,
                e.domain,
                e.template,
                f"{e.pool:,}",
                f"{e.ratio:g}",
                f"{e.quota:,}",
                f"{e.realised:,}",
                f"{e.passes:.2f}",
                f"{100 * e.quota / total:.1f}%",
            ]
        )
    table.footer.append(
        [
            "total",
            "",
            "",
            f"{sum(e.pool for e in result.entries):,}",
            "",
            f"{result.total:,}",
            f"{sum(e.realised for e in result.entries):,}",
            "",
            "100%",
        ]
    )
    if out is not None:
        return [table, f"wrote {result.total:,} records to {out / 'data'} and {out / 'manifest.json'}"]
    return [table, "plan only: nothing written"]
