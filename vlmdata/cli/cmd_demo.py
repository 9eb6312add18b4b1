"""`vlmdata demo`: synth → validate → augment preview → fuse → audit → train, on a CPU, then a short report."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

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
        show(fmt, asdict(report), [*_blocks(report), *_summary_lines(report)])


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


def _blocks(report: Any) -> list[Any]:
    from vlmdata.cli._render import Table

    table = Table("vlmdata demo", ["what", "result"])
    rows = [
        ("synthetic records", ", ".join(f"{k}: {v}" for k, v in report.synth.items())),
        (
            "validated",
            "; ".join(
                f"{k}: {v['valid']} valid, {v['rejected']} rejected of {v['lines']}"
                for k, v in report.validate.items()
            ),
        ),
        ("augment previews", f"{len(report.augment_previews)} in {Path(report.out) / 'augment_preview'}"),
        ("fused", ", ".join(f"{k}: {v}" for k, v in report.fused.items())),
        ("lengths", ", ".join(f"{k}: {v}" for k, v in report.lengths.items()) or "-"),
    ]
    if report.losses:
        rows.append(
            (
                "train loss",
                f"{report.losses[0]:.4f} → {report.losses[-1]:.4f} over {len(report.losses)} logged steps",
            )
        )
    if report.eval_loss is not None:
        rows.append(("eval loss", f"{report.eval_loss:.4f}"))
    rows += [
        ("adapter", str(report.adapter_dir)),
        ("log", str(report.log_file)),
        ("seconds", ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items())),
    ]
    table.rows += [list(r) for r in rows]
    return [table]
