"""`vlmdata plugins`: the installed trainer plugins, where they come from, and whether they load."""

from __future__ import annotations

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins(fmt: Format = FORMAT_OPTION) -> None:
        """List trainer plugins (entry-point group `vlmdata.trainers`); exit 1 when one is broken."""
        from vlmdata.cli._render import Styled, Table, show
        from vlmdata.train.registry import GROUP, list_plugins

        infos = list_plugins()
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
        table = Table(f"trainer plugins ({GROUP})", ["name", "package", "entry point", "status"])
        for i in infos:
            status = (i.description or "ok") if i.ok else Styled(f"broken: {i.error}", "red")
            table.rows.append([i.name, f"{i.package} {i.version}", i.target, status])
        show(fmt, rows, [table] if infos else [f"no trainer plugins installed (entry-point group {GROUP})"])
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
