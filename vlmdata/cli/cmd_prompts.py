"""`vlmdata prompts list|show`: the templates (built-in and YAML) and the exact prompt text each one sends."""

from __future__ import annotations

from pathlib import Path

import typer

from vlmdata.cli._skin import FORMAT_OPTION, Format

TEMPLATES_CONFIG = typer.Option(
    None,
    "--config",
    "-c",
    metavar="PATH",
    help="A run or fusion config, or a template file or folder: its templates are listed with the built-ins.",
)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="List the templates and show their prompts.", no_args_is_help=True)

    @sub.command("list")
    def list_cmd(config: Path = TEMPLATES_CONFIG, fmt: Format = FORMAT_OPTION) -> None:
        """List the templates (name, mode, format, domain, header, file)."""
        from vlmdata.cli._render import Table, show
        from vlmdata.render import list_templates
        from vlmdata.render.user import templates_of

        if config is not None:
            templates_of(config)
        rows = [
            {
                "name": t.name,
                "mode": t.mode,
                "format": t.format,
                "domain": t.domain or ("per record" if t.needs_domain else "-"),
                "header": (t.header_line(t.domain or "X") if t.header else "-"),
                "source": t.source or "built-in",
            }
            for t in list_templates()
        ]
        table = Table("templates", ["template", "mode", "format", "domain", "header line", "defined in"])
        table.rows += [
            [r["name"], r["mode"], r["format"], r["domain"], r["header"], r["source"]] for r in rows
        ]
        show(fmt, rows, [table])

    @sub.command("show")
    def show_cmd(
        name: str = typer.Argument(
            ...,
            metavar="TEMPLATE",
            help="Template name (see `vlmdata prompts list`) or a template YAML file.",
        ),
        images: int = typer.Option(
            1, "--images", min=1, help="Number of record images (several may change the prompt)."
        ),
        domain: str = typer.Option(
            None, "--domain", help="The record's metadata.domain, for templates whose prompts use it."
        ),
        config: Path = TEMPLATES_CONFIG,
        fmt: Format = FORMAT_OPTION,
    ) -> None:
        """Print the system prompt and the user prompt exactly as training and inference send them."""
        from vlmdata.cli._render import show
        from vlmdata.errors import UsageError
        from vlmdata.render import get_template, known_templates
        from vlmdata.render.user import resolve_template_ref, templates_of

        if config is not None:
            templates_of(config)
        name = resolve_template_ref(name)
        if name not in known_templates():
            raise UsageError(
                f"unknown template {name!r}",
                hint="known templates: " + ", ".join(known_templates()) + " (or give a template YAML file)",
            )
        t = get_template(name)
        if t.prompt_needs_domain and domain is None:
            raise UsageError(
                f"template {name!r} fills its prompts with the record's domain",
                hint="pass --domain (the value of metadata.domain)",
            )
        dom = domain if t.prompt_needs_domain else None
        system, prompt = t.system_prompt(images, dom), t.prompt(images, dom)
        if fmt == "json":
            data = {
                "name": t.name,
                "mode": t.mode,
                "format": t.format,
                "domain": t.domain,
                "source": t.source,
                "system": system,
                "user_prompt": prompt,
            }
            show(fmt, data, [])
            return
        # the prompt text verbatim (never wrapped or styled): it is what the model is sent
        if t.mode == "chat":
            typer.echo("# chat: the record's own messages are sent; this template adds no prompt.")
            return
        typer.echo(
            f"# system\n{system or ''}\n\n# user ({images} image{'s' if images > 1 else ''})\n{prompt}"
        )

    app.add_typer(sub, name="prompts")
