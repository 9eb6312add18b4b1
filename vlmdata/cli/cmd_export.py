"""`vlmdata export`: a dataset as ms-swift standard JSONL (`messages` + `images`) for plain `swift sft`."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_file_option


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        dataset: Path = typer.Argument(
            ..., metavar="DATASET", help="A dataset folder (or a `validate --out` folder)."
        ),
        out: Path = out_file_option("Output JSONL file, written atomically."),
        config: Path = typer.Option(
            None, "--config", "-c", metavar="FILE", help="Run config: template name and system prompt."
        ),
        template: str = typer.Option(
            None,
            "--template",
            metavar="NAME|FILE",
            help="Template (name or template YAML file) for records that do not name their own.",
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Write one `{"messages": [...], "images": [...]}` line per record, as `swift sft --dataset` reads."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import require_exists, template_option
        from vlmdata.export import export_dataset

        require_exists(dataset, "dataset")
        result = export_dataset(dataset, out, template=template_option(template), config=config)
        per = ", ".join(f"{k}: {v}" for k, v in sorted(result.templates.items()))
        lines = [
            f"exported {result.records} records ({result.images} images; {per}) → {out}",
            "train on it with plain ms-swift (the env makes its image resize match `vlmdata audit`):",
            f"  {result.swift_command()}",
        ]
        show(fmt, result.as_dict(), lines)
