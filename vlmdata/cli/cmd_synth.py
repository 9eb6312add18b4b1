"""`vlmdata synth OUT --n N --seed S [--corrupt K]`: a deterministic synthetic dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Path = typer.Argument(
            ...,
            metavar="OUT",
            help="Output folder (replaced atomically only when an earlier synth wrote it).",
        ),
        n: int = typer.Option(100, "--n", help="Number of clean records."),
        seed: int = typer.Option(
            0, "--seed", help="Random seed: same n/seed/options give byte-identical output."
        ),
        corrupt: int = typer.Option(
            0, "--corrupt", help="Plant this many records of EACH defect kind (+ corrupt_manifest.json)."
        ),
        domain: Literal["bbu", "rru", "generic", "mixed"] = typer.Option(
            "mixed", "--domain", metavar="[bbu|rru|generic|mixed]", help="Record domain."
        ),
        min_size: int = typer.Option(320, "--min-size", help="Smallest image side in px."),
        max_size: int = typer.Option(2048, "--max-size", help="Largest image side in px."),
        min_objects: int = typer.Option(1, "--min-objects", help="Fewest objects per image."),
        max_objects: int = typer.Option(12, "--max-objects", help="Most objects per image."),
        val_fraction: float = typer.Option(
            0.0, "--val-fraction", help="Share of clean records written to val.jsonl."
        ),
        no_images: bool = typer.Option(
            False, "--no-images", help="Write the records only (fast; validate with --no-image-check)."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Write OUT/data.jsonl and OUT/images/: real JPEG/PNG files with drawn boxes, polygons and polylines."""
        from vlmdata.cli._render import show
        from vlmdata.synth import generate

        result = generate(
            out,
            n,
            seed,
            corrupt,
            domain=domain,
            min_size=min_size,
            max_size=max_size,
            min_objects=min_objects,
            max_objects=max_objects,
            val_fraction=val_fraction,
            images=not no_images,
        )
        summary = {
            "out": str(result.out_dir),
            "records": result.records,
            "val_records": result.val_records,
            "planted": result.planted,
            "images": result.images,
            "kinds": result.kinds,
            "seconds": round(result.seconds, 3),
        }
        kinds = ", ".join(f"{k} {v}" for k, v in result.kinds.items())
        lines = [
            f"wrote {result.records + result.val_records} clean records ({kinds}) and {result.images} images"
            f" in {result.seconds:.1f} s",
            f"  {result.data_path}: {result.records} records",
        ]
        if result.val_path is not None:
            lines.append(f"  {result.val_path}: {result.val_records} records")
        if result.manifest_path is not None:
            lines.append(
                f"planted {result.planted} defective lines ({len(result.defects)} kinds × {corrupt}); "
                f"see {result.manifest_path}"
            )
        show(fmt, summary, lines)
