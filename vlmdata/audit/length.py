"""The exact sequence length of one record: ms-swift's Qwen3-VL template layout, counted without encoding.

ms-swift 4.6.0's `qwen3_vl` template (ChatML, no default system) lays a conversation out as

    [<|im_start|>system\\n{system}<|im_end|>\\n]
    per round:  <|im_start|>user\\n{query}<|im_end|>\\n<|im_start|>assistant\\n   (prompt, no loss)
                {response}                                                     (loss)
                <|im_end|>\\n                                                    (chat_sep / suffix)

where every image of a query is `<|vision_start|><|image_pad|><|vision_end|>` and the single `<|image_pad|>`
later becomes one token per 32x32 px of the resized image. ms-swift tokenises each run of equal loss scale as
one string; since every run boundary except prompt → response sits at a special token (which the tokenizer
splits on before anything else), counting the prompt and the response separately and adding the fixed pieces
is exact. The final suffix is dropped when the response already ends with a stop word, as ms-swift does.

Conversations arrive in the shape ms-swift encodes (`vlmdata.render.build_messages` merges consecutive turns of
one role and opens with a user turn, as ms-swift does). Earlier reasoning blocks are counted as written: the
`qwen3_vl` template keeps `<think>…</think>` of earlier assistant turns when training (it is not a thinking
template, so `preserve_thinking` resolves to True). What ms-swift would still rewrite is refused with VD430
rather than guessed: tool turns, a system turn after the first, a conversation that does not end with the
assistant, and text holding control tokens or media tags (`vlmdata.contract.text.text_issues`: `<|image_pad|>`
would become image slots, `<img>…</img>` in a chat without images an image read from disk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vlmdata.audit import codes
from vlmdata.audit.tokens import TokenCounter
from vlmdata.contract.codes import CONTROL_TOKEN
from vlmdata.errors import Location, VlmdataError
from vlmdata.models.qwen import (
    FACTOR,
    ResizeError,
    image_tokens,
    record_image_kwargs,
    record_pixel_bounds,
)

VISION = "<|vision_start|><|image_pad|><|vision_end|>"
ROUND_OPEN = "<|im_start|>user\n"
ROUND_PROMPT_END = "<|im_end|>\n<|im_start|>assistant\n"
TURN_END = "<|im_end|>\n"
STOP_WORDS = ("<|endoftext|>", "<|im_end|>")


@dataclass(frozen=True)
class Sized:
    length: int
    image_tokens: int

    @property
    def text_tokens(self) -> int:
        return self.length - self.image_tokens


def _where(record: Mapping[str, Any], field: str | None = None) -> Location:
    return Location(
        file=record.get("source_file") or None,
        line=record.get("source_line") or None,
        record_id=str(record.get("id")),
        field=field,
    )


def _refuse(record: Mapping[str, Any], message: str, field: str | None = None) -> VlmdataError:
    return VlmdataError(codes.UNSIZABLE_CONVERSATION, message, where=_where(record, field))


def _check_text(record: Mapping[str, Any], text: str, field: str, role: str) -> None:
    """Refuse text the template would act on (the contract's VD403 rule; validated data never holds it)."""
    from vlmdata.contract.text import text_issues

    has_images = bool(record.get("images"))
    for issue in text_issues(text, field, role, has_images):
        if issue.code == CONTROL_TOKEN.code:
            raise _refuse(record, f"ms-swift would rewrite this text: {issue.message}", field)


def _query_text(record: Mapping[str, Any], content: Any, field: str) -> tuple[str, int]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    parts: list[str] = []
    n_images = 0
    for item in content:
        if item.get("type") == "image":
            parts.append(VISION)
            n_images += 1
        elif item.get("type") == "text":
            _check_text(record, item["text"], field, "user")
            parts.append(item["text"])
        else:
            raise _refuse(record, f"unsupported content item type {item.get('type')!r}", field)
    return "".join(parts), n_images


def conversation_pieces(
    record: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], int]:
    """(prompt strings, response strings, number of images) in ms-swift's layout; refuses reshaped shapes."""
    msgs = list(messages)
    system = None
    if msgs and msgs[0]["role"] == "system":
        system = msgs.pop(0)["content"]
        if not isinstance(system, str):
            raise _refuse(record, "the system turn must be text", "messages[0]")
        _check_text(record, system, "messages[0]", "system")
    if not msgs or len(msgs) % 2:
        raise _refuse(
            record, "the conversation must alternate user/assistant turns and end with the assistant"
        )
    prompts: list[str] = []
    responses: list[str] = []
    n_images = 0
    for i in range(0, len(msgs), 2):
        user, assistant = msgs[i], msgs[i + 1]
        if user["role"] != "user" or assistant["role"] != "assistant":
            raise _refuse(
                record,
                f"turns {i}/{i + 1} are {user['role']}/{assistant['role']}, expected user/assistant",
                "messages",
            )
        query, k = _query_text(record, user["content"], f"messages[{i}]")
        n_images += k
        response = assistant["content"]
        if not isinstance(response, str):
            raise _refuse(record, "assistant turns must be text", f"messages[{i + 1}]")
        _check_text(record, response, f"messages[{i + 1}]", "assistant")
        head = f"<|im_start|>system\n{system}<|im_end|>\n" if (i == 0 and system) else ""
        prompts.append(head + ROUND_OPEN + query + ROUND_PROMPT_END)
        responses.append(response)
    return prompts, responses, n_images


