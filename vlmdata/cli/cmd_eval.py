"""`vlmdata eval PREDICTIONS.jsonl --gt DATASET`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        predictions: Path = typer.Argument(
            ..., help="Predictions JSONL ({id, completion} per line, as `vlmdata infer` writes)."
        ),
        gt: Path = typer.Option(..., "--gt", help="Ground-truth vlmdata Arrow dataset."),
        template: str = typer.Option(
            None,
            "--template",
            help="Template (name or template YAML file) for records that name none; default: the run "
            "config's, else grounding.",
        ),
        config: Path = typer.Option(
            None, "--config", "-c", help="The run config: its template and template files (`templates:`)."
        ),
        out: Path = typer.Option(None, "--out", "-o", help="Also write the report as JSON here."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Score model outputs: P/R/F1 per IoU threshold and kind, category F1, parse failures, summary F1."""
        import json

        from vlmdata.cli._common import console, require_exists, template_option
        from vlmdata.config.load import load_template_section
        from vlmdata.eval.evaluate import evaluate
        from vlmdata.io.atomic import atomic_write_json

        require_exists(predictions, "predictions file")
        default = load_template_section(config).name if config is not None else None
        report = evaluate(predictions, gt, template_option(template) or default)
        if out is not None:
            atomic_write_json(out, report)
        if fmt == "json":
            typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
            return
        from vlmdata.eval.report import render_tables

        render_tables(report, console())
