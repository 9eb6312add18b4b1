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
    ) -> None:
        """Audit sequence lengths under a run config; exit 1 when any record is at or over global_max_length."""
        from vlmdata.audit.audit import audit_dataset, over_length_error, write_report
        from vlmdata.audit.audit import write_lengths as store_lengths
        from vlmdata.audit.display import format_report
        from vlmdata.cli._common import console, require_exists

        for dataset in datasets:
            require_exists(dataset, "dataset")
        require_exists(config, "config")
        report = audit_dataset([str(d) for d in datasets], config)
        rep = report.to_dict()
        out_console = console()
        out_console.print(format_report(rep), markup=False)
        if out is not None:
            json_path, png = write_report(report, out, inputs=[*datasets, config])
            out_console.print(f"report: {json_path}  histogram: {png}", markup=False)
        if write_lengths:
            for path in store_lengths(report):
                out_console.print(f"length column written to {path}", markup=False)
        if rep["over_limit"]:
            raise over_length_error(report, list_records=False)
        if rep["errors"]:
            raise typer.Exit(1)
