"""`vlmdata validate`: check JSONL files against the record contract and write the valid records as Arrow."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import (
    ENGINE_OPTION,
    FORMAT_OPTION,
    OUT_OPTION,
    RAY_ADDRESS_OPTION,
    WORKERS_OPTION,
)

PROGRESS_MIN_BYTES = 64 << 20  # show a progress bar for inputs at least this large (on a terminal)


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        data: list[Path] = typer.Argument(..., help="JSONL files (one record per line).", show_default=False),
        out: Path = OUT_OPTION,
        image_root: Path | None = typer.Option(
            None,
            "--image-root",
            help="Folder relative image paths resolve against (default: each JSONL's folder); images must stay inside it.",
        ),
        allow_extra: bool = typer.Option(
            False, "--allow-extra", help="Move unknown keys into metadata instead of rejecting the record."
        ),
        no_image_check: bool = typer.Option(
            False,
            "--no-image-check",
            help="Skip reading image headers (paths are still resolved and confined).",
        ),
        allow_outside_root: bool = typer.Option(
            False, "--allow-outside-root", help="Accept image paths that resolve outside the root."
        ),
        val: list[Path] = typer.Option(
            [],
            "--val",
            help="Validation-split JSONL (repeatable); written to OUT/val, checked for image overlap with train.",
        ),
        fmt: str = FORMAT_OPTION,
        max_image_pixels: int = typer.Option(
            89_478_485, "--max-image-pixels", help="Decompression-bomb limit on width × height."
        ),
        max_line_bytes: int = typer.Option(
            64 << 20, "--max-line-bytes", help="Longest accepted line in bytes."
        ),
        workers: int | None = WORKERS_OPTION,
        engine: str = ENGINE_OPTION,
        ray_address: str | None = RAY_ADDRESS_OPTION,
    ) -> None:
        """Validate records (lines, schema, geometry, images, conversation, dataset); write OUT/data, rejects, report."""
        import sys

        from vlmdata.cli._common import console, engine_options
        from vlmdata.errors import UsageError
        from vlmdata.validate import ValidateOptions, validate_files

        if fmt not in ("table", "json"):
            raise UsageError(f"--format must be table or json, got {fmt!r}")
        options = ValidateOptions(
            image_root=image_root,
            allow_extra=allow_extra,
            image_check=not no_image_check,
            allow_outside_root=allow_outside_root,
            val=val,
            max_image_pixels=max_image_pixels,
            max_line_bytes=max_line_bytes,
            engine=engine_options(workers, engine, ray_address),
        )
        total = sum(p.stat().st_size for p in [*data, *val] if p.is_file())
        con = console(stderr=fmt == "json")
        if fmt == "table" and total >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            with Progress(
                "validating",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console(stderr=True),
                transient=True,
            ) as bar:
                task = bar.add_task("validate", total=total)
                options.progress = lambda n: bar.advance(task, n)
                report = validate_files(data, out, options)
        else:
            report = validate_files(data, out, options)
        if fmt == "json":
            import json

            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            report.render(con)
        raise typer.Exit(report.exit_code)
