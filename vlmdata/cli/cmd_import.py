"""`vlmdata import`: another tool's annotations (COCO, LVIS, ODVG, LabelMe, YOLO, ms-swift, Qwen) as contract JSONL."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import FORMAT_OPTION


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
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output JSONL (written atomically) + OUT.import.json beside it."
        ),
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
        fmt_out: str = FORMAT_OPTION,
    ) -> None:
        """Import annotations into contract JSONL; every annotation is imported or counted under a skip reason."""
        import json

        from vlmdata.cli._common import console
        from vlmdata.errors import UsageError
        from vlmdata.importers import ImportOptions, import_source

        if fmt_out not in ("table", "json"):
            raise UsageError(f"--format must be table or json, got {fmt_out!r}")
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
        report = import_source(fmt, src, out, options)
        if fmt_out == "json":
            typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            _render(report, console())
        raise typer.Exit(report.exit_code)


def _render(report, con) -> None:  # noqa: ANN001 - rich and the report are imported lazily
    from rich.table import Table

    from vlmdata.importers.codes import REASONS
    from vlmdata.importers.output import report_path

    table = Table(title=f"vlmdata import {report.format}")
    for col in ("source", "records", "imported", "annotations", "imported ", "objects"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for f in report.files:
        table.add_row(
            f.file,
            str(f.records.total),
            str(f.records.imported),
            str(f.annotations.total),
            str(f.annotations.imported),
            str(f.objects),
        )
    con.print(table)
    skipped: dict[str, int] = {}
    for f in report.files:
        for ledger in (f.records, f.annotations):
            for reason, n in ledger.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
    if skipped:
        reasons = Table(title="skipped")
        for col in ("reason", "code", "kind", "count", "first example"):
            reasons.add_column(col, justify="right" if col == "count" else "left")
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
            reasons.add_row(reason, r.code, r.kind, str(n), where)
        con.print(reasons)
    totals = report.totals()
    frame = report.extra.get("frame")
    if frame is not None:
        con.print(f"coordinate frame: {frame['frame']} ({frame['how']})")
    balance = "holds" if report.balanced() else "DOES NOT HOLD"
    ann = totals["annotations"]
    con.print(
        f"annotations: imported {ann['imported']} + skipped {sum(ann['skipped'].values())} == {ann['total']}: {balance}"
    )
    con.print(f"output: {report.out}  report: {report_path(report.out)}")
    con.print(f"next: {report.next_command()}")
