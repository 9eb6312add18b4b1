"""`vlmdata augment`: offline coordinate-aware augmentation of an Arrow dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import FORMAT_OPTION, console, require_exists


def register(app: typer.Typer) -> None:
    @app.command("augment")
    def augment(
        in_dataset: Path = typer.Argument(
            ..., help="A vlmdata Arrow dataset folder (e.g. the `data/` written by validate)."
        ),
        config: Path = typer.Option(
            ...,
            "--config",
            "-c",
            help="Augmentation YAML (the section itself or a train config with `augmentation:`).",
        ),
        out: Path = typer.Option(
            ...,
            "--out",
            "-o",
            help="Output folder (replaced atomically): images/, data.jsonl, data/, report.json.",
        ),
        copies: int = typer.Option(
            1, "--copies", "-n", help="Augmented copies per record (copy k uses epoch k)."
        ),
        seed: int | None = typer.Option(None, "--seed", help="Override the config's seed."),
        step: int | None = typer.Option(
            None, "--step", help="Training step for a curriculum config (default: the config's own values)."
        ),
        total_steps: int | None = typer.Option(
            None,
            "--total-steps",
            help="Total training steps, to resolve a curriculum's until_fraction with --step.",
        ),
        image_format: str = typer.Option(
            "auto", "--image-format", help="auto (PNG stays PNG, else JPEG q95), jpg or png."
        ),
        max_image_pixels: int = typer.Option(
            89_478_485,
            "--max-image-pixels",
            help="Decompression-bomb limit on width × height (as validate's); larger images skip their record.",
        ),
        fmt: str = FORMAT_OPTION,
    ) -> None:
        """Augment every record (images + geometry together) into a new dataset that points back at its source."""
        import json

        from vlmdata.augment.offline import augment_dataset
        from vlmdata.errors import UsageError

        require_exists(in_dataset, "input dataset")
        require_exists(config, "config")
        if max_image_pixels < 1:
            raise UsageError("--max-image-pixels must be positive")
        if image_format not in ("auto", "jpg", "png"):
            raise UsageError(f"--image-format must be auto, jpg or png, got {image_format!r}")
        result = augment_dataset(
            config,
            in_dataset,
            out,
            copies=copies,
            seed=seed,
            step=step,
            total_steps=total_steps,
            image_format=image_format,  # type: ignore[arg-type]
            max_image_pixels=max_image_pixels,
        )
        if fmt == "json":
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            if result.problems:
                raise typer.Exit(1)
            return
        from rich.table import Table

        table = Table(title=f"augmented → {result.out}")
        table.add_column("what")
        table.add_column("count", justify="right")
        rows = [
            ("records in", result.records_in),
            ("copies per record", result.copies),
            ("records out", result.records_out),
        ]
        rows += [(f"dropped objects: {k}", v) for k, v in result.dropped.items()]
        rows += [
            ("lines split into pieces", result.split),
            ("boxes turned into polygons", result.converted_to_poly),
        ]
        rows += [("descs rewritten (visibility)", result.rewritten), ("copies bypassed", result.bypassed)]
        rows += [("chat records (images augmented, messages kept)", result.chat_records)]
        rows += [(f"skipped: {k}", v) for k, v in result.skipped.items()]
        for name, value in rows:
            table.add_row(name, str(value))
        console().print(table)
        if result.problems:  # data problems found: the rest is written, the examples are in report.json
            console().print(
                f"{result.problems} record(s) skipped for their data: see {result.out}/report.json"
            )
            raise typer.Exit(1)
