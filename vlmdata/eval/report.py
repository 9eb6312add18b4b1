"""Rich tables for an evaluation report."""

from __future__ import annotations

from typing import Any


def render_tables(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    console.print(
        f"predictions {report['predictions']}  ground truth {report['ground_truth']}  "
        f"missing {report['missing_predictions']}"
    )
    dense = report.get("dense")
    if dense:
        table = Table(
            title=f"dense ({dense['records']} records, parse failures {dense['parse_failure_rate']:.1%})"
        )
        table.add_column("IoU")
        for col in ("precision", "recall", "f1"):
            table.add_column(col, justify="right")
        for thr, row in dense["by_threshold"].items():
            table.add_row(thr, *(f"{row[c]:.3f}" for c in ("precision", "recall", "f1")))
        console.print(table)
        kinds = Table(title="by geometry kind (IoU 0.50)")
        for col in ("kind", "pred", "ref", "precision", "recall", "f1"):
            kinds.add_column(col, justify="right" if col != "kind" else "left")
        for kind, row in dense["by_kind"].items():
            r = row["0.50"]
            kinds.add_row(
                kind,
                str(row["n_pred"]),
                str(row["n_ref"]),
                *(f"{r[c]:.3f}" for c in ("precision", "recall", "f1")),
            )
        console.print(kinds)
        console.print(
            f"mean F1@[.50:.95] {dense['mean_f1_50_95']:.3f}  category F1@.50 {dense['category_f1_50']:.3f}  "
            f"attribute recall@.50 {dense['attribute_recall_50']:.3f}"
        )
    summary = report.get("summary")
    if summary:
        console.print(
            f"summary: {summary['records']} records, parse failures {summary['parse_failure_rate']:.1%}, "
            f"content F1 {summary['content_f1']:.3f}, exact {summary['exact_match']:.1%}, "
            f"irrelevant accuracy {summary['irrelevant_accuracy']:.1%}"
        )
