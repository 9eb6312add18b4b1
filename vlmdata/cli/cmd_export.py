"""`vlmdata export`: a dataset as ms-swift JSONL, COCO instances JSON or LLaMA-Factory sharegpt JSON."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        dataset: Path = typer.Argument(..., help="A vlmdata Arrow dataset folder."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file, written atomically."),
        fmt: str = typer.Option(
            "swift", "--format", help="swift (JSONL for `swift sft`), coco (instances JSON) or llamafactory."
        ),
        config: Path = typer.Option(
            None, "--config", "-c", help="Run config: template name and system prompt (swift, llamafactory)."
        ),
        template: str = typer.Option(
            None,
            "--template",
            help="swift, llamafactory: template (name or template YAML file) for records that do not name their own.",
        ),
        image_root: Path = typer.Option(
            None, "--image-root", help="coco: write file names relative to this folder (default: absolute)."
        ),
        name: str = typer.Option(
            None, "--name", help="llamafactory: the dataset name in dataset_info.json (default: OUT's stem)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Export a dataset for another trainer or tool (docs/templates.md, docs/import.md)."""
        import json

        from vlmdata.cli._common import console, require_exists, template_option
        from vlmdata.errors import UsageError
        from vlmdata.export import FORMATS, export_dataset

        require_exists(dataset, "dataset")
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if fmt == "coco" and (template is not None or config is not None):
            raise UsageError(
                "--template/--config do not apply to --format coco (it exports objects, not text)"
            )
        if fmt != "coco" and image_root is not None:
            raise UsageError("--image-root applies to --format coco only")
        if fmt != "llamafactory" and name is not None:
            raise UsageError("--name applies to --format llamafactory only")
        result = export_dataset(
            dataset,
            out,
            template=template_option(template),
            config=config,
            fmt=fmt,
            image_root=image_root,
            name=name,
        )
        if as_json:
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
            return
        con = console()
        if fmt == "coco":
            skipped = ", ".join(f"{k}: {v}" for k, v in sorted(result.skipped.items())) or "none"
            con.print(
                f"exported {result.images} images, {result.annotations} annotations, "
                f"{result.categories} categories → {out} (skipped: {skipped})"
            )
            return
        per = ", ".join(f"{k}: {v}" for k, v in sorted(result.templates.items()))
        con.print(f"exported {result.records} records ({result.images} images; {per}) → {out}")
        if fmt == "llamafactory":
            con.print(
                f"registered as {result.name!r} in {result.dataset_info}; train with `dataset: {result.name}`"
            )
            if result.records_with_own_pixel_bounds:
                con.print(
                    f"{result.records_with_own_pixel_bounds} record(s) carry their own pixel bounds, which "
                    "LLaMA-Factory cannot express per sample (use image_max_pixels / image_min_pixels)"
                )
            return
        con.print("train on it with plain ms-swift (the env makes its image resize match `vlmdata audit`):")
        con.print(f"  {result.swift_command()}")
