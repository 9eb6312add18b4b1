"""Rules on text: what descs, summaries and chat turns may hold, and the conversation shapes ms-swift encodes.

The chat template acts on some text: Qwen's special tokens, ms-swift's media tags and grounding placeholders.
`text_issues` refuses them wherever data could carry them (every chat turn, desc and summary; the run config's
system prompt through the config loader; the texts of user templates), and `conversation_issues` holds the shapes ms-swift 4.6.0's encode
takes as written (docs/contract.md gives the reading of its source behind each rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from vlmdata.contract import codes
from vlmdata.contract.rules import IMAGE_TAG, IRRELEVANT_SUMMARY, Issue

# Text the chat template acts on. Qwen-VL's special tokens all have the form <|name|> and its tokenizer matches
# them anywhere in a text, so data holding one injects chat structure (<|im_end|>) or image slots
# (<|image_pad|>). The grounding ones, and ms-swift's own grounding placeholders, are left-over templates
# (the model would learn the placeholder) and get their own code. ms-swift turns <img>path</img> into an image
# (reading the file) in any conversation that has no images of its own.
SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z0-9_]+\|>")
GROUNDING_TOKENS = frozenset(
    {
        "<|box_start|>",
        "<|box_end|>",
        "<|object_ref_start|>",
        "<|object_ref_end|>",
        "<|quad_start|>",
        "<|quad_end|>",
    }
)
GROUNDING_PLACEHOLDERS = ("<bbox>", "<ref-object>")
SWIFT_IMAGE_PATH = re.compile(r"<img>(.+?)</img>")


def count_placeholders(messages: Sequence[Mapping[str, Any]]) -> int:
    count = 0
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, str):
            count += content.count(IMAGE_TAG)
        elif isinstance(content, list):
            for item in content:
                if item.get("type") == "image":
                    count += 1
                elif item.get("type") == "text":
                    count += str(item.get("text", "")).count(IMAGE_TAG)
    return count


def summary_issue(summary: str) -> Issue | None:
    if summary == IRRELEVANT_SUMMARY:
        return None
    tokens = text_issues(summary, "summary", "summary")
    if tokens:
        return tokens[0]
    if "\n" in summary or "\r" in summary:
        return Issue(codes.SUMMARY_JSON.code, "summary must be one line", "summary", summary)
    if summary.lstrip().startswith(("{", "[")):
        try:
            parsed = msgspec.json.decode(summary)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            return Issue(codes.SUMMARY_JSON.code, f"summary JSON does not parse: {exc}", "summary", summary)
        if not isinstance(parsed, dict):
            return Issue(codes.SUMMARY_JSON.code, "summary JSON must be an object", "summary", summary)
    return None


def _listed(found: list[str]) -> str:
    unique = list(dict.fromkeys(found))
    return ", ".join(unique[:4]) + (f" (+{len(unique) - 4} more)" if len(unique) > 4 else "")


def text_issues(text: str, field: str, role: str, record_has_images: bool = True) -> list[Issue]:
    """Control tokens, grounding placeholders and misplaced media tags in one text.

    `role` is the text's place: a chat turn's role (`user`, `assistant`, `system`), `desc`, `summary`, or
    `prompt` (a template's text, which the conversation builder places next to the images it adds itself).
    `<image>` belongs in user turns only (elsewhere ms-swift takes it for an image slot; a prompt holding one
    would add a slot without an image); `<img>…</img>` is refused in a prompt and in the turns of a record
    without images, where ms-swift would rewrite it.
    """
    if "<" not in text:
        return []
    out: list[Issue] = []
    special = SPECIAL_TOKEN.findall(text)
    grounding = [p for p in GROUNDING_PLACEHOLDERS if p in text] + [
        t for t in special if t in GROUNDING_TOKENS
    ]
    control = [t for t in special if t not in GROUNDING_TOKENS]
    if grounding:
        out.append(
            Issue(
                codes.GROUNDING_PLACEHOLDER.code,
                f"text still holds grounding placeholder(s) {_listed(grounding)}",
                field,
                grounding[0],
            )
        )
    if control:
        out.append(
            Issue(
                codes.CONTROL_TOKEN.code,
                f"text holds the model's control token(s) {_listed(control)}; data cannot write chat structure",
                field,
                control[0],
            )
        )
    if IMAGE_TAG in text and role != "user":
        if role in ("desc", "summary", "prompt"):
            out.append(
                Issue(
                    codes.CONTROL_TOKEN.code,
                    f"{IMAGE_TAG} in a {role}: ms-swift would take it for an image slot",
                    field,
                    IMAGE_TAG,
                )
            )
        else:
            out.append(Issue(codes.BAD_MESSAGES.code, "only user turns may hold images", field, IMAGE_TAG))
    if role == "prompt" or (role in ("user", "assistant", "system") and not record_has_images):
        hit = SWIFT_IMAGE_PATH.search(text)
        if hit is not None:
            out.append(
                Issue(
                    codes.CONTROL_TOKEN.code,
                    f"<img>…</img> in a {'prompt' if role == 'prompt' else 'chat without images'}: ms-swift would "
                    "replace it with an image read from that path",
                    field,
                    hit.group(0),
                )
            )
    return out


def conversation_issues(turns: Sequence[Mapping[str, Any]], n_images: int) -> list[Issue]:
    """The shape rules ms-swift needs (system first only, images in user turns, a final assistant turn), the
    text rules of every turn, and the placeholder count. `turns` hold typed contents (str or item dicts)."""
    out: list[Issue] = []
    for i, turn in enumerate(turns):
        role, content = turn["role"], turn["content"]
        if role == "system" and i > 0:
            out.append(
                Issue(
                    codes.BAD_MESSAGES.code, "a system turn may only come first", f"messages[{i}].role", role
                )
            )
        if isinstance(content, str):
            out += text_issues(content, f"messages[{i}].content", role, n_images > 0)
            continue
        for j, item in enumerate(content):
            where = f"messages[{i}].content[{j}]"
            if item.get("type") == "image":
                if role != "user":
                    out.append(Issue(codes.BAD_MESSAGES.code, "only user turns may hold images", where))
            elif item.get("type") == "text":
                out += text_issues(str(item.get("text") or ""), f"{where}.text", role, n_images > 0)
    if not turns or turns[-1]["role"] != "assistant":
        last = len(turns) - 1
        out.append(
            Issue(
                codes.BAD_MESSAGES.code,
                "the conversation must end with an assistant turn (the answer training learns)",
                f"messages[{max(last, 0)}].role",
                turns[last]["role"] if turns else None,
            )
        )
    seen = count_placeholders(turns)
    if seen != n_images:
        at = next((i for i, t in enumerate(turns) if count_placeholders([t])), None)
        at = at if at is not None else next((i for i, t in enumerate(turns) if t["role"] == "user"), 0)
        out.append(
            Issue(
                codes.PLACEHOLDER_COUNT.code,
                f"{seen} image placeholder(s) for {n_images} image(s)",
                f"messages[{at}].content",
                seen,
            )
        )
    return out
