"""`vlmdata eval PREDICTIONS.jsonl --gt DATASET`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_file_option, run_config_option, template_ref_option


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        predictions: Path = typer.Argument(
            ...,
            metavar="PREDICTIONS.jsonl",
            help="Predictions JSONL ({id, completion} per line, as `vlmdata infer` writes).",
        ),
        gt: Path = typer.Option(
            ..., "--gt", metavar="DATASET", help="Ground-truth dataset (or a `validate --out` folder)."
        ),
        template: str = template_ref_option(),
        config: Path = run_config_option("The run config: its template and template files (`templates:`)."),
        out: Path = out_file_option("Also write the report as JSON here.", default=None),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Score model outputs: P/R/F1 per IoU threshold and kind, category F1, parse failures, summary F1."""
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import require_exists, template_option
        from vlmdata.config.load import load_template_section
        from vlmdata.eval.evaluate import evaluate

        require_exists(predictions, "predictions file")
        default = load_template_section(config).name if config is not None else None
        report = evaluate(predictions, gt, template_option(template) or default, out=out)
        show(fmt, report, _blocks(report))


def _blocks(report: dict[str, Any]) -> list[Any]:
    from vlmdata.cli._render import Col, Table

    blocks: list[Any] = [
        f"predictions {report['predictions']}  ground truth {report['ground_truth']}  "
        f"missing {report['missing_predictions']}"
    ]
    metrics = [Col(c, True) for c in ("precision", "recall", "f1")]
    dense = report.get("dense")
    if dense:
        table = Table(
            f"dense ({dense['records']} records, parse failures {dense['parse_failure_rate']:.1%})",
            ["IoU", *metrics],
        )
        for thr, row in dense["by_threshold"].items():
            table.rows.append([thr, *(f"{row[c]:.3f}" for c in ("precision", "recall", "f1"))])
        kinds = Table("by geometry kind (IoU 0.50)", ["kind", Col("pred", True), Col("ref", True), *metrics])
        for kind, row in dense["by_kind"].items():
            r = row["0.50"]
            kinds.rows.append(
                [
                    kind,
                    str(row["n_pred"]),
                    str(row["n_ref"]),
                    *(f"{r[c]:.3f}" for c in ("precision", "recall", "f1")),
                ]
            )
        blocks += [
            table,
            kinds,
            f"mean F1@[.50:.95] {dense['mean_f1_50_95']:.3f}  category F1@.50 {dense['category_f1_50']:.3f}  "
            f"attribute recall@.50 {dense['attribute_recall_50']:.3f}",
        ]
    summary = report.get("summary")
    if summary:
        blocks.append(
            f"summary: {summary['records']} records, parse failures {summary['parse_failure_rate']:.1%}, "
            f"content F1 {summary['content_f1']:.3f}, exact {summary['exact_match']:.1%}, "
            f"irrelevant accuracy {summary['irrelevant_accuracy']:.1%}"
        )
    return blocks
