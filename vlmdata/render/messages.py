"""The conversation builder shared by the audit, the trainer plugins and the export.

Output: ms-swift messages. An optional system turn (a string), one user turn whose content is one
`{"type": "image", "image": path-or-PIL}` item per record image, in order, then `{"type": "text", "text":
prompt}`, and one assistant turn whose content is the target string. ms-swift turns each image item into an
`<image>` tag in place (`StdTemplateInputs.remove_messages_media`), so the user text the model sees is
`"<image>" * n + prompt`; `to_swift_standard` produces exactly that string for JSONL export, so training
in-process and training on an export see the same tokens.

Chat records return their own messages, normalised to the same item form: every user turn becomes a list of
items in which string content is split at each `<image>` tag (text pieces kept verbatim, empty ones
dropped) and `image_url` items become `image` items; image slots are filled with the record's images (or the
given replacements) in order, and their number must equal the number of images. System and assistant turns
stay strings. A record's own system turn is kept; `system=` replaces it (or adds one).

Then the conversation takes the shape ms-swift 4.6.0 gives it before encoding (`Template._swift_prepare_inputs`,
`_get_std_messages`), so the audit, the export and every trainer see the turns the model sees: consecutive
user turns become one (their items concatenated, as ms-swift concatenates the texts without a separator),
consecutive assistant turns become one (texts concatenated), and an assistant turn that opens the conversation
gets an empty user turn before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from vlmdata.errors import VlmdataError
from vlmdata.render import codes
from vlmdata.render.templates import get_template, prompt_domain, where

IMAGE_TAG = "<image>"
_ROLES = ("system", "user", "assistant", "tool")


def _bad(record: Mapping[str, Any], message: str, field: str, value: Any = None) -> VlmdataError:
    return VlmdataError(codes.BAD_MESSAGES, message, where=where(record, field), value=value)


def _raw_messages(record: Mapping[str, Any]) -> list[Any]:
    raw = record.get("messages")
    if raw is None or raw == "":
        raise VlmdataError(codes.NO_MESSAGES, "the record has no messages", where=where(record, "messages"))
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise _bad(record, f"messages are not valid JSON: {exc}", "messages") from None
    if not isinstance(raw, list) or not raw:
        raise _bad(record, "messages must be a non-empty list", "messages", type(raw).__name__)
    return raw


def _split_text(text: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, piece in enumerate(text.split(IMAGE_TAG)):
        if i:
            items.append({"type": "image", "image": None})
        if piece:
            items.append({"type": "text", "text": piece})
    return items


def _items(record: Mapping[str, Any], content: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return _split_text(content)
    if not isinstance(content, list):
        raise _bad(record, "content must be text or a list of items", field, type(content).__name__)
    items: list[dict[str, Any]] = []
    for j, item in enumerate(content):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind == "text" and isinstance(item.get("text"), str):
            items.extend(_split_text(item["text"]))
        elif kind in ("image", "image_url"):
            value = item.get(kind)
            if isinstance(value, Mapping):
                value = value.get("url")
            items.append({"type": "image", "image": value})
        else:
            raise _bad(
                record, "items must be {type: text, text} or {type: image, image}", f"{field}[{j}]", item
            )
    return items


def _text_only(record: Mapping[str, Any], content: Any, field: str) -> str:
    items = _items(record, content, field)
    if any(it["type"] == "image" for it in items):
        raise _bad(record, "only user turns may hold images", field)
    return "".join(it["text"] for it in items)


def chat_messages(
    record: Mapping[str, Any], images: Sequence[Any] | None = None, system: str | None = None
) -> list[dict[str, Any]]:
    """A chat record's own messages in the item form (see the module docstring)."""
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(_raw_messages(record)):
        field = f"messages[{i}]"
        if not isinstance(msg, Mapping) or msg.get("role") not in _ROLES or "content" not in msg:
            raise _bad(
                record, "each message needs a role (system|user|assistant|tool) and content", field, msg
            )
        role = msg["role"]
        if role == "user":
            out.append({"role": "user", "content": _items(record, msg["content"], field + ".content")})
        else:
            out.append({"role": role, "content": _text_only(record, msg["content"], field + ".content")})
    slots = [it for m in out if m["role"] == "user" for it in m["content"] if it["type"] == "image"]
    fill = list(record.get("images") or []) if images is None else list(images)
    if fill or slots:
        if not fill and all(it["image"] for it in slots):
            fill = [it["image"] for it in slots]
        if len(fill) != len(slots):
            raise VlmdataError(
                codes.IMAGE_COUNT,
                f"{len(slots)} image slot(s) in the messages, {len(fill)} image(s)",
                where=where(record, "messages"),
                value=len(fill),
            )
        for it, img in zip(slots, fill, strict=True):
            it["image"] = img
    if system is not None:
        out = [m for m in out if m["role"] != "system"]
        out.insert(0, {"role": "system", "content": system})
    return _as_encoded(out)


def _as_encoded(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive user (items) and assistant (text) turns; open with a user turn (module docstring)."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        prev = out[-1] if out else None
        if prev is not None and prev["role"] == msg["role"] and msg["role"] in ("user", "assistant"):
            prev["content"] = prev["content"] + msg["content"]
        else:
            out.append(msg)
    first = 1 if out and out[0]["role"] == "system" else 0
    if first < len(out) and out[first]["role"] == "assistant":
        out.insert(first, {"role": "user", "content": []})
    return out


def build_messages(
    record: Mapping[str, Any],
    template_name: str,
    images: Sequence[Any] | None = None,
    objects: Sequence[Mapping[str, Any]] | None = None,
    system: str | None = None,
    *,
    prompt_only: bool = False,
) -> list[dict[str, Any]]:
    """Record (+ optional augmented images/objects) → ms-swift messages for `template_name`.

    `prompt_only=True` (inference on unlabelled data) leaves out the answer and never renders a target: the
    assistant turn of dense/summary templates, and a chat record's turns after its last user turn.
    """
    from vlmdata.render import render_target

    template = get_template(template_name)
    if template.mode == "chat":
        messages = chat_messages(record, images, system)
        if prompt_only:
            last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
            messages = messages[: last_user + 1]
        return messages
    paths = list(record.get("images") or [])
    imgs = paths if images is None else list(images)
    if len(imgs) != len(paths):
        raise VlmdataError(
            codes.IMAGE_COUNT,
            f"{len(imgs)} image(s) given for a record of {len(paths)}",
            where=where(record, "images"),
            value=len(imgs),
        )
    domain = prompt_domain(template, record)
    sys_text = template.system_prompt(len(imgs), domain) if system is None else system
    out: list[dict[str, Any]] = []
    if sys_text:
        out.append({"role": "system", "content": sys_text})
    content: list[dict[str, Any]] = [{"type": "image", "image": img} for img in imgs]
    content.append({"type": "text", "text": template.prompt(len(imgs), domain)})
    out.append({"role": "user", "content": content})
    if not prompt_only:
        out.append({"role": "assistant", "content": render_target(record, template_name, objects)})
    return out


def to_swift_standard(messages: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, str]], list[Any]]:
    """Item-form messages → ms-swift's standard form: string contents with `<image>` tags, plus the images."""
    flat: list[dict[str, str]] = []
    images: list[Any] = []
    for msg in messages:
        content = msg["content"]
        if isinstance(content, str):
            flat.append({"role": msg["role"], "content": content})
            continue
        text = ""
        for item in content:
            if item["type"] == "text":
                text += item["text"]
            else:
                text += IMAGE_TAG
                images.append(item["image"])
        flat.append({"role": msg["role"], "content": text})
    return flat, images
