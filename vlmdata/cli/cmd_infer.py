"""`vlmdata infer --model DIR [--adapter DIR] DATASET --out preds.jsonl`."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format, out_file_option, run_config_option, template_ref_option


def register(app: typer.Typer) -> None:
    @app.command("infer")
    def infer_cmd(
        dataset: Path = typer.Argument(
            ..., metavar="DATASET", help="Dataset to predict on (or a `validate --out` folder)."
        ),
        model: Path = typer.Option(
            ...,
            "--model",
            metavar="DIR|ID",
            help="Model folder (base model, or a full fine-tuned model), or a Hugging Face / ModelScope id in the local cache.",
        ),
        out: Path = out_file_option("Predictions JSONL to write."),
        adapter: Path = typer.Option(
            None, "--adapter", metavar="DIR", help="LoRA adapter folder (a checkpoint of a LoRA run)."
        ),
        template: str = template_ref_option(),
        config: Path = run_config_option(
            "The run config: its template (name, system prompt, pixel bounds) and template files."
        ),
        batch_size: int = typer.Option(4, "--batch-size"),
        max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
        limit: int = typer.Option(None, "--limit", help="Only the first N records."),
        max_pixels: int = typer.Option(
            None, "--max-pixels", help="Per-image pixel cap, as in training (default: the run config's)."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Generate predictions with the trained model (greedy, batched); score them with `vlmdata eval`."""
        from vlmdata.cli._progress import progress_bar, progress_wanted
        from vlmdata.cli._render import show
        from vlmdata.cli._skin import require_exists, template_option
        from vlmdata.config.load import load_template_section
        from vlmdata.eval.infer import infer
        from vlmdata.io.model_ref import local_model

        model = local_model(model)
        require_exists(dataset, "dataset")
        cfg = load_template_section(config) if config is not None else None
        bounds = {"min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels} if cfg is not None else {}
        if max_pixels is not None:
            bounds["max_pixels"] = max_pixels
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
                template=template_option(template) or (cfg.name if cfg is not None else None),
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                limit=limit,
                system=cfg.system if cfg is not None else None,
                progress=advance,
                **bounds,
            )
        show(fmt, {"out": str(path)}, [f"predictions written to {path}"])
