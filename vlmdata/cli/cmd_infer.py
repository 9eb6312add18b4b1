"""`vlmdata infer --model DIR [--adapter DIR] DATASET --out preds.jsonl`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("infer")
    def infer_cmd(
        dataset: Path = typer.Argument(..., help="vlmdata Arrow dataset to predict on."),
        model: Path = typer.Option(
            ..., "--model", help="Model folder (base model, or a full fine-tuned model)."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL to write."),
        adapter: Path = typer.Option(
            None, "--adapter", help="LoRA adapter folder (a checkpoint of a LoRA run)."
        ),
        template: str = typer.Option(None, "--template", help="Template for records that name none."),
        batch_size: int = typer.Option(4, "--batch-size"),
        max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
        limit: int = typer.Option(None, "--limit", help="Only the first N records."),
        max_pixels: int = typer.Option(
            1024 * 1024, "--max-pixels", help="Per-image pixel cap, as in training."
        ),
        fmt: str = typer.Option("table", "--format", help="table (a progress bar on a terminal) or json."),
    ) -> None:
        """Generate predictions with the trained model (greedy, batched); score them with `vlmdata eval`."""
        from vlmdata.cli._common import console, require_exists
        from vlmdata.cli._progress import progress_bar, progress_wanted
        from vlmdata.errors import UsageError
        from vlmdata.eval.infer import infer

        if fmt not in ("table", "json"):
            raise UsageError(f"--format must be table or json, got {fmt!r}")
        require_exists(model, "model folder")
        require_exists(dataset, "dataset")
        total = None
        if progress_wanted(fmt):
            from vlmdata.io.dataset import open_dataset

            total = len(open_dataset(dataset))
            total = min(total, limit) if limit is not None else total
        with progress_bar("generating", total, fmt=fmt) as advance:
            path = infer(
                model,
                dataset,
                out,
                adapter=adapter,
                template=template,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                limit=limit,
                max_pixels=max_pixels,
                progress=advance,
            )
        if fmt == "json":
            import json

            typer.echo(json.dumps({"out": str(path)}))
        else:
            console().print(f"predictions written to {path}", markup=False)
