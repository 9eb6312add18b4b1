"""`vlmdata prompts list|show`: the built-in templates and the exact prompt text each one sends."""

from __future__ import annotations

import typer

from vlmdata.cli._common import FORMAT_OPTION, console


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="List the templates and show their prompts.", no_args_is_help=True)

    @sub.command("list")
    def list_cmd(fmt: str = FORMAT_OPTION) -> None:
        """List the built-in templates (name, mode, domain, header)."""
        import json

        from vlmdata.render import list_templates

        rows = [
            {
                "name": t.name,
                "mode": t.mode,
                "domain": t.domain or ("per record" if t.header else "-"),
                "header": t.header_line(t.domain or "X") if t.header else "-",
            }
            for t in list_templates()
        ]
        if fmt == "json":
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        from rich.table import Table

        table = Table("template", "mode", "domain", "header line")
        for r in rows:
            table.add_row(r["name"], r["mode"], r["domain"], r["header"])
        console().print(table)

    @sub.command("show")
    def show_cmd(
        name: str = typer.Argument(..., help="Template name (see `vlmdata prompts list`)."),
        images: int = typer.Option(
            1, "--images", min=1, help="Number of record images (several add one sentence)."
        ),
        fmt: str = FORMAT_OPTION,
    ) -> None:
        """Print the system prompt and the user prompt exactly as training and inference send them."""
        import json

        from vlmdata.errors import UsageError
        from vlmdata.render import TEMPLATES, get_template

        if name not in TEMPLATES:
            raise UsageError(f"unknown template {name!r}", hint="known templates: " + ", ".join(TEMPLATES))
        t = get_template(name)
        if fmt == "json":
            data = {
                "name": t.name,
                "mode": t.mode,
                "domain": t.domain,
                "system": t.system,
                "user_prompt": t.prompt(images),
            }
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        if t.mode == "chat":
            typer.echo("# chat: the record's own messages are sent; this template adds no prompt.")
            return
        typer.echo(
            f"# system\n{t.system or ''}\n\n# user ({images} image{'s' if images > 1 else ''})\n{t.prompt(images)}"
        )

    app.add_typer(sub, name="prompts")
