"""`vlmdata audit DATASET --config run.yaml`: the exact token length of every record, without decoding pixels."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import CONFIG_OPTION


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        datasets: list[Path] = typer.Argument(
            ..., help="Arrow dataset folder(s) (or `validate --out` folders); several are audited together."
        ),
        config: Path = CONFIG_OPTION,
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Write the JSON report here (and the histogram PNG beside it)."
        ),
        write_lengths: bool = typer.Option(
            False, "--write-lengths", help="Store an int32 `length` column in the dataset (atomically)."
        ),
        fmt: str = typer.Option(
            "table", "--format", help="table (default; a progress bar on a terminal) or json (the report)."
        ),
    ) -> None:
        """Audit sequence lengths under a run config; exit 1 when any record is at or over global_max_length."""
        from vlmdata.audit.audit import audit_dataset, over_length_error
        from vlmdata.audit.audit import write_lengths as store_lengths
        from vlmdata.audit.display import format_report, histogram_png
        from vlmdata.cli._common import console, require_exists
        from vlmdata.io.atomic import atomic_write_json

        for dataset in datasets:
            require_exists(dataset, "dataset")
        require_exists(config, "config")
        from vlmdata.cli._progress import progress_bar, progress_wanted
        from vlmdata.errors import UsageError

        if fmt not in ("table", "json"):
            raise UsageError(f"--format must be table or json, got {fmt!r}")
        total = None
        if progress_wanted(fmt):
            from vlmdata.io.dataset import open_dataset

            total = sum(len(open_dataset(d)) for d in datasets)
        with progress_bar("auditing", total, fmt=fmt, min_total=2048) as advance:
            report = audit_dataset([str(d) for d in datasets], config, progress=advance)
        rep = report.to_dict()
        out_console = console(stderr=fmt == "json")
        if fmt == "json":
            import json

            typer.echo(json.dumps(rep, ensure_ascii=False, indent=2))
        else:
            out_console.print(format_report(rep), markup=False)
        if out is not None:
            atomic_write_json(out, rep)
            png = histogram_png(rep, out.with_suffix(".png"))
            out_console.print(f"report: {out}  histogram: {png}", markup=False)
        if write_lengths:
            for path in store_lengths(report):
                out_console.print(f"length column written to {path}", markup=False)
        if rep["over_limit"]:
            raise over_length_error(report, list_records=False)
        if rep["errors"]:
            raise typer.Exit(1)
