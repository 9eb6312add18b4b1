"""Reward registry and the record context every reward reads."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vlmdata_plugins.rewards.codes import NO_TEMPLATE, UNKNOWN_REWARD

from vlmdata.errors import VlmdataError

RewardFn = Callable[[str, Mapping[str, Any]], float]
REWARDS: dict[str, RewardFn] = {}


END_TOKENS = ("<|im_end|>", "<|endoftext|>")


def clean_completion(completion: str) -> str:
    """The completion without trailing whitespace and chat end tokens (`<|im_end|>`, `<|endoftext|>`), which a
    rollout may or may not keep: they never change a reward."""
    text = completion.rstrip()
    while True:
        for token in END_TOKENS:
            if text.endswith(token):
                text = text[: -len(token)].rstrip()
                break
        else:
            return text


def register(name: str) -> Callable[[RewardFn], RewardFn]:
    """Register `fn` under `name`; the registered function sees the completion cleaned by `clean_completion`."""

    def wrap(fn: RewardFn) -> RewardFn:
        if name in REWARDS:
            raise ValueError(f"reward {name!r} registered twice")

        @functools.wraps(fn)
        def reward(completion: str, record: Mapping[str, Any]) -> float:
            return fn(clean_completion(completion), record)

        REWARDS[name] = reward
        return fn

    return wrap


def get_reward(name: str) -> RewardFn:
    try:
        return REWARDS[name]
    except KeyError:
        raise VlmdataError(
            UNKNOWN_REWARD, f"unknown reward {name!r}", hint="known rewards: " + ", ".join(sorted(REWARDS))
        ) from None


@dataclass(frozen=True)
class RecordContext:
    """What rewards need to know about the reference record."""

    template: str
    mode: str
    domain: str | None
    header: bool
    irrelevant: bool
    spec: Any = None  # the `vlmdata.render.Template` (format, header line, fence)


def record_context(record: Mapping[str, Any]) -> RecordContext:
    from vlmdata.models.qwen import record_metadata
    from vlmdata.render.templates import get_template, is_irrelevant, record_domain

    name = record_metadata(record).get("_template")
    if not name:
        raise VlmdataError(
            NO_TEMPLATE,
            "record has no metadata._template: the expected format is unknown",
            value=record.get("id"),
        )
    tpl = get_template(name)
    irrelevant = is_irrelevant(record)
    domain = record_domain(tpl, record) if tpl.header_needs_domain and not irrelevant else tpl.domain
    return RecordContext(tpl.name, tpl.mode, domain, tpl.header, irrelevant, tpl)


def render_rewards_markdown() -> str:
    """docs/rewards.md, generated from the rewards' docstrings (a test keeps it current)."""
    import inspect

    import vlmdata_plugins.rewards  # noqa: F401  (registers the built-ins)

    lines = [
        "# Rewards",
        "",
        "Named reward functions `(completion, record) -> float` for `vlmdata train --plugin grpo`, selected with",
        "`rlhf.reward_funcs` and weighted with `rlhf.reward_weights`. The record's template",
        "(`metadata._template`) decides the expected format (object map or Qwen list), header line and domain,",
        "built-in or defined in YAML. Dense scores use the 0–1000 grid, the reference being the record's own",
        "target as rendered for training; parsing, matching and IoU are those of `vlmdata eval` (docs/eval.md).",
        "Every reward sees the completion without trailing whitespace and chat end tokens (`<|im_end|>`), so they",
        "never change a score. Generated from the code: `python -m vlmdata_plugins.rewards.registry`.",
        "",
        "| reward | definition and range |",
        "|---|---|",
    ]
    for name, fn in sorted(REWARDS.items()):
        doc = " ".join((inspect.getdoc(fn) or "").split())
        lines.append(f"| `{name}` | {doc.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from vlmdata_plugins.rewards.registry import render_rewards_markdown as _render

    print(_render(), end="")
