"""`vlmdata report DATASET… --out DIR`: one self-contained HTML page about the data, to open in a browser."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_folder_option


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        datasets: list[Path] = typer.Argument(
            ...,
            help="Dataset folders, or `validate --out` folders (their rejects and warnings are shown too).",
            show_default=False,
            metavar="DATASET…",
        ),
        out: Path = out_folder_option("Output folder; the page is OUT/index.html."),
        audit: Path = typer.Option(
            None,
            "--audit",
            metavar="FILE",
            help="An audit report (`vlmdata audit --out report.json`): token-length histogram.",
        ),
        gallery: int = typer.Option(48, "--gallery", help="Records in the gallery (0: none)."),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Counts per source, category / geometry / image-size / token-length distributions, the validate
        run's rejects and warnings, and a filterable gallery with geometry drawn over the images."""
        from vlmdata.cli._progress import progress_bar
        from vlmdata.cli._render import show
        from vlmdata.errors import UsageError
        from vlmdata.viz.report import write_report

        if audit is not None and not audit.is_file():
            raise UsageError(
                f"audit report not found: {audit}", hint="pass the JSON `vlmdata audit --out` wrote"
            )
        with progress_bar("reading", len(datasets), fmt=fmt, unit="datasets", min_total=2) as advance:
            result = write_report(datasets, out, audit=audit, gallery=gallery, progress=advance)
        lines = [
            f"{result['records']} records, {result['objects']} objects in {len(result['sources'])} source(s), "
            f"{result['categories']} categories; {result['rejected']} rejected and {result['warned']} warned "
            f"line(s) listed; {result['gallery']} records in the gallery",
            f"open {result['out']} in a browser (one self-contained file, {result['bytes'] // 1024} KiB)",
        ]
        show(fmt, result, lines)
