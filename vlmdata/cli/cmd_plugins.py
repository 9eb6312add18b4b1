"""`vlmdata plugins`: the installed trainer plugins, where they come from, and whether they load."""

from __future__ import annotations

import typer

from vlmdata.cli._common import FORMAT_OPTION, console


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins(fmt: str = FORMAT_OPTION) -> None:
        """List trainer plugins (entry-point group `vlmdata.trainers`); exit 1 when one is broken."""
        import json

        from vlmdata.train.registry import GROUP, list_plugins

        infos = list_plugins()
        if fmt == "json":
            rows = [
                {
                    "name": i.name,
                    "package": i.package,
                    "version": i.version,
                    "target": i.target,
                    "ok": i.ok,
                    "description": i.description,
                    "error": str(i.error) if i.error else None,
                }
                for i in infos
            ]
            typer.echo(json.dumps(rows, indent=2))
        else:
            from rich.markup import escape
            from rich.table import Table

            table = Table(title=f"trainer plugins ({GROUP})")
            for col in ("name", "package", "entry point", "status"):
                table.add_column(col, overflow="fold")
            for i in infos:
                status = i.description or "ok" if i.ok else f"[red]broken[/]: {escape(str(i.error))}"
                table.add_row(escape(i.name), escape(f"{i.package} {i.version}"), escape(i.target), status)
            out = console()
            if infos:
                out.print(table)
            else:
                out.print(f"no trainer plugins installed (entry-point group {GROUP})")
        broken = sorted({i.name for i in infos if not i.ok})
        if broken:
            from vlmdata.errors import VlmdataError
            from vlmdata.train import codes

            first = next(i.error for i in infos if i.error is not None)
            raise VlmdataError(
                first.code if first is not None else codes.PLUGIN_IMPORT,
                f"{len(broken)} broken trainer plugin(s): {', '.join(broken)}",
                hint="each listed error names the package and the rule it broke",
            )
