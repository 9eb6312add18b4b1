"""`vlmdata validate`: check JSONL files against the record contract and write the valid records as Arrow."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import FORMAT_OPTION, OUT_OPTION

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
    ) -> None:
        """Validate records (lines, schema, geometry, images, conversation, dataset); write OUT/data, rejects, report."""
        from vlmdata.cli._common import console
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
        )
        from vlmdata.cli._progress import progress_bar

        total = sum(p.stat().st_size for p in [*data, *val] if p.is_file())
        con = console(stderr=fmt == "json")
        with progress_bar(
            "validating", total, fmt=fmt, min_total=PROGRESS_MIN_BYTES, in_bytes=True
        ) as advance:
            options.progress = advance
            report = validate_files(data, out, options)
        if fmt == "json":
            import json

            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            report.render(con)
        raise typer.Exit(report.exit_code)
