"""Checking a whole dataset against a template that takes its domain from `metadata.domain`.

`vlmdata fuse` (and `--plan`) and the trainer call `check_domains` on every record of an entry before anything
is written or loaded, so a record without a domain is an error listing record ids, never a silent default and
never a failure in the middle of a run. Per record the rule is `vlmdata.render.templates.domain_problem`, the
one the renderer applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.render import codes
from vlmdata.render.templates import (
    DEFAULT_TEMPLATE,
    Template,
    domain_problem,
    is_irrelevant,
    record_metadata,
)


def check_domains(
    template: Template, rows: Iterable[tuple[Any, Any, Any]], where_text: str, show: int = 20
) -> None:
    """Raise VD411 listing the records (`(id, metadata, summary)` rows) `template` cannot take a domain from.

    Records a summary template renders as `无关图片` need no domain unless its prompts use it.
    """
    if not template.needs_domain:
        return
    bad: list[str] = []
    total = 0
    for rid, meta, summary in rows:
        record = {"metadata": meta, "summary": summary}
        if template.mode == "summary" and not template.prompt_needs_domain and is_irrelevant(record):
            continue
        _, problem = domain_problem(template, record_metadata(record))
        if problem is not None:
            total += 1
            if len(bad) < show:
                bad.append(f"id={rid}: {problem}")
    if total:
        if total > len(bad):
            bad.append(f"... and {total - len(bad)} more")
        raise VlmdataError(
            codes.NO_DOMAIN,
            f"{total} record(s) of {where_text} have no domain for template {template.name!r}, which takes "
            "its domain from metadata.domain",
            where=Location(field="metadata.domain"),
            details=bad,
            hint="set metadata.domain on those records, or use a template with a fixed domain or a neutral one "
            f"({DEFAULT_TEMPLATE}, grounding_qwen, source_dense, counting)",
        )
