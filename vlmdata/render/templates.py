"""Templates: a named pair (prompts, target renderer), the registry of them, and how a record picks one.

| name | mode | format | header line | target |
|---|---|---|---|---|
| `grounding` (the default) | dense | object map | none | one-line JSON of the objects |
| `grounding_qwen` | dense | Qwen list | none | Qwen3-VL's native JSON list in a ```json block |
| `target_dense` / `_bbu` / `_rru` | dense | object map | `<DOMAIN=X>, <TASK=DETECTION>` | one-line JSON |
| `source_dense` | dense | object map | none | the same JSON, for general detection sources |
| `summary` / `_bbu` / `_rru` | summary | summary | `<DOMAIN=X>, <TASK=SUMMARY>` | the summary JSON, or `无关图片` |
| `counting` | summary | summary | none | the summary JSON (no BBU/RRU rules), or `无关图片` |
| `chat` | chat | - | none | the record's own messages |

The neutral templates (`grounding`, `grounding_qwen`, `source_dense`, `counting`) say nothing about any domain. The BBU/RRU
presets fix the domain in the prompt and the header; the generic `target_dense` / `summary` take the header's
domain from the record's `metadata.domain` and ask the model to name it, so one prompt serves mixed BBU/RRU
data. Templates users write in YAML (`vlmdata.render.user`) are registered here next to the built-ins; their
texts may hold the fields `{n_images}`, `{domain}` and `{format}` (checked when the file is loaded).

A template *needs a domain* when its header or prompts use the record's domain (the generic BBU/RRU ones, and
user templates with `{domain}`); such a template on a record without one is an error (VD411) wherever it is
rendered, and `vlmdata fuse` checks every record of an entry before writing (`vlmdata.render.domains`).

Resolution (`resolve_template`): `metadata._template` (set by fusion) wins; otherwise a record carrying
`messages` is `chat`; otherwise the caller's default. A summary template keeps its prompt on an irrelevant
record — only the target becomes `无关图片` — because the model cannot know in advance that an image is
irrelevant.

Training (`epoch_template`): an irrelevant record under the generic `summary` template is asked with the
`summary_bbu` or the `summary_rru` prompt instead, alternating per epoch — a pure function of (seed, epoch,
record id), about half each — so the model learns to refuse off-domain images under both domain prompts. The
target stays the single line `无关图片` (no header, no assistant prefix).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from vlmdata.contract.text import text_issues
from vlmdata.errors import Location, VlmdataError
from vlmdata.models.qwen import record_metadata
from vlmdata.render import codes, prompts

Mode = Literal["dense", "summary", "chat"]
TargetFormat = Literal["object_map", "qwen", "summary", "chat"]
IRRELEVANT = "无关图片"
DEFAULT_TEMPLATE = "grounding"
PROMPT_DOMAINS = ("BBU", "RRU")  # the domains the generic built-in prompts name


def text_fields(text: str | None) -> set[str]:
    """The `{field}` names of a user template text (`{{`/`}}` are literal braces)."""
    if not text:
        return set()
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def _fill(text: str, values: Mapping[str, Any]) -> str:
    out = []
    for literal, name, _, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(str(values[name]))
    return "".join(out)


@dataclass(frozen=True)
class Template:
    name: str
    mode: Mode
    user_prompt: str
    system: str | None = None
    domain: str | None = None  # a fixed domain (the BBU/RRU presets)
    task: str | None = None
    header: bool = False
    multi_image_note: str = ""
    format: TargetFormat = "object_map"
    header_text: str | None = None  # the header line; `{domain}` is the record's domain
    domains: tuple[str, ...] | None = None  # accepted `metadata.domain` values; None: any non-empty text
    fence: bool = True  # qwen format: the list sits in a ```json code block
    user_multi_image: str | None = None  # user templates: the prompt for records with several images
    description: str | None = None
    source: str | None = field(default=None, compare=False)  # the YAML file of a user template
    user_defined: bool = False  # texts are format strings with {n_images}/{domain}/{format}

    # -- domains ----------------------------------------------------------------------------------------
    @property
    def header_needs_domain(self) -> bool:
        return self.header and self.domain is None and "domain" in text_fields(self.header_text)

    @property
    def prompt_needs_domain(self) -> bool:
        if not self.user_defined:
            return False
        used = text_fields(self.user_prompt) | text_fields(self.user_multi_image) | text_fields(self.system)
        return self.domain is None and ("domain" in used or ("format" in used and self.header_needs_domain))

    @property
    def needs_domain(self) -> bool:
        return self.header_needs_domain or self.prompt_needs_domain

    @property
    def fixed_header(self) -> str | None:
        """The header line when it is the same for every record (None when there is none or it varies)."""
        if not self.header or self.header_needs_domain:
            return None
        return self.header_line(self.domain)

    # -- texts -------------------------------------------------------------------------------------------
    def header_line(self, domain: str | None = None) -> str:
        text = self.header_text or "<DOMAIN={domain}>, <TASK=" + str(self.task) + ">"
        return _fill(text, {"domain": domain or self.domain})

    def format_rules(self, n_images: int = 1, domain: str | None = None) -> str:
        header = self.header_line(domain) if self.header else None
        return prompts.format_rules(self.format, header, self.fence, multi=n_images > 1)

    def prompt(self, n_images: int = 1, domain: str | None = None) -> str:
        """The user prompt for a record with `n_images` images (and, for templates that use it, its domain)."""
        if self.user_defined:
            text = self.user_multi_image if n_images > 1 and self.user_multi_image else self.user_prompt
            return self._fill_user(text, n_images, domain)
        if n_images > 1 and self.multi_image_note:
            return f"{self.user_prompt} {self.multi_image_note}"
        return self.user_prompt

    def system_prompt(self, n_images: int = 1, domain: str | None = None) -> str | None:
        if self.system is None or not self.user_defined:
            return self.system
        return self._fill_user(self.system, n_images, domain)

    def _fill_user(self, text: str, n_images: int, domain: str | None) -> str:
        used = text_fields(text)
        domain = domain or self.domain
        if domain is None and ("domain" in used or ("format" in used and self.header_needs_domain)):
            raise VlmdataError(
                codes.NO_DOMAIN,
                f"template {self.name!r} fills its prompts with the record's domain, and none was given",
                value=self.name,
            )
        values: dict[str, Any] = {"n_images": n_images, "domain": domain}
        if "format" in used:
            values["format"] = self.format_rules(n_images, domain)
        return _fill(text, values)

    def definition(self) -> dict[str, Any]:
        """Every field but the source file: two templates with one definition render identically."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


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
            header_text="<DOMAIN={domain}>, <TASK=DETECTION>",
            domains=PROMPT_DOMAINS,
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
            format="summary",
            header_text="<DOMAIN={domain}>, <TASK=SUMMARY>",
            domains=PROMPT_DOMAINS,
        )
    out["source_dense"] = Template(
        name="source_dense",
        mode="dense",
        user_prompt=prompts.SOURCE_DENSE,
        system=prompts.SYSTEM_GENERIC,
        multi_image_note=prompts.MULTI_IMAGE_DENSE,
    )
    out["grounding"] = Template(
        name="grounding",
        mode="dense",
        user_prompt=prompts.GROUNDING,
        system=prompts.SYSTEM_GENERIC,
        multi_image_note=prompts.MULTI_IMAGE_DENSE,
    )
    out["grounding_qwen"] = Template(
        name="grounding_qwen",
        mode="dense",
        user_prompt=prompts.GROUNDING_QWEN,
        system=prompts.SYSTEM_GENERIC,
        multi_image_note=prompts.MULTI_IMAGE_QWEN,
        format="qwen",
    )
    out["counting"] = Template(
        name="counting",
        mode="summary",
        user_prompt=prompts.COUNTING,
        system=prompts.SYSTEM_GENERIC,
        multi_image_note=prompts.MULTI_IMAGE_COUNTS,
        format="summary",
    )
    out["chat"] = Template(name="chat", mode="chat", user_prompt=prompts.CHAT, format="chat")
    return dict(sorted(out.items()))


