"""`vlmdata render`: draw records with their geometry as PNGs plus an HTML contact sheet."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, WORKERS_OPTION, Format, out_folder_option, require_exists


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        dataset: Path = typer.Argument(
            ..., metavar="DATASET", help="A dataset folder (or a `validate --out` folder)."
        ),
        out: Path = out_folder_option("Output folder: PNGs + index.html."),
        n: int = typer.Option(16, "--n", help="How many records (the first N) when --ids is not given."),
        ids: list[str] | None = typer.Option(
            None, "--ids", metavar="ID", help="Record ids to draw (repeat the flag or separate with commas)."
        ),
        max_side: int = typer.Option(
            1024, "--max-side", help="Scale images down so their longer side is at most this."
        ),
        max_image_pixels: int = typer.Option(
            89_478_485,
            "--max-image-pixels",
            help="Decompression-bomb limit on width × height (as validate's); larger images are not decoded.",
        ),
        fmt: Format = FORMAT_OPTION,
        workers: int | None = WORKERS_OPTION,
    ) -> None:
        """Boxes, polygons, polylines and desc labels on the images; before/after pairs for augmented data."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import engine_options
        from vlmdata.viz import render_dataset

        require_exists(dataset, "dataset")
        wanted = [i for chunk in ids or [] for i in chunk.split(",") if i]
        from vlmdata.cli._progress import progress_bar

        total = len(wanted) if wanted else n
        with progress_bar("rendering", total, fmt=fmt, min_total=32) as advance:
            result = render_dataset(
                dataset,
                out,
                n=n,
                ids=wanted or None,
                max_side=max_side,
                max_image_pixels=max_image_pixels,
                progress=advance,
                engine=engine_options(workers, "local", None),
            )
        pairs = f", {result.pairs} before/after pair(s)" if result.pairs else ""
        if result.unreadable:
            pairs += f", {len(result.unreadable)} image(s) not drawn (listed in index.html)"
        font = (result.font or "PIL built-in") + ("" if result.cjk_font else ", no CJK glyphs")
        line = f"rendered {result.records} record(s){pairs} → {result.out}/index.html (font: {font})"
        show(fmt, result.as_dict(), [line])
