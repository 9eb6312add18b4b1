"""`vlmdata export`: a dataset as ms-swift standard JSONL (`messages` + `images`) for plain `swift sft`."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import FORMAT_OPTION, console


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        dataset: Path = typer.Argument(..., help="A vlmdata Arrow dataset folder."),
        out: Path = typer.Option(..., "--out", "-o", help="Output JSONL file, written atomically."),
        config: Path = typer.Option(
            None, "--config", "-c", help="Run config: template name and system prompt."
        ),
        template: str = typer.Option(
            None,
            "--template",
            help="Template (name or template YAML file) for records that do not name their own.",
        ),
        fmt: str = FORMAT_OPTION,
    ) -> None:
        """Write one `{"messages": [...], "images": [...]}` line per record, as `swift sft --dataset` reads."""
        import json

        from vlmdata.cli._common import require_exists, template_option
        from vlmdata.export import export_dataset

        require_exists(dataset, "dataset")
        result = export_dataset(dataset, out, template=template_option(template), config=config)
        if fmt == "json":
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
            return
        per = ", ".join(f"{k}: {v}" for k, v in sorted(result.templates.items()))
        con = console()
        con.print(f"exported {result.records} records ({result.images} images; {per}) → {out}")
        con.print("train on it with plain ms-swift (the env makes its image resize match `vlmdata audit`):")
        con.print(f"  {result.swift_command()}")
