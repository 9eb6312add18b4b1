"""`vlmdata demo`: synth → validate → augment preview → fuse → audit → train, on a CPU, then a short report."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._common import console


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for every stage's output."),
        verbose: bool = typer.Option(
            False, "--verbose", help="Show the libraries' own output (ms-swift, transformers) on the console."
        ),
    ) -> None:
        """Run the whole job on embedded defaults: synthetic data and a tiny offline model, a few minutes on a CPU."""
        from vlmdata.cli._common import set_verbose
        from vlmdata.demo import run_demo, summary_lines

        set_verbose(verbose)
        con = console()
        spinner = (lambda stage: con.status(f"{stage} …")) if con.is_terminal else None
        report = run_demo(out, log=lambda line: con.print(line, markup=False), working=spinner)
        for line in summary_lines(report):
            con.print(line, markup=False)
