"""`vlmdata export`: a dataset as ms-swift JSONL, COCO instances JSON or LLaMA-Factory sharegpt JSON.

Here `--format` names the file format written (`swift`, `coco`, `llamafactory`), as the other tools' own
exporters spell it; the printed result is lines of text, or JSON with `--json` (docs/cli.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from vlmdata.cli._skin import out_file_option, run_config_option, template_ref_option

ExportFormat = Literal["swift", "coco", "llamafactory"]


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        dataset: Path = typer.Argument(
            ..., metavar="DATASET", help="A dataset folder (or a `validate --out` folder)."
        ),
        out: Path = out_file_option("Output file, written atomically."),
        fmt: ExportFormat = typer.Option(
            "swift",
            "--format",
            metavar="[swift|coco|llamafactory]",
            help="swift (JSONL for `swift sft`), coco (instances JSON) or llamafactory (sharegpt JSON).",
        ),
        config: Path = run_config_option(
            "Run config: template name and system prompt (swift, llamafactory)."
        ),
        template: str = template_ref_option(
            "swift, llamafactory: template (name or template YAML file) for records that do not name their own."
        ),
        image_root: Path = typer.Option(
            None,
            "--image-root",
            metavar="DIR",
            help="coco: write file names relative to this folder (default: absolute).",
        ),
        name: str = typer.Option(
            None,
            "--name",
            metavar="NAME",
            help="llamafactory: the dataset name in dataset_info.json (default: OUT's stem).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Export a dataset for another trainer or tool (docs/templates.md, docs/import.md)."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import require_exists, template_option
        from vlmdata.errors import UsageError
        from vlmdata.export import export_dataset

        require_exists(dataset, "dataset")
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
        if fmt == "coco":
            skipped = ", ".join(f"{k}: {v}" for k, v in sorted(result.skipped.items())) or "none"
            lines = [
                f"exported {result.images} images, {result.annotations} annotations, "
                f"{result.categories} categories → {out} (skipped: {skipped})"
            ]
        else:
            per = ", ".join(f"{k}: {v}" for k, v in sorted(result.templates.items()))
            lines = [f"exported {result.records} records ({result.images} images; {per}) → {out}"]
        if fmt == "llamafactory":
            lines.append(
                f"registered as {result.name!r} in {result.dataset_info}; train with `dataset: {result.name}`"
            )
            if result.records_with_own_pixel_bounds:
                lines.append(
                    f"{result.records_with_own_pixel_bounds} record(s) carry their own pixel bounds, which "
                    "LLaMA-Factory cannot express per sample (use image_max_pixels / image_min_pixels)"
                )
        elif fmt == "swift":
            lines.append(
                "train on it with plain ms-swift (the env makes its image resize match `vlmdata audit`):"
            )
            lines.append(f"  {result.swift_command()}")
        show("json" if as_json else "table", result.as_dict(), lines)
