"""`vlmdata train`: validate the run config, plan through the selected plugin, then preflight (`--dry-run`),
debug or train."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._render import console
from vlmdata.cli._skin import CONFIG_OPTION


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: Path = CONFIG_OPTION,
        base_config: Path = typer.Option(
            None, "--base-config", metavar="FILE", help="A YAML layer below the config and its `extends`."
        ),
        plugin: str = typer.Option(
            None, "--plugin", help="Trainer plugin; overrides the config's `plugin:` key."
        ),
        debug: bool = typer.Option(
            False, "--debug", help="Print the plan and one encoded sample, check image tokens; no training."
        ),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Run every check the training makes before its first step (same codes), print what it "
            "will do and the backend arguments; load no model, write nothing.",
        ),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            help="Show ms-swift's argument dump and the libraries' logging and warnings on the console "
            "(default: the run folder's backend.log).",
        ),
    ) -> None:
        """Train with a trainer plugin (sft, gkd, grpo, or any installed one). Everything else lives in YAML."""
        from vlmdata.cli._skin import require_exists, set_verbose
        from vlmdata.train.launch import dry_run as preflight_run
        from vlmdata.train.launch import launch, needs_launch, plan_run, run_plan, torchrun_command

        set_verbose(verbose)

        require_exists(config, "config")
        if base_config is not None:
            require_exists(base_config, "base config")
        trainer, plan = plan_run(config, base=base_config, plugin=plugin)
        cli_args = ["--config", str(config.resolve())]
        if base_config is not None:
            cli_args += ["--base-config", str(base_config.resolve())]
        if plugin is not None:
            cli_args += ["--plugin", plugin]
        out = console()
        if dry_run or debug:
            import yaml

            from vlmdata.errors import VlmdataError

            # every check the run makes before its first step, with the same codes; nothing is written. A
            # refusal still shows the plan (the ms-swift arguments), then exits as the run would.
            shown = plan.to_dict()
            if needs_launch(plan.config):
                shown["launch"] = torchrun_command(plan.config, cli_args)
            try:
                check = preflight_run(trainer, plan)
            except VlmdataError as exc:
                shown["preflight"] = {"refused": exc.code_str}
                typer.echo(f"# preflight refused the run: {exc.code_str} (details below)")
                typer.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).rstrip())
                raise
            shown["preflight"] = check.to_dict()
            typer.echo("\n".join(f"# {line}" for line in check.lines()))
            typer.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).rstrip())
            if debug:
                _print_debug(out, trainer.debug(plan))
            return
        if needs_launch(plan.config):
            launch(plan.config, cli_args)
            return
        import io

        from vlmdata.train.quiet import quiet_backend

        early = io.StringIO()  # what importing the backend prints before the run folder exists
        try:
            with quiet_backend(early):
                result = run_plan(trainer, plan)
        finally:
            _keep_early_output(early.getvalue(), Path(plan.output_dir))
        out.print(
            f"trained {result.global_step} step(s) with plugin {trainer.name!r} → {result.output_dir}",
            markup=False,
        )
        if result.adapter_dir is not None:
            out.print(f"adapter: {result.adapter_dir}", markup=False)
        elif result.checkpoint_dir is not None:
            out.print(f"checkpoint: {result.checkpoint_dir}", markup=False)
        if result.log_file is not None:
            out.print(f"log: {result.log_file}", markup=False)
        backend_log = Path(result.output_dir) / "backend.log"
        if backend_log.is_file():
            out.print(f"backend output: {backend_log} (--verbose shows it on the console)", markup=False)
        for key, value in sorted(result.metrics.items()):
            out.print(
                f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}", markup=False
            )


def _keep_early_output(text: str, output_dir: Path) -> None:
    """Prepend the backend's import-time output to the run's backend.log (dropped when no run folder exists)."""
    log = output_dir / "backend.log"
    if not text or not output_dir.is_dir() or not log.is_file():
        return
    log.write_text(text + log.read_text(encoding="utf-8", errors="replace"), encoding="utf-8")


def _print_debug(out, sample) -> None:  # noqa: ANN001 - rich console and DebugSample, imported lazily
    from vlmdata.errors import VlmdataError
    from vlmdata.train import codes

    out.print(f"\n# debug sample {sample.record_id}", markup=False)
    out.print(sample.text, markup=False)
    if sample.labels_text is not None:
        out.print("\n# supervised tokens", markup=False)
        out.print(sample.labels_text, markup=False)
    for name, shape in sample.tensor_shapes.items():
        out.print(f"{name}: {list(shape)}", markup=False)
    out.print(f"image tokens: {sample.image_tokens}, from grids: {sample.grid_tokens}", markup=False)
    if not sample.ok:
        raise VlmdataError(codes.DEBUG_MISMATCH, f"sample {sample.record_id}", details=list(sample.problems))
