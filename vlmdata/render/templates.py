"""Templates: a named pair (prompts, target renderer), and how a record picks its template.

| name | mode | header line | target |
|---|---|---|---|
| `target_dense` / `_bbu` / `_rru` | dense | `<DOMAIN=X>, <TASK=DETECTION>` | one-line JSON of the objects |
| `source_dense` | dense | none | the same JSON, for generic detection data |
| `summary` / `_bbu` / `_rru` | summary | `<DOMAIN=X>, <TASK=SUMMARY>` | the record's summary JSON, or exactly `无关图片` |
| `chat` | chat | none | the record's own messages |

The domain variants fix the domain in the prompt and the header. The generic `target_dense` / `summary`
take the header's domain from the record's `metadata.domain` and ask the model to name it, so one prompt
serves mixed BBU/RRU data.

Resolution (`resolve_template`): `metadata._template` (set by fusion) wins; otherwise a record carrying
`messages` is `chat`; otherwise the caller's default. A summary template keeps its prompt on an irrelevant
record — only the target becomes `无关图片` — because the model cannot know in advance that an image is
irrelevant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vlmdata.errors import Location, VlmdataError
from vlmdata.models.qwen import record_metadata
from vlmdata.render import codes, prompts

Mode = Literal["dense", "summary", "chat"]
IRRELEVANT = "无关图片"


@dataclass(frozen=True)
class Template:
    name: str
    mode: Mode
    user_prompt: str
    system: str | None = None
    domain: str | None = None
    task: str | None = None
    header: bool = False
    multi_image_note: str = ""

    def prompt(self, n_images: int = 1) -> str:
        """The user prompt for a record with `n_images` images (one fixed sentence added for several)."""
        if n_images > 1 and self.multi_image_note:
            return f"{self.user_prompt} {self.multi_image_note}"
        return self.user_prompt

    def header_line(self, domain: str | None = None) -> str:
        return f"<DOMAIN={domain or self.domain}>, <TASK={self.task}>"


def _builtins() -> dict[str, Template]:
    out: dict[str, Template] = {}
    for dom in (None, "BBU", "RRU"):
        suffix = "" if dom is None else "_" + dom.lower()
        out["target_dense" + suffix] = Template(
            name="target_dense" + suffix,
            mode="dense",
            user_prompt=prompts.dense_prompt(dom),
            system=prompts.SYSTEM,
            domain=dom,
            task="DETECTION",
            header=True,
            multi_image_note=prompts.MULTI_IMAGE_DENSE,
        )
        out["summary" + suffix] = Template(
            name="summary" + suffix,
            mode="summary",
            user_prompt=prompts.summary_prompt(dom),
            system=prompts.SYSTEM,
            domain=dom,
            task="SUMMARY",
            header=True,
            multi_image_note=prompts.MULTI_IMAGE_SUMMARY,
        )
    out["source_dense"] = Template(
        name="source_dense",
        mode="dense",
        user_prompt=prompts.SOURCE_DENSE,
        system=prompts.SYSTEM_GENERIC,
        multi_image_note=prompts.MULTI_IMAGE_DENSE,
    )
    out["chat"] = Template(name="chat", mode="chat", user_prompt=prompts.CHAT)
    return dict(sorted(out.items()))


TEMPLATES: dict[str, Template] = _builtins()


def list_templates() -> list[Template]:
    return list(TEMPLATES.values())


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except (KeyError, TypeError):
        raise VlmdataError(
            codes.UNKNOWN_TEMPLATE,
            f"unknown template {name!r}",
            value=name,
            hint="known templates: " + ", ".join(TEMPLATES),
        ) from None


def where(record: Mapping[str, Any], field: str | None = None) -> Location:
    return Location(
        file=record.get("source_file") or None,
        line=record.get("source_line") or None,
        record_id=record.get("id"),
        field=field,
    )


def resolve_template(record: Mapping[str, Any], default_name: str | None) -> str:
    """The template name to render `record` with (see the module docstring for the rules)."""
    name = record_metadata(record).get("_template")
    if not name:
        name = "chat" if _has_messages(record.get("messages")) else default_name
    if name is None:
        raise VlmdataError(
            codes.UNKNOWN_TEMPLATE,
            "no template for this record",
            where=where(record),
            hint="pass a template name (e.g. --template target_dense_bbu) or set metadata._template",
        )
    get_template(name)
    return name


def _has_messages(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() not in ("", "[]", "null")
    return bool(value)


def is_irrelevant(record: Mapping[str, Any]) -> bool:
    """A record of an irrelevant-image set: its summary is `无关图片`, or `metadata.irrelevant` is true."""
    summary = record.get("summary")
    if isinstance(summary, str) and summary.strip() == IRRELEVANT:
        return True
    return record_metadata(record).get("irrelevant") is True


PROMPT_DOMAINS = ("BBU", "RRU")  # the domains the generic prompts name


def record_domain(template: Template, record: Mapping[str, Any]) -> str:
    """The header domain: the template's own, else `metadata.domain` (one of the domains its prompt names)."""
    if template.domain is not None:
        return template.domain
    dom = record_metadata(record).get("domain")
    if not isinstance(dom, str) or dom.strip().upper() not in PROMPT_DOMAINS:
        raise VlmdataError(
            codes.NO_DOMAIN,
            f"template {template.name!r} takes the header domain from metadata.domain, one of "
            + "/".join(PROMPT_DOMAINS)
            + " (the domains its prompt names)",
            where=where(record, "metadata.domain"),
            value=dom,
            hint="set metadata.domain, use a domain template (e.g. target_dense_bbu), or source_dense for generic data",
        )
    return dom.strip().upper()
