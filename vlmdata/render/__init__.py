"""Templates (prompts + target renderers) and the conversation builder.

`get_template(name)`, `render_target(record, name, objects=None)`, `build_messages(record, name, images=None,
objects=None, system=None)` and `resolve_template(record, default_name)` are the API the audit, the trainer
plugins and the export share; the formats are documented in docs/templates.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.render.messages import build_messages, chat_messages, to_swift_standard
from vlmdata.render.templates import (
    IRRELEVANT,
    TEMPLATES,
    Template,
    epoch_template,
    get_template,
    is_irrelevant,
    list_templates,
    resolve_template,
)

__all__ = [
    "IRRELEVANT",
    "TEMPLATES",
    "Template",
    "build_messages",
    "chat_messages",
    "epoch_template",
    "get_template",
    "is_irrelevant",
    "list_templates",
    "render_target",
    "resolve_template",
    "to_swift_standard",
]


def render_target(
    record: Mapping[str, Any], template_name: str, objects: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """The assistant text of `record` under `template_name` (`objects` replaces the record's, e.g. augmented)."""
    from vlmdata.errors import VlmdataError
    from vlmdata.render import codes
    from vlmdata.render.templates import record_domain, where

    template = get_template(template_name)
    if template.mode == "dense":
        from vlmdata.render.dense import dense_json

        body = dense_json(record, objects)
        return f"{template.header_line(record_domain(template, record))}\n{body}" if template.header else body
    if template.mode == "summary":
        if is_irrelevant(record):
            return IRRELEVANT
        from vlmdata.render.summary import parse_summary

        domain = record_domain(template, record)
        summary = record.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise VlmdataError(
                codes.NO_SUMMARY,
                f"template {template.name!r} needs the record's summary",
                where=where(record, "summary"),
            )
        parse_summary(summary, domain, where(record, "summary"))
        return f"{template.header_line(domain)}\n{summary}"
    messages = chat_messages(record)
    if not messages or messages[-1]["role"] != "assistant":
        raise VlmdataError(
            codes.BAD_MESSAGES,
            "a chat record's last message must be the assistant's answer",
            where=where(record, "messages"),
        )
    return messages[-1]["content"]
