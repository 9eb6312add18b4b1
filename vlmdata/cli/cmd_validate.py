"""`vlmdata validate`: check JSONL files against the record contract and write the valid records as Arrow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from vlmdata.cli._skin import (
    ENGINE_OPTION,
    FORMAT_OPTION,
    RAY_ADDRESS_OPTION,
    WORKERS_OPTION,
    Format,
    out_folder_option,
)

PROGRESS_MIN_BYTES = 64 << 20  # show a progress bar for inputs at least this large (on a terminal)


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        data: list[Path] = typer.Argument(
            ..., metavar="DATA.jsonl...", help="JSONL files (one record per line).", show_default=False
        ),
        out: Path = out_folder_option("Output folder: OUT/data, OUT/val, rejects, warnings, report."),
        image_root: Path | None = typer.Option(
            None,
            "--image-root",
            metavar="DIR",
            help="Folder relative image paths resolve against (default: each JSONL's folder); images must stay inside it.",
        ),
        allow_extra: bool = typer.Option(
            False, "--allow-extra", help="Move unknown keys into metadata instead of rejecting the record."
        ),
        no_image_check: bool = typer.Option(
            False,
            "--no-image-check",
            help="Skip reading image headers (paths are still resolved and confined).",
        ),
        allow_outside_root: bool = typer.Option(
            False, "--allow-outside-root", help="Accept image paths that resolve outside the root."
        ),
        val: list[Path] = typer.Option(
            [],
            "--val",
            metavar="FILE",
            help="Validation-split JSONL (repeatable); written to OUT/val, checked for image overlap with train.",
        ),
        fmt: Format = FORMAT_OPTION,
        max_image_pixels: int = typer.Option(
            89_478_485, "--max-image-pixels", help="Decompression-bomb limit on width × height."
        ),
        max_line_bytes: int = typer.Option(
            64 << 20, "--max-line-bytes", help="Longest accepted line in bytes."
        ),
        workers: int | None = WORKERS_OPTION,
        engine: str = ENGINE_OPTION,
        ray_address: str | None = RAY_ADDRESS_OPTION,
    ) -> None:
        """Validate records (lines, schema, geometry, images, conversation, dataset); write OUT/data, rejects, report."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import engine_options
        from vlmdata.validate import ValidateOptions, validate_files

        options = ValidateOptions(
            image_root=image_root,
            allow_extra=allow_extra,
            image_check=not no_image_check,
            allow_outside_root=allow_outside_root,
            val=val,
            max_image_pixels=max_image_pixels,
            max_line_bytes=max_line_bytes,
            engine=engine_options(workers, engine, ray_address),
        )
        from vlmdata.cli._progress import progress_bar

        total = sum(p.stat().st_size for p in [*data, *val] if p.is_file())
        with progress_bar(
            "validating", total, fmt=fmt, min_total=PROGRESS_MIN_BYTES, in_bytes=True
        ) as advance:
            options.progress = advance
            report = validate_files(data, out, options)
        show(fmt, report.as_dict(), _blocks(report))
        raise typer.Exit(report.exit_code)


def _blocks(report: Any) -> list[Any]:
    from vlmdata.cli._render import Col, Styled, Table
    from vlmdata.errors import CODES

    files = Table(
        "vlmdata validate",
        ["file", "split", Col("lines", True), Col("valid", True), Col("rejected", True), Col("blank", True)],
    )
    for f in report.files:
        rejected = Styled(str(f.rejected), "red") if f.rejected else "0"
        files.rows.append([f.path, f.split, str(f.lines), str(f.valid), rejected, str(f.blank)])
    blocks: list[Any] = [files]
    if report.occurrences_per_code:
        issues = Table(
            "issues by code", ["code", "severity", Col("records", True), Col("occurrences", True), "meaning"]
        )
        for code in sorted(report.occurrences_per_code):
            entry = CODES.get(code)
            sev = entry.severity if entry else "error"
            issues.rows.append(
                [
                    code,
                    Styled(sev, "red" if sev == "error" else "yellow"),
                    str(report.records_per_code[code]),
                    str(report.occurrences_per_code[code]),
                    entry.title if entry else "",
                ]
            )
        blocks.append(issues)
    lines, valid, rejected, blank = (report.total(a) for a in ("lines", "valid", "rejected", "blank"))
    holds = report.invariant_holds
    line = f"valid {valid} + rejected {rejected} + blank {blank} == lines read {lines}: "
    blocks += _first_rejects(report)
    blocks.append(Styled(line + ("holds" if holds else "BROKEN"), "green" if holds else "bold red"))
    out = report.out_dir
    blocks.append(f"output: {out}/data  rejects: {out}/rejects.jsonl  report: {out}/report.json")
    return blocks


def _first_rejects(report: Any) -> list[Any]:
    """The first rejected lines with `file:line`, code and message (every one is in rejects.jsonl)."""
    import os

    from vlmdata.cli._render import Table

    rejected = report.total("rejected")
    shown = report.first_rejects()
    if not rejected or not shown:
        return []
    table = Table(
        f"first rejects ({len(shown)} of {rejected}; every one in {report.out_dir}/rejects.jsonl)",
        ["where", "code", "message"],
    )
    # the file's name is enough when it names one input (the files table above has the full paths)
    names = {os.path.basename(str(f.path)) for f in report.files}
    short = len(names) == len(report.files)
    for entry in shown:
        file = str(entry["file"] or "")
        where = f"{os.path.basename(file) if short else file}:{entry['line']}"
        issues = entry["issues"]
        first = issues[0] if issues else {}
        message = (f"{first.get('field')}: " if first.get("field") else "") + str(first.get("message", ""))
        if len(issues) > 1:
            message += f" (+{len(issues) - 1} more)"
        table.rows.append([where, str(first.get("code", "")), message])
    return [table]
