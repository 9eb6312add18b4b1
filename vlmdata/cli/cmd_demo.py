"""`vlmdata demo`: synth → validate → augment preview → fuse → audit → train, on a CPU, then a short report."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_folder_option


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = out_folder_option("Folder for every stage's output.", Path("runs/demo")),
        verbose: bool = typer.Option(
            False, "--verbose", help="Show the libraries' own output (ms-swift, transformers) on the console."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Run the whole job on embedded defaults: synthetic data and a tiny offline model, a few minutes on a CPU."""
        from vlmdata.cli._render import console, show
        from vlmdata.cli._skin import set_verbose
        from vlmdata.demo import run_demo

        set_verbose(verbose)
        log = console(stderr=fmt == "json")
        spinner = (lambda stage: log.status(f"{stage} …")) if log.is_terminal else None
        report = run_demo(out, log=lambda line: log.print(line, markup=False), working=spinner)
        show(fmt, asdict(report), _summary_lines(report))  # the stage lines above carry each stage's result


def _summary_lines(report) -> list[str]:  # noqa: ANN001 - DemoReport, imported lazily
    """After the stage lines: the output root, every artefact by kind, the next three commands."""
    from vlmdata.demo import next_commands

    lines = [f"output: {report.out}"]
    width = max((len(kind) for kind in report.artefacts), default=0)
    for kind, paths in report.artefacts.items():
        shown = paths if len(paths) <= 4 else [*paths[:3], f"… {len(paths) - 3} more"]
        lines.append(f"  {kind:<{width}}  {', '.join(shown)}")
    lines.append("next:")
    lines += [f"  {command}" for command in next_commands(report)]
    return lines