TEMPLATES: dict[str, Template] = _builtins()  # the built-ins (fixed)
_USER: dict[str, Template] = {}  # templates registered from YAML in this process


def known_templates() -> dict[str, Template]:
    """Built-in and registered user templates, by name."""
    return {**TEMPLATES, **dict(sorted(_USER.items()))}


def list_templates() -> list[Template]:
    return list(known_templates().values())


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name] if name in TEMPLATES else _USER[name]
    except (KeyError, TypeError):
        raise VlmdataError(
            codes.UNKNOWN_TEMPLATE,
            f"unknown template {name!r}",
            value=name,
            hint="known templates: "
            + ", ".join(known_templates())
            + "; a template defined in YAML is known once its file is listed under `templates:` of the "
            "run or fusion config (or given by path)",
        ) from None


def register_template(template: Template) -> Template:
    """Add a user template to this process's registry; the same definition twice is a no-op."""
    if template.name in TEMPLATES:
        raise VlmdataError(
            codes.TEMPLATE_CONFLICT,
            f"{template.name!r} is a built-in template name",
            where=Location(file=template.source, field="name"),
            value=template.name,
        )
    old = _USER.get(template.name)
    if old is not None and old.definition() != template.definition():
        raise VlmdataError(
            codes.TEMPLATE_CONFLICT,
            f"template {template.name!r} is defined differently in {old.source} and {template.source}",
            where=Location(file=template.source, field="name"),
            value=template.name,
            hint="give one of them another name",
        )
    if old is None:
        _USER[template.name] = template
    return _USER[template.name]


