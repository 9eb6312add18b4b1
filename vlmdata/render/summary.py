"""The BBU/RRU summary: building it from objects, parsing and validating it, and the summary target.

Structure (targets-audit.md): `{"统计": [{"类别": category, attribute: {value: count, …}, …}, …]}`, one entry
per category sorted by category, attribute keys sorted; BBU may add `"备注": [remark, …]`, RRU may add
`"分组统计": {group id: member count}`. Anything else is rejected by `validate_summary`.

`build_summary` counts descs: a desc is comma-separated `key=value` tokens with `类别=category` first; every
other token counts one for `{key: {value: +1}}`, a value `a|b` counts `a` and `b` separately, and a key
repeated within one desc counts each occurrence. A desc without any `=` is a plain category name (generic data)
and counts as its category only. Keys, values and categories are sorted by code point. An RRU record whose
objects carry `组=<id>` also gets `分组统计` (group id → number of objects in it, ids in numeric-then-text
order), while `组` stays counted like any attribute. `备注` (free-text remarks) cannot be derived from objects:
an existing summary keeps its own, a built one has none. Object `attributes` are not read: the desc is what
the model sees and must summarise.

The serialised summary uses the dense target's separators (`", "`, `": "`) and keeps non-ASCII, so
`summary_json(build_summary(...))` is byte-stable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.render import codes
from vlmdata.render.templates import IRRELEVANT

STATS = "统计"
CATEGORY = "类别"
REMARKS = "备注"
GROUPS = "分组统计"
GROUP_KEY = "组"
_EXTRA_KEYS = {"BBU": REMARKS, "RRU": GROUPS}


def parse_desc(desc: str, where: Location | None = None) -> tuple[str, list[tuple[str, str]]]:
    """`类别=X,k=v,...` → (X, [(k, v), ...]); a desc without `=` → (desc, [])."""
    if "=" not in desc:
        if not desc.strip():
            raise VlmdataError(codes.BAD_DESC, "empty desc", where=where, value=desc)
        return desc.strip(), []
    tokens = [t.strip() for t in desc.split(",")]
    pairs: list[tuple[str, str]] = []
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise VlmdataError(codes.BAD_DESC, f"token {tok!r} is not key=value", where=where, value=desc)
        pairs.append((key.strip(), value.strip()))
    if pairs[0][0] != CATEGORY:
        raise VlmdataError(
            codes.BAD_DESC, f"the first token must be {CATEGORY}=<category>", where=where, value=desc
        )
    if any(k == CATEGORY for k, _ in pairs[1:]):
        raise VlmdataError(codes.BAD_DESC, f"{CATEGORY} appears twice", where=where, value=desc)
    return pairs[0][1], pairs[1:]


def build_summary(
    objects: Sequence[Mapping[str, Any]], domain: str | None = None, where: Location | None = None
) -> dict[str, Any]:
    """The summary dict of a record's objects (see the module docstring for the counting rules)."""
    dom = (domain or "").upper()
    cats: dict[str, dict[str, dict[str, int]]] = {}
    groups: dict[str, int] = {}
    for i, obj in enumerate(objects):
        loc = (
            None if where is None else Location(where.file, where.line, where.record_id, f"objects[{i}].desc")
        )
        desc = obj.get("desc") if isinstance(obj, Mapping) else None
        if not isinstance(desc, str):
            raise VlmdataError(codes.BAD_DESC, "object has no desc string", where=loc, value=desc)
        category, attrs = parse_desc(desc, loc)
        counts = cats.setdefault(category, {})
        for key, value in attrs:
            bucket = counts.setdefault(key, {})
            for v in value.split("|"):
                v = v.strip()
                if v:
                    bucket[v] = bucket.get(v, 0) + 1
                    if dom == "RRU" and key == GROUP_KEY:
                        groups[v] = groups.get(v, 0) + 1
    stats = []
    for category in sorted(cats):
        entry: dict[str, Any] = {CATEGORY: category}
        for key in sorted(cats[category]):
            entry[key] = dict(sorted(cats[category][key].items()))
        stats.append(entry)
    out: dict[str, Any] = {STATS: stats}
    if groups:
        out[GROUPS] = dict(sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0])))
    return out


