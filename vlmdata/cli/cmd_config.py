"""`vlmdata config …`: work with run configs. `migrate` rewrites a config of the playbook's original trainer."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import out_file_option

config_app = typer.Typer(
    name="config",
    help="Work with run configs (migrate a config written for the original trainer).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


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
