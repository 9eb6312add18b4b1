"""`vlmdata augment`: offline coordinate-aware augmentation of an Arrow dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer

from vlmdata.cli._skin import (
    ENGINE_OPTION,
    FORMAT_OPTION,
    RAY_ADDRESS_OPTION,
    WORKERS_OPTION,
    Format,
    out_folder_option,
    require_exists,
)


def register(app: typer.Typer) -> None:
    @app.command("augment")
    def augment(
        in_dataset: Path = typer.Argument(
            ..., metavar="DATASET", help="A dataset folder (or a `validate --out` folder)."
        ),
        config: Path = typer.Option(
            ...,
            "--config",
            "-c",
            metavar="FILE",
            help="Augmentation YAML (the section itself or a train config with `augmentation:`).",
        ),
        out: Path = out_folder_option("Output folder: images/, data.jsonl, data/, report.json."),
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
        image_format: Literal["auto", "jpg", "png"] = typer.Option(
            "auto",
            "--image-format",
            metavar="[auto|jpg|png]",
            help="auto (PNG stays PNG, else JPEG q95), jpg or png.",
        ),
        max_image_pixels: int = typer.Option(
            89_478_485,
            "--max-image-pixels",
            help="Decompression-bomb limit on width × height (as validate's); larger images skip their record.",
        ),
        fmt: Format = FORMAT_OPTION,
        workers: int | None = WORKERS_OPTION,
        engine: str = ENGINE_OPTION,
        ray_address: str | None = RAY_ADDRESS_OPTION,
    ) -> None:
        """Augment every record (images + geometry together) into a new dataset that points back at its source."""
        from vlmdata.augment.offline import augment_dataset
        from vlmdata.cli._render import print_blocks, show
        from vlmdata.cli._skin import engine_options
        from vlmdata.errors import UsageError

        require_exists(in_dataset, "input dataset")
        require_exists(config, "config")
        if max_image_pixels < 1:
            raise UsageError("--max-image-pixels must be positive")
        result = augment_dataset(
            config,
            in_dataset,
            out,
            copies=copies,
            seed=seed,
            step=step,
            total_steps=total_steps,
            image_format=image_format,
            max_image_pixels=max_image_pixels,
            engine=engine_options(workers, engine, ray_address),
        )
        show(fmt, result.as_dict(), _blocks(result))
        if result.problems:  # data problems found: the rest is written, the examples are in report.json
            if fmt == "table":
                print_blocks(
                    [f"{result.problems} record(s) skipped for their data: see {result.out}/report.json"]
                )
            raise typer.Exit(1)


def _blocks(result: Any) -> list[Any]:
    from vlmdata.cli._render import Col, Table

    table = Table(f"augmented → {result.out}", ["what", Col("count", True)])
    rows = [
        ("records in", result.records_in),
        ("copies per record", result.copies),
        ("records out", result.records_out),
    ]
    rows += [(f"dropped objects: {k}", v) for k, v in result.dropped.items()]
    rows += [
        ("lines split into pieces", result.split),
        ("boxes turned into polygons", result.converted_to_poly),
        ("descs rewritten (visibility)", result.rewritten),
        ("copies bypassed", result.bypassed),
        ("chat records (images augmented, messages kept)", result.chat_records),
    ]
    rows += [(f"skipped: {k}", v) for k, v in result.skipped.items()]
    table.rows += [[name, str(value)] for name, value in rows]
    return [table]
