"""`vlmdata import`: another tool's annotations (COCO, LVIS, ODVG, LabelMe, YOLO, ms-swift, Qwen) as contract JSONL."""

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
    out_file_option,
)


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        fmt: str = typer.Argument(
            ...,
            metavar="FORMAT",
            help="coco | lvis | odvg | labelme | yolo | swift | qwen",
            show_default=False,
        ),
        src: Path = typer.Argument(
            ..., metavar="SRC", help="The annotation file or folder (see docs/import.md).", show_default=False
        ),
        out: Path = out_file_option("Output JSONL (written atomically) + OUT.import.json beside it."),
        image_root: Path | None = typer.Option(
            None,
            "--image-root",
            help="Folder the images are found in and stay inside (default: per format, see docs/import.md).",
        ),
        desc_template: str = typer.Option(
            "{category}",
            "--desc-template",
            help="How an annotation's fields become its desc, e.g. '{category}'.",
        ),
        crowd: str = typer.Option(
            "polygon", "--crowd", help="coco/lvis crowd regions: polygon (traced from the mask) or skip."
        ),
        no_image_probe: bool = typer.Option(
            False,
            "--no-image-probe",
            help="Trust the sizes the source declares instead of reading image headers.",
        ),
        clip: bool = typer.Option(
            False, "--clip", help="Clip geometry that leaves the image instead of skipping it."
        ),
        boxes_only: bool = typer.Option(
            False, "--boxes-only", help="coco/lvis: import the bbox even where a segmentation exists."
        ),
        label_map: Path | None = typer.Option(
            None, "--label-map", help='odvg: {"0": "name", ...} for instances without a category.'
        ),
        split: str = typer.Option("train", "--split", help="yolo: the data.yaml split to import."),
        frame: str = typer.Option(
            "auto", "--frame", help="qwen: coordinate frame of the answers: auto, grid (0–1000) or pixel."
        ),
        fmt_out: Format = FORMAT_OPTION,
        workers: int | None = WORKERS_OPTION,
        engine: str = ENGINE_OPTION,
        ray_address: str | None = RAY_ADDRESS_OPTION,
    ) -> None:
        """Import annotations into contract JSONL; every annotation is imported or counted under a skip reason."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import engine_options
        from vlmdata.importers import ImportOptions, import_source

        options = ImportOptions(
            image_root=str(image_root) if image_root else None,
            desc_template=desc_template,
            crowd=crowd,  # type: ignore[arg-type]
            probe=not no_image_probe,
            clip=clip,
            boxes_only=boxes_only,
            label_map=str(label_map) if label_map else None,
            split=split,
            frame=frame,  # type: ignore[arg-type]
        )
        from vlmdata.cli._progress import progress_bar

        with progress_bar("importing", None, fmt=fmt_out, unit="annotations") as advance:
            report = import_source(
                fmt, src, out, options, engine_options(workers, engine, ray_address), progress=advance
            )
        show(fmt_out, report.as_dict(), _blocks(report))
        raise typer.Exit(report.exit_code)


def _blocks(report: Any) -> list[Any]:
    from vlmdata.cli._render import Col, Table
    from vlmdata.importers.codes import REASONS
    from vlmdata.importers.output import report_path

    cols = [
        Col("source"),
        *(Col(c, right=True) for c in ("records", "imported", "annotations", "imported ", "objects")),
    ]
    files = Table(f"vlmdata import {report.format}", cols)
    for f in report.files:
        files.rows.append(
            [
                f.file,
                str(f.records.total),
                str(f.records.imported),
                str(f.annotations.total),
                str(f.annotations.imported),
                str(f.objects),
            ]
        )
    blocks: list[Any] = [files]
    skipped: dict[str, int] = {}
    for f in report.files:
        for ledger in (f.records, f.annotations):
            for reason, n in ledger.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
    if skipped:
        reasons = Table(
            "skipped",
            [Col("reason"), Col("code"), Col("kind"), Col("count", right=True), Col("first example")],
        )
        for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
            first = next((f.examples[reason][0] for f in report.files if f.examples.get(reason)), None)
            where = ""
            if first is not None:
                loc = first.get("path") or first.get("file", "")
                for key in ("line", "index", "id"):
                    if first.get(key) not in (None, ""):
                        loc += f" {key}={first[key]}"
                where = f"{loc} {first.get('field', '')}: {first['message']}".strip()
            r = REASONS[reason]
            reasons.rows.append([reason, r.code, r.kind, str(n), where])
        blocks.append(reasons)
    totals = report.totals()
    frame = report.extra.get("frame")
    if frame is not None:
        blocks.append(f"coordinate frame: {frame['frame']} ({frame['how']})")
    balance = "holds" if report.balanced() else "DOES NOT HOLD"
    ann = totals["annotations"]
    blocks.append(
        f"annotations: imported {ann['imported']} + skipped {sum(ann['skipped'].values())} == {ann['total']}: {balance}"
    )
    blocks.append(f"output: {report.out}  report: {report_path(report.out)}")
    blocks.append(f"next: {report.next_command()}")
    return blocks
