"""`vlmdata summarize`: build the BBU/RRU summary JSON from objects for records that lack it."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import FORMAT_OPTION, console


def register(app: typer.Typer) -> None:
    @app.command("summarize")
    def summarize(
        source: Path = typer.Argument(..., help="A contract JSONL file or a vlmdata Arrow dataset folder."),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output (same form as the input), written atomically."
        ),
        domain: str = typer.Option(
            None, "--domain", help="BBU or RRU for every record (default: metadata.domain)."
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Rebuild summaries that are already present."
        ),
        fmt: str = FORMAT_OPTION,
    ) -> None:
        """Fill missing `summary` fields from the objects' descs; existing summaries are validated and kept."""
        import json

        from vlmdata.render.summarize import summarize_path

        result = summarize_path(source, out, domain=domain, overwrite=overwrite)
        if fmt == "json":
            typer.echo(
                json.dumps({**result.as_dict(), "problems": result.problems}, ensure_ascii=False, indent=2)
            )
        else:
            console().print(
                f"{result.records} records: {result.built} built, {result.kept} kept, {result.irrelevant} irrelevant"
                + (f" → {out}" if not result.problems else "")
            )
        if result.problems:
            from vlmdata.errors import VlmdataError

            first = result.problems[0]
            raise VlmdataError(
                first.split(" ", 1)[0],
                f"{len(result.problems)} problem(s), nothing written",
                hint="fix the records listed and run again",
                details=result.problems,
            )
