"""`vlmdata config …`: work with run configs. `show` prints the merged config with each value's layer; `migrate`
rewrites a config of the playbook's original trainer."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import CONFIG_OPTION, FORMAT_OPTION, Format, out_file_option

config_app = typer.Typer(
    name="config",
    help="Work with run configs (show the merged config and where each value came from; migrate a config "
    "written for the original trainer).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@config_app.command("show")
def show(
    config: Path = CONFIG_OPTION,
    base_config: Path = typer.Option(
        None, "--base-config", help="A YAML layer below the config and its `extends`."
    ),
    plugin: str = typer.Option(
        None, "--plugin", help="Trainer plugin; overrides the config's `plugin:` key."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """The merged, validated run config (defaults filled in), each value with the file it came from."""
    import json

    from vlmdata.cli._skin import require_exists
    from vlmdata.train.show import render_config, show_config

    require_exists(config, "config")
    if base_config is not None:
        require_exists(base_config, "base config")
    entries = show_config(config, base=base_config, plugin=plugin)
    if fmt == "json":  # the values as JSON (paths and other objects as their text)
        typer.echo(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2, default=str))
    else:  # YAML with `# origin` comments: printed as is, not as a table
        typer.echo(render_config(entries))


@config_app.command("migrate")
def migrate(
    old: Path = typer.Argument(..., metavar="OLD.yaml", help="Config written for the original trainer."),
    out: Path = out_file_option("The vlmdata config to write (a new file, or one this command wrote)."),
) -> None:
    """Rewrite OLD.yaml into vlmdata's keys, print every change, refuse what has no equivalent."""
    from vlmdata.cli._render import console
    from vlmdata.cli._skin import require_exists
    from vlmdata.train.migrate import write_migration

    require_exists(old, "config")
    migration, problems = write_migration(old, out)
    con = console()
    for change in migration.changes:
        con.print(change.render(), markup=False)
    con.print(f"wrote {out} (merged from {len(migration.files)} file(s))", markup=False)
    if problems:
        con.print("the written config does not load yet:", markup=False)
        for text in problems:
            con.print(text, markup=False)
    else:
        con.print(
            "it loads as a vlmdata run config: check it with `vlmdata train --config … --dry-run`",
            markup=False,
        )
    if migration.refused:
        con.print(f"{len(migration.refused)} key(s) refused (no vlmdata equivalent): see above", markup=False)
    if problems or migration.refused:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