def summary_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, separators=(", ", ": "))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def validate_summary(summary: Any, domain: str | None = None) -> list[str]:
    """Every structural problem of a parsed summary, as `path: problem` strings (empty when valid)."""
    problems: list[str] = []
    dom = (domain or "").upper()
    if not isinstance(summary, dict):
        return ["$: the summary must be a JSON object"]
    if STATS not in summary:
        problems.append(f"$: missing top key {STATS}")
    allowed = (
        {STATS, REMARKS, GROUPS} if not dom else {STATS, *([_EXTRA_KEYS[dom]] if dom in _EXTRA_KEYS else [])}
    )
    for key in summary:
        if key not in allowed:
            problems.append(f"$.{key}: unexpected top key" + (f" for domain {dom}" if dom else ""))
    stats = summary.get(STATS, [])
    if not isinstance(stats, list):
        problems.append(f"$.{STATS}: must be a list")
        stats = []
    seen: list[str] = []
    for i, entry in enumerate(stats):
        path = f"$.{STATS}[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{path}: must be an object")
            continue
        cat = entry.get(CATEGORY)
        if not isinstance(cat, str) or not cat:
            problems.append(f"{path}: missing {CATEGORY}")
        elif cat in seen:
            problems.append(f"{path}: category {cat!r} listed twice")
        else:
            seen.append(cat)
        for key, counts in entry.items():
            if key == CATEGORY:
                continue
            if not isinstance(counts, dict) or not counts:
                problems.append(f"{path}.{key}: must be a non-empty object of value → count")
                continue
            for value, n in counts.items():
                if not _is_count(n):
                    problems.append(f"{path}.{key}.{value}: count must be a non-negative integer, got {n!r}")
    if REMARKS in summary:
        rem = summary[REMARKS]
        if not isinstance(rem, list) or not all(isinstance(r, str) for r in rem):
            problems.append(f"$.{REMARKS}: must be a list of strings")
    if GROUPS in summary:
        grp = summary[GROUPS]
        if not isinstance(grp, dict) or not all(_is_count(n) for n in grp.values()):
            problems.append(f"$.{GROUPS}: must map group ids to non-negative integer counts")
    return problems


def parse_summary(text: str, domain: str | None = None, where: Location | None = None) -> dict[str, Any]:
    """Parse a summary JSON line strictly (one line, no duplicate keys) and validate its structure."""
    if "\n" in text or "\r" in text:
        raise VlmdataError(codes.BAD_SUMMARY_JSON, "summary spans several lines", where=where)
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise VlmdataError(
            codes.BAD_SUMMARY_JSON, f"summary does not parse: {exc}", where=where, value=text[:80]
        ) from None
    problems = validate_summary(value, domain)
    if problems:
        raise VlmdataError(codes.BAD_SUMMARY_STRUCTURE, problems[0], where=where, details=problems[1:])
    return value


def parse_summary_target(text: str, domain: str | None = None) -> tuple[str | None, dict[str, Any] | None]:
    """A summary target → (header domain, summary); `无关图片` → (None, None). Raises VD422/VD413/VD414."""
    if text == IRRELEVANT:
        return None, None
    lines = text.split("\n")
    if len(lines) != 2:
        raise VlmdataError(codes.BAD_TARGET, f"a summary target has 2 lines, got {len(lines)}")
    head = lines[0]
    if not (head.startswith("<DOMAIN=") and head.endswith(">, <TASK=SUMMARY>")):
        raise VlmdataError(codes.BAD_TARGET, "line 1 is not <DOMAIN=X>, <TASK=SUMMARY>", value=head)
    got = head[len("<DOMAIN=") : -len(">, <TASK=SUMMARY>")]
    if domain is not None and got != domain.upper():
        raise VlmdataError(
            codes.BAD_TARGET, f"header domain {got!r} differs from {domain.upper()!r}", value=head
        )
    return got, parse_summary(lines[1], got)