def unregister_templates() -> None:
    """Forget every user template (tests, and tools that load configs one after another)."""
    _USER.clear()


def user_templates() -> dict[str, Template]:
    return dict(_USER)


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
            hint=f"pass a template name (e.g. --template {DEFAULT_TEMPLATE}) or set metadata._template",
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


def domain_problem(template: Template, metadata: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the domain, None) or (None, what is wrong) for a template that takes the domain from the record."""
    if template.domain is not None:
        return template.domain, None
    dom = metadata.get("domain")
    if not isinstance(dom, str) or not dom.strip():
        return None, f"no metadata.domain (got {dom!r})"
    value = dom.strip()
    tokens = text_issues(value, "metadata.domain", "prompt")  # the domain is written into the prompt
    if tokens:
        return None, f"metadata.domain {dom!r}: {tokens[0].message}"
    if template.domains is not None:
        value = value.upper() if not template.user_defined else value
        if value not in template.domains:
            return None, f"metadata.domain {dom!r} is not one of " + "/".join(template.domains)
    return value, None


def record_domain(template: Template, record: Mapping[str, Any]) -> str:
    """The record's domain for `template`: the template's own, else `metadata.domain` (VD411 when unusable)."""
    dom, problem = domain_problem(template, record_metadata(record))
    if dom is None:
        accepted = (
            " (one of " + "/".join(template.domains) + ", the domains its prompt names)"
            if template.domains
            else ""
        )
        raise VlmdataError(
            codes.NO_DOMAIN,
            f"template {template.name!r} takes the domain from metadata.domain{accepted}: {problem}",
            where=where(record, "metadata.domain"),
            value=record_metadata(record).get("domain"),
            hint="set metadata.domain, use a template with a fixed domain (e.g. target_dense_bbu), or a "
            f"neutral one ({DEFAULT_TEMPLATE}, grounding_qwen, source_dense) for generic data",
        )
    return dom


def target_header(template: Template, record: Mapping[str, Any]) -> str | None:
    """The exact header line `template` writes for `record` (None when it writes none)."""
    if not template.header:
        return None
    domain = record_domain(template, record) if template.header_needs_domain else template.domain
    return template.header_line(domain)


def prompt_domain(template: Template, record: Mapping[str, Any]) -> str | None:
    """The domain the prompts of `template` need for `record` (None when they need none)."""
    return record_domain(template, record) if template.prompt_needs_domain else None


IRRELEVANT_PROMPTS = ("summary_bbu", "summary_rru")


def epoch_template(record: Mapping[str, Any], name: str, seed: int, epoch: int) -> str:
    """The template a training epoch renders `record` with: `name`, except for an irrelevant record under the
    generic `summary` template, which gets `summary_bbu` or `summary_rru` by a hash of (seed, epoch, record id)."""
    template = get_template(name)
    generic = template.mode == "summary" and template.header_needs_domain and not template.user_defined
    if not generic or not is_irrelevant(record):
        return name
    key = json.dumps(["vlmdata.render/1", "irrelevant-prompt", int(seed), int(epoch), str(record.get("id"))])
    return IRRELEVANT_PROMPTS[hashlib.sha256(key.encode("utf-8")).digest()[0] & 1]
