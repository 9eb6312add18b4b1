"""`vlmdata summarize`: build the BBU/RRU summary JSON from objects for records that lack it."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format


def register(app: typer.Typer) -> None:
    @app.command("summarize")
    def summarize(
        source: Path = typer.Argument(
            ..., metavar="DATA.jsonl|DATASET", help="A contract JSONL file or a dataset folder."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", metavar="PATH", help="Output of the input's form (a file or a folder)."
        ),
        domain: str = typer.Option(
            None, "--domain", help="BBU or RRU for every record (default: metadata.domain)."
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Rebuild summaries that are already present."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Fill missing `summary` fields from the objects' descs; existing summaries are validated and kept."""
        from vlmdata.cli._render import show
        from vlmdata.render.summarize import summarize_path

        result = summarize_path(source, out, domain=domain, overwrite=overwrite)
        line = (
            f"{result.records} records: {result.built} built, {result.kept} kept, {result.irrelevant} irrelevant"
            + (f" → {out}" if not result.problems else "")
        )
        show(fmt, {**result.as_dict(), "problems": result.problems}, [line])
        if result.problems:
            from vlmdata.errors import VlmdataError

            first = result.problems[0]
            raise VlmdataError(
                first.split(" ", 1)[0],
                f"{len(result.problems)} problem(s), nothing written",
                hint="fix the records listed and run again",
                details=result.problems,
            )
