"""`vlmdata tiny-model OUT`: build the tiny offline Qwen3-VL (tokenizer, processors, chat template, weights)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("tiny-model")
    def tiny_model(
        out: Path = typer.Argument(
            ...,
            metavar="OUT",
            help="Output model folder (replaced atomically only when tiny-model wrote it).",
        ),
        seed: int = typer.Option(0, "--seed", help="Weight seed; the tokenizer is the same for every seed."),
        teacher: bool = typer.Option(
            False, "--teacher", help="Build a GKD teacher (same widths, one more decoder layer)."
        ),
    ) -> None:
        """Build a randomly initialised Qwen3-VL of a few million parameters, offline and deterministically."""
        from vlmdata.cli._render import console
        from vlmdata.models.tiny import build_tiny_model

        path = build_tiny_model(out, seed=seed, teacher=teacher)
        console().print(f"tiny Qwen3-VL written to {path} (seed {seed}{', teacher' if teacher else ''})")