def size_conversation(
    record: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    counter: TokenCounter,
    pixel_bounds: tuple[int, int],
    last_response_tokens: int | None = None,
) -> Sized:
    """Exact length of `messages` (built from `record`) as ms-swift's qwen3_vl template encodes it.

    `last_response_tokens`: the final assistant text's token count when already known (dense fast path).
    """
    prompts, responses, n_images = conversation_pieces(record, messages)
    n_record_images = len(record.get("images") or [])
    if n_images != n_record_images:
        raise _refuse(
            record, f"{n_images} image item(s) in the conversation for {n_record_images} image(s)", "images"
        )
    total = 0
    for prompt in prompts:
        total += counter.cached(prompt)
    last = len(responses) - 1
    for i, response in enumerate(responses):
        if i == last and last_response_tokens is not None:
            total += last_response_tokens
        else:
            total += counter.count(response)
        if i < last or not response.endswith(STOP_WORDS):
            total += counter.cached(TURN_END)
    img = 0
    if n_images:
        height, width = record.get("height"), record.get("width")
        if not height or not width:
            raise VlmdataError(
                codes.NO_IMAGE_SIZE,
                "the record has images but no width/height",
                where=_where(record, "width"),
            )
        try:
            lo, hi = record_pixel_bounds(record, pixel_bounds)
        except ValueError as exc:
            raise VlmdataError(codes.BAD_PIXEL_OVERRIDE, str(exc), where=_where(record, "metadata")) from None
        try:
            per_image = image_tokens(int(height), int(width), lo, hi)
        except ResizeError as exc:
            code = {"aspect": codes.ASPECT_RATIO, "zero": codes.ZERO_SIZE_IMAGE}.get(
                exc.kind, codes.BAD_PIXEL_OVERRIDE
            )
            hint = None
            if exc.kind == "zero":
                field = "metadata.max_pixels" if "max_pixels" in record_image_kwargs(record) else None
                hint = (
                    f"raise {field or 'template.max_pixels'} to at least {_budget_fix(exc, field)} or pad the "
                    "image to a less extreme aspect ratio; training would fail on it"
                )
            raise VlmdataError(
                code, str(exc), where=_where(record, "images"), value=f"{width}x{height}", hint=hint
            ) from None
        img = per_image * n_images
        total += img - n_images  # each <|image_pad|> was counted once in the prompt
    return Sized(total, img)


def _budget_fix(exc: ResizeError, field: str | None) -> int:
    """The value to suggest: exact for a record's own max_pixels, whole tokens for the run's (see images.py)."""
    need = int(exc.needed_max_pixels or 0)
    return need if field else -(-need // FACTOR**2) * FACTOR**2


def _dense_messages(
    record: Mapping[str, Any], template: Any, system: str | None, domain: str | None = None
) -> list[dict[str, Any]]:
    """`build_messages` for a dense template, with the target left out (it is counted, not rendered).

    `domain`: the record's domain, for templates whose prompts use it (`Template.prompt_needs_domain`).
    """
    images = list(record.get("images") or [])
    sys_text = template.system_prompt(len(images), domain) if system is None else system
    out: list[dict[str, Any]] = [{"role": "system", "content": sys_text}] if sys_text else []
    content: list[dict[str, Any]] = [{"type": "image", "image": img} for img in images]
    content.append({"type": "text", "text": template.prompt(len(images), domain)})
    out.append({"role": "user", "content": content})
    out.append({"role": "assistant", "content": ""})
    return out


def size_record(
    record: Mapping[str, Any],
    default_template: str,
    counter: TokenCounter,
    pixel_bounds: tuple[int, int],
    system: str | None = None,
) -> tuple[Sized, str]:
    """(length, template name) of a record rendered the way training renders it.

    Object-map targets (built-in or user templates) are counted without rendering when `vlmdata.audit.dense`
    can do it exactly; everything else — Qwen-list and summary targets, chat records, and any dense record the
    counter is unsure of — is rendered with `build_messages` and counted as text.
    """
    from vlmdata.render import build_messages, get_template, resolve_template

    name = resolve_template(record, default_template)
    template = get_template(name)
    if template.mode == "dense" and template.format == "object_map" and counter.fast:
        from vlmdata.audit.dense import DenseCounter
        from vlmdata.render.templates import prompt_domain, record_domain

        if counter.dense is None:
            counter.dense = DenseCounter(counter)
        header = None
        if template.header:
            domain = record_domain(template, record) if template.header_needs_domain else template.domain
            header = template.header_line(domain)
        target_tokens = counter.dense.count(record, header)
        if target_tokens is not None:
            messages = _dense_messages(record, template, system, prompt_domain(template, record))
            return size_conversation(record, messages, counter, pixel_bounds, target_tokens), name
    messages = build_messages(record, name, system=system)
    return size_conversation(record, messages, counter, pixel_bounds), name
