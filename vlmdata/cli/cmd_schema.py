"""`vlmdata schema`: print the record contract's JSON Schema."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema() -> None:
        """Print the record contract's JSON Schema (generated from the pydantic models)."""
        from vlmdata.contract.schema import render_schema

        typer.echo(render_schema(), nl=False)
