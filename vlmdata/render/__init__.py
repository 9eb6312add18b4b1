"""Templates (prompts + target renderers), the template registry and the conversation builder.

`get_template(name)`, `render_target(record, name, objects=None)`, `build_messages(record, name, images=None,
objects=None, system=None)` and `resolve_template(record, default_name)` are the API the audit, the trainer
plugins and the export share; `load_template_file(path)` / `use_templates(refs)` add templates written in
YAML (`vlmdata.render.user`). The formats are documented in docs/templates.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.render.messages import build_messages, chat_messages, to_swift_standard
from vlmdata.render.templates import (
    DEFAULT_TEMPLATE,
    IRRELEVANT,
    TEMPLATES,
    Template,
    epoch_template,
    get_template,
    is_irrelevant,
    known_templates,
    list_templates,
    register_template,
    resolve_template,
    unregister_templates,
)
from vlmdata.render.user import load_template_file, resolve_template_ref, use_templates

__all__ = [
    "DEFAULT_TEMPLATE",
    "IRRELEVANT",
    "TEMPLATES",
    "Template",
    "build_messages",
    "chat_messages",
    "epoch_template",
    "get_template",
    "is_irrelevant",
    "known_templates",
    "list_templates",
    "load_template_file",
    "register_template",
    "render_target",
    "resolve_template",
    "resolve_template_ref",
    "to_swift_standard",
    "unregister_templates",
    "use_templates",
]


def render_target(
    record: Mapping[str, Any], template_name: str, objects: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """The assistant text of `record` under `template_name` (`objects` replaces the record's, e.g. augmented)."""
    from vlmdata.errors import VlmdataError
    from vlmdata.render import codes
    from vlmdata.render.templates import record_domain, target_header, where

    template = get_template(template_name)
    if template.mode == "dense":
        if template.format == "qwen":
            from vlmdata.render.qwen import qwen_json

            body = qwen_json(record, objects, template.fence)
        else:
            from vlmdata.render.dense import dense_json

            body = dense_json(record, objects)
        header = target_header(template, record)
        return body if header is None else f"{header}\n{body}"
    if template.mode == "summary":
        if is_irrelevant(record):
            return IRRELEVANT
        from vlmdata.render.summary import parse_summary

        domain = record_domain(template, record) if template.header_needs_domain else template.domain
        summary = record.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise VlmdataError(
                codes.NO_SUMMARY,
                f"template {template.name!r} needs the record's summary",
                where=where(record, "summary"),
            )
        parse_summary(summary, _summary_rules(template, domain), where(record, "summary"))
        return f"{template.header_line(domain)}\n{summary}" if template.header else summary
    messages = chat_messages(record)
    if not messages or messages[-1]["role"] != "assistant":
        raise VlmdataError(
            codes.BAD_MESSAGES,
            "a chat record's last message must be the assistant's answer",
            where=where(record, "messages"),
        )
    return messages[-1]["content"]


def _summary_rules(template: Template, domain: str | None) -> str | None:
    """The domain whose summary extras (BBU `备注`, RRU `分组统计`) apply: built-in templates only."""
    return None if template.user_defined else domain
