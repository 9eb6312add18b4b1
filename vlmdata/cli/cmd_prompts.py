"""`vlmdata prompts list|show`: the built-in templates and the exact prompt text each one sends."""

from __future__ import annotations

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="List the templates and show their prompts.", no_args_is_help=True)

    @sub.command("list")
    def list_cmd(fmt: Format = FORMAT_OPTION) -> None:
        """List the built-in templates (name, mode, domain, header)."""
        from vlmdata.cli._render import Table, show
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
        table = Table("templates", ["template", "mode", "domain", "header line"])
        table.rows += [[r["name"], r["mode"], r["domain"], r["header"]] for r in rows]
        show(fmt, rows, [table])

    @sub.command("show")
    def show_cmd(
        name: str = typer.Argument(
            ..., metavar="TEMPLATE", help="Template name (see `vlmdata prompts list`)."
        ),
        images: int = typer.Option(
            1, "--images", min=1, help="Number of record images (several add one sentence)."
        ),
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Print the system prompt and the user prompt exactly as training and inference send them."""
        from vlmdata.cli._render import show
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
            show(fmt, data, [])
            return
        # the prompt text verbatim (never wrapped or styled): it is what the model is sent
        if t.mode == "chat":
            typer.echo("# chat: the record's own messages are sent; this template adds no prompt.")
            return
        typer.echo(
            f"# system\n{t.system or ''}\n\n# user ({images} image{'s' if images > 1 else ''})\n{t.prompt(images)}"
        )

    app.add_typer(sub, name="prompts")
