"""`vlmdata summarize`: build the BBU/RRU summary JSON from objects for records that lack it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        image_root: Path = typer.Option(
            None,
            "--image-root",
            help="Folder the input's relative image paths start from (default: its folder).",
        ),
        absolute_paths: bool = typer.Option(
            False,
            "--absolute-paths",
            help="Write image paths absolute (default: relative to the output file's folder).",
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Fill missing `summary` fields from the objects' descs; existing summaries are validated and kept."""
        from vlmdata.cli._render import Styled, show
        from vlmdata.render.summarize import summarize_path

        result = summarize_path(
            source,
            out,
            domain=domain,
            overwrite=overwrite,
            image_root=image_root,
            absolute_paths=absolute_paths,
        )
        lines: list[Any] = [
            f"{result.records} records: {result.built} built, {result.kept} kept, {result.irrelevant} irrelevant"
            + (f", {result.chat} chat" if result.chat else "")
            + (f" → {out}" if not result.problems else ""),
            f"{result.images_checked} image reference(s) checked from the output's folder"
            + (f", {result.relocated} record(s) rewritten for it" if result.relocated else ""),
        ]
        if result.images_outside:
            lines.append(
                f"note: {result.images_outside} image reference(s) lie outside {out.parent}; "
                "`vlmdata validate` confines images to the JSONL's folder, so validate this file with "
                "--allow-outside-root"
            )
        if result.missing_images:
            lines.append(
                Styled(
                    f"warning: {len(result.missing_images)} image reference(s) did not resolve in the input "
                    "either (first: " + "; ".join(result.missing_images[:3]) + ")",
                    "yellow",
                )
            )
        payload = {**result.as_dict(), "problems": result.problems, "missing": result.missing_images[:20]}
        show(fmt, payload, lines)
        if result.problems:
            from vlmdata.errors import VlmdataError

            first = result.problems[0]
            raise VlmdataError(
                first.split(" ", 1)[0],
                f"{len(result.problems)} problem(s), nothing written",
                hint="fix the records listed and run again",
                details=result.problems,
            )
