"""`vlmdata demo`: synth → validate → augment preview → fuse → audit → train, on a CPU, then a short report."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import console


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for every stage's output."),
    ) -> None:
        """Run the whole job on embedded defaults: synthetic data and a tiny offline model, a few minutes on a CPU."""
        from rich.table import Table

        from vlmdata.demo import run_demo

        con = console()
        report = run_demo(out, log=lambda line: con.print(line, markup=False))
        table = Table(title="vlmdata demo", show_header=False)
        table.add_column("what")
        table.add_column("result")
        table.add_row("synthetic records", ", ".join(f"{k}: {v}" for k, v in report.synth.items()))
        table.add_row(
            "validated",
            "; ".join(
                f"{k}: {v['valid']} valid, {v['rejected']} rejected of {v['lines']}"
                for k, v in report.validate.items()
            ),
        )
        table.add_row(
            "augment previews", f"{len(report.augment_previews)} in {Path(report.out) / 'augment_preview'}"
        )
        table.add_row("fused", ", ".join(f"{k}: {v}" for k, v in report.fused.items()))
        table.add_row("lengths", ", ".join(f"{k}: {v}" for k, v in report.lengths.items()) or "-")
        if report.losses:
            table.add_row(
                "train loss",
                f"{report.losses[0]:.4f} → {report.losses[-1]:.4f} over {len(report.losses)} logged steps",
            )
        if report.eval_loss is not None:
            table.add_row("eval loss", f"{report.eval_loss:.4f}")
        table.add_row("adapter", str(report.adapter_dir))
        table.add_row("log", str(report.log_file))
        table.add_row("seconds", ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
        con.print(table)
