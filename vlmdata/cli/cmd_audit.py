"""`vlmdata audit DATASET --config run.yaml`: the exact token length of every record, without decoding pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from vlmdata.cli._skin import (
    CONFIG_OPTION,
    ENGINE_OPTION,
    FORMAT_OPTION,
    RAY_ADDRESS_OPTION,
    WORKERS_OPTION,
    Format,
    out_file_option,
)


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        datasets: list[Path] = typer.Argument(
            ...,
            metavar="DATASET...",
            help="Dataset folders (or `validate --out` folders); several are audited together.",
        ),
        config: Path = CONFIG_OPTION,
        out: Path | None = out_file_option(
            "Write the JSON report here (and the histogram PNG beside it).", default=None
        ),
        write_lengths: bool = typer.Option(
            False, "--write-lengths", help="Store an int32 `length` column in the dataset (atomically)."
        ),
        fmt: Format = FORMAT_OPTION,
        workers: int | None = WORKERS_OPTION,
        engine: str = ENGINE_OPTION,
        ray_address: str | None = RAY_ADDRESS_OPTION,
    ) -> None:
        """Audit sequence lengths under a run config; exit 1 when any record is at or over global_max_length."""
        from vlmdata.audit.audit import audit_dataset, over_length_error
        from vlmdata.audit.outputs import check_report_out, write_report
        from vlmdata.audit.outputs import write_lengths as store_lengths
        from vlmdata.cli._render import print_blocks, show
        from vlmdata.cli._skin import engine_options, require_exists

        for dataset in datasets:
            require_exists(dataset, "dataset")
        require_exists(config, "config")
        from vlmdata.cli._progress import progress_bar, progress_wanted

        if out is not None:
            check_report_out(out, inputs=[*datasets, config])
        total = None
        if progress_wanted(fmt):
            from vlmdata.io.dataset import open_dataset

            total = sum(len(open_dataset(d)) for d in datasets)
        with progress_bar("auditing", total, fmt=fmt, min_total=2048) as advance:
            report = audit_dataset(
                [str(d) for d in datasets],
                config,
                progress=advance,
                engine=engine_options(workers, engine, ray_address),
            )
        rep = report.to_dict()
        notes: list[str] = []
        if out is not None:
            json_path, png = write_report(report, out, inputs=[*datasets, config])
            notes.append(f"report: {json_path}  histogram: {png}")
        if write_lengths:
            notes += [f"length column written to {path}" for path in store_lengths(report)]
        show(fmt, rep, [*_blocks(rep), *notes])
        if fmt == "json" and notes:
            print_blocks(notes, stderr=True)
        if rep["over_limit"]:
            raise over_length_error(report, list_records=fmt != "table")
        if rep["errors"]:
            raise typer.Exit(1)


def _blocks(rep: dict[str, Any]) -> list[Any]:
    from vlmdata.cli._render import Col, Table

    bounds = rep["pixel_bounds"]
    blocks: list[Any] = [
        f"model {rep['model']}  template {rep['template']}  global_max_length {rep['global_max_length']}  "
        f"image pixels {bounds['min_pixels']}..{bounds['max_pixels']}",
        f"{rep['count']} record(s), {rep['sized']} sized in {rep['seconds']:.2f} s",
    ]
    stats = Table(
        "lengths (tokens)", ["source", *(Col(c, True) for c in STAT_COLUMNS), Col("img share", True)]
    )
    for name, st in rep["stats"].items():
        if st.get("count"):
            stats.rows.append([name, *(str(st[c]) for c in STAT_COLUMNS), f"{st['image_token_share']:.1%}"])
    blocks.append(stats)
    hist = rep["histogram"]
    if hist["counts"]:
        blocks.append("length histogram (| marks global_max_length)")
        peak = max(hist["counts"]) or 1
        limit = rep["global_max_length"]
        for lo, hi, c in zip(hist["edges"][:-1], hist["edges"][1:], hist["counts"], strict=True):
            mark = "|" if lo <= limit < hi else " "
            blocks.append(f"{lo:>7}-{hi - 1:<7}{mark} {'#' * (round(c / peak * 40) if c else 0)} {c}")
    fits = rep["smallest_global_max_length"]
    blocks.append(f"smallest global_max_length fitting 100%: {fits['all']}   99.9%: {fits['p99_9']}")
    if rep["over_limit"]:
        over = Table(
            f"{len(rep['over_limit'])} record(s) at or over global_max_length",
            ["dataset", "id", Col("length", True), Col("image tokens", True), Col("text tokens", True)],
        )
        for r in rep["over_limit"]:
            over.rows.append(
                [r["dataset"], r["id"], *(str(r[k]) for k in ("length", "image_tokens", "text_tokens"))]
            )
        blocks.append(over)
    if rep["errors"]:
        errors = Table(
            f"{len(rep['errors'])} record(s) could not be sized", ["dataset", "where", "code", "message"]
        )
        errors.rows += [[e["dataset"], e["where"], e["code"], e["message"]] for e in rep["errors"]]
        blocks.append(errors)
    return blocks


STAT_COLUMNS = ("count", "min", "p50", "p90", "p95", "p99", "max")
