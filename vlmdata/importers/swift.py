"""ms-swift JSONL → contract chat records (streamed), grounding placeholders resolved into plain text.

Input lines are ms-swift's standard format: `messages` (`role` system/user/assistant, `content` a string or
typed items), `images` (paths), and for grounding data `objects: {"ref": [...], "bbox": [[...], ...],
"bbox_type": ..., "image_id": [...]}` whose entries replace the `<ref-object>` and `<bbox>` placeholders of
the messages, in order across the whole conversation (ms-swift's own order).

What the record holds after import is what the model is trained on, with nothing left for a template to fill:

- `<ref-object>` → the ref text itself.
- `<bbox>` → the box (or point) on Qwen3-VL's 0–1000 grid as plain JSON-style text, `[x1, y1, x2, y2]`
  (`[x, y]` for a point): ms-swift's rendering for Qwen3-VL without the legacy `<|box_start|>` tokens. The grid
  is vlmdata's single definition (`vlmdata.geometry.frames.to_qwen_grid`: half-up rounding, clamped), so it can
  differ from ms-swift's half-to-even `round` only on exact .5 ties. `bbox_type`: `real` (pixels of the image
  `image_id` names, the default), `norm1` (0–1, ms-swift's other documented type) or `norm1000` (already on the
  grid, written by many converters; rounded half-up to integers).
- The finished conversation goes through the contract's own conversation rules
  (`vlmdata.contract.text.conversation_issues`, what `vlmdata validate` applies): text the chat template
  acts on (model-specific grounding tokens such as `<|box_start|>`, Qwen control tokens) is not guessed at
  (`model_tokens`), and shapes ms-swift cannot train on (a system turn after the first, images outside user
  turns, no final assistant answer) are `bad_conversation`.
- A conversation without any `<image>` tag gets one per image at the start of its first user turn, which is
  what ms-swift does for such records; any other mismatch of tags and images is `placeholder_count`.

Plain chat lines (no `objects`) pass through the same way. Image paths resolve against `--image-root` (default:
the JSONL's folder); the sizes come from the headers and all images of a record must share one size (the
contract's rule). Roles other than system/user/assistant (tool calls), videos and audios have no contract form
(`unsupported_turn`). The original `objects` and any other field (`rejected_response`, `label`, `tools`,
per-turn keys such as `loss`) are kept in `metadata.swift`. Record id: the line's `id` when it is a string, else
`<file stem>:<line number>`. Annotations are the `ref` and `bbox` entries: each resolves a placeholder or is
counted as `unused_object`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from vlmdata.contract.rules import BOUNDS_TOLERANCE, IMAGE_TAG
from vlmdata.contract.text import conversation_issues, count_placeholders
from vlmdata.geometry.frames import to_qwen_grid
from vlmdata.importers.codes import REASON_OF_CODE
from vlmdata.importers.common import BadGeometry, Context, encode, numbers
from vlmdata.importers.images import ImageRef, ImageSkip
from vlmdata.importers.lines import LineShard, decoded, plan_lines
from vlmdata.importers.report import FileTally, ShardResult

FIELDS = ("category",)
ROLES = ("system", "user", "assistant")
_PLACEHOLDER = re.compile(r"(<ref-object>|<bbox>)")
_OWN = frozenset({"messages", "images", "objects", "id", "system", "videos", "audios"})


def plan(src: str, ctx: Context) -> Iterator[LineShard]:
    return plan_lines(src)


class _Skip(Exception):
    def __init__(
        self, reason: str, field: str, message: str, value: Any = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason, self.field, self.message, self.value, self.code = reason, field, message, value, code


def convert(shard: LineShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.file)
    stem = Path(shard.file).stem
    for number, obj in decoded(shard, tally):
        n_entries = _entry_count(obj.get("objects"))
        try:
            line = _record(obj, number, stem, shard.file, ctx, tally, n_entries)
        except _Skip as skip:
            tally.skip_record(
                skip.reason,
                {"line": number, "field": skip.field},
                skip.message,
                annotations=n_entries,
                value=skip.value,
                code=skip.code,
            )
            continue
        tally.records.add_ok()
        result.lines.append(line)
    return result


def _entry_count(objects: Any) -> int:
    objects = _objects_dict(objects)
    if objects is None:
        return 0
    return sum(len(v) for k in ("ref", "bbox") if isinstance(v := objects.get(k), list))


def _objects_dict(objects: Any) -> dict[str, Any] | None:
    if isinstance(objects, str):  # some datasets store it as a JSON string (ms-swift accepts both)
        try:
            objects = msgspec.json.decode(objects)
        except msgspec.DecodeError:
            return None
    return objects if isinstance(objects, dict) else None


def _messages(obj: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """(contract messages, per-turn extra keys, image paths found in content items)."""
    raw = obj.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _Skip(
            "missing_field", "messages", "no `messages` list (ms-swift's standard format is required)"
        )
    turns: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    inline: list[str] = []
    system = obj.get("system")
    if isinstance(system, str) and not any(isinstance(t, dict) and t.get("role") == "system" for t in raw):
        turns.append({"role": "system", "content": system})
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise _Skip("wrong_type", f"messages[{i}]", "a turn must be an object")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise _Skip(
                "unsupported_turn", f"messages[{i}].role", f"role {role!r} has no contract form", role
            )
        if isinstance(content, list):
            items = []
            for k, item in enumerate(content):
                kind = item.get("type") if isinstance(item, dict) else None
                if kind == "text" and isinstance(item.get("text"), str):
                    items.append({"type": "text", "text": item["text"]})
                elif kind == "image" and isinstance(item.get("image"), str):
                    items.append({"type": "image", "image": item["image"]})
                    inline.append(item["image"])
                else:
                    raise _Skip(
                        "unsupported_turn",
                        f"messages[{i}].content[{k}]",
                        f"content item of type {kind!r} has no contract form",
                        kind,
                    )
            content = items
        elif not isinstance(content, str):
            raise _Skip("wrong_type", f"messages[{i}].content", "content must be a string or a list of items")
        turns.append({"role": role, "content": content})
        rest = {k: v for k, v in turn.items() if k not in ("role", "content")}
        if rest:
            extras[str(len(turns) - 1)] = rest
    return turns, extras, inline


def _images(obj: dict[str, Any], inline: list[str], ctx: Context) -> list[ImageRef]:
    for medium in ("videos", "audios"):
        if obj.get(medium):
            raise _Skip("unsupported_turn", medium, f"{medium} have no contract form")
    field = obj.get("images")
    if field is None:
        field = inline
    if isinstance(field, str):
        field = [field]
    if not isinstance(field, list):
        raise _Skip("wrong_type", "images", "images must be a list of paths")
    refs: list[ImageRef] = []
    for i, item in enumerate(field):
        if isinstance(item, dict) and isinstance(item.get("path"), str) and not item.get("bytes"):
            item = item["path"]
        if not isinstance(item, str):
            raise _Skip("unsupported_turn", f"images[{i}]", "only image paths are supported (no bytes)")
        ref = ctx.sizer.resolve(item)
        if isinstance(ref, ImageSkip):
            raise _Skip(ref.reason, f"images[{i}]", ref.message, ref.value, ref.code)
        if refs and (ref.width, ref.height) != (refs[0].width, refs[0].height):
            raise _Skip(
                "mixed_image_sizes",
                f"images[{i}]",
                f"{ref.width}×{ref.height} differs from images[0] {refs[0].width}×{refs[0].height}",
            )
        refs.append(ref)
    return refs


def _grid_text(box: list[float], bbox_type: str, ref: ImageRef, j: int) -> str:
    field = f"objects.bbox[{j}]"
    if len(box) < 2 or len(box) % 2:
        raise _Skip("odd_coordinates", field, "a bbox is [x, y] or [x1, y1, x2, y2]", box, "VD201")
    if bbox_type == "real":
        for k, v in enumerate(box):
            limit = ref.width if k % 2 == 0 else ref.height
            if v < -BOUNDS_TOLERANCE or v > limit + BOUNDS_TOLERANCE:
                raise _Skip(
                    "out_of_bounds", field, f"outside the {ref.width}×{ref.height} image", box, "VD205"
                )
        grid = to_qwen_grid(box, ref.width, ref.height)
    else:
        scale = 1 if bbox_type == "norm1" else 1000
        if any(v < 0 or v > scale for v in box):
            raise _Skip(
                "out_of_bounds", field, f"{bbox_type} coordinates must lie in [0, {scale}]", box, "VD205"
            )
        grid = to_qwen_grid(box, scale, scale)
    return "[" + ", ".join(str(v) for v in grid) + "]"


def _resolve(
    turns: list[dict[str, Any]], objects: dict[str, Any] | None, refs: list[ImageRef]
) -> tuple[int, int]:
    """Replace every placeholder in `turns` (in place); (entries used, entries no placeholder uses)."""
    objects = objects or {}
    ref_list = objects.get("ref") or []
    bbox_list = objects.get("bbox") or []
    bbox_type = objects.get("bbox_type") or "real"
    image_ids = objects.get("image_id") or []
    if not isinstance(ref_list, list) or not all(isinstance(r, str) for r in ref_list):
        raise _Skip("wrong_type", "objects.ref", "objects.ref must be a list of strings")
    if not isinstance(bbox_list, list) or not isinstance(image_ids, list):
        raise _Skip("wrong_type", "objects.bbox", "objects.bbox and objects.image_id must be lists")
    if bbox_type not in ("real", "norm1", "norm1000"):
        raise _Skip("wrong_type", "objects.bbox_type", "bbox_type must be real, norm1 or norm1000", bbox_type)
    used = {"ref": 0, "bbox": 0}

    def substitute(text: str, where: str) -> str:
        parts = _PLACEHOLDER.split(text)
        for k in range(1, len(parts), 2):
            if parts[k] == "<ref-object>":
                if used["ref"] >= len(ref_list):
                    raise _Skip(
                        "unresolved_placeholder",
                        where,
                        f"<ref-object> #{used['ref'] + 1} has no objects.ref entry",
                    )
                parts[k] = ref_list[used["ref"]]
                used["ref"] += 1
            else:
                j = used["bbox"]
                if j >= len(bbox_list):
                    raise _Skip("unresolved_placeholder", where, f"<bbox> #{j + 1} has no objects.bbox entry")
                try:
                    box = numbers(bbox_list[j], f"objects.bbox[{j}]")
                except BadGeometry as exc:
                    raise _Skip(exc.reason, f"objects.bbox[{j}]", exc.message, exc.value, exc.code) from None
                image_id = image_ids[j] if j < len(image_ids) else 0
                if type(image_id) is not int or not 0 <= image_id < max(1, len(refs)) or not refs:
                    raise _Skip(
                        "unresolved_placeholder",
                        f"objects.image_id[{j}]",
                        "the box names no image of the record",
                        image_id,
                    )
                parts[k] = _grid_text(box, bbox_type, refs[image_id], j)
                used["bbox"] += 1
        return "".join(parts)

    for i, turn in enumerate(turns):
        content = turn["content"]
        if isinstance(content, str):
            turn["content"] = substitute(content, f"messages[{i}].content")
        else:
            for k, item in enumerate(content):
                if item["type"] == "text":
                    item["text"] = substitute(item["text"], f"messages[{i}].content[{k}]")
    done = used["ref"] + used["bbox"]
    return done, len(ref_list) + len(bbox_list) - done


def _record(
    obj: dict[str, Any], number: int, stem: str, file: str, ctx: Context, tally: FileTally, n_entries: int
) -> bytes:
    turns, extras, inline = _messages(obj)
    refs = _images(obj, inline, ctx)
    tags = count_placeholders(turns)
    added = False
    if refs and tags == 0:
        first_user = next((t for t in turns if t["role"] == "user"), None)
        if first_user is None:
            raise _Skip("placeholder_count", "messages", "images but no user turn to put them in")
        if isinstance(first_user["content"], str):
            first_user["content"] = IMAGE_TAG * len(refs) + first_user["content"]
        else:
            first_user["content"] = [{"type": "image", "image": r.rel} for r in refs] + first_user["content"]
        added = True
    objects = obj.get("objects")
    objects_dict = _objects_dict(objects)
    if objects is not None and objects_dict is None:
        raise _Skip("wrong_type", "objects", "objects must be an object (or its JSON text)")
    used, unused = _resolve(turns, objects_dict, refs)
    issues = conversation_issues(turns, len(refs))  # the contract's own rules on the finished conversation
    if issues:
        first = issues[0]
        reason = REASON_OF_CODE.get(first.code, "bad_conversation")
        raise _Skip(reason, first.field or "messages", first.message, first.value, first.code)
    tally.annotations.add_ok(used)
    if unused:
        tally.skip_annotation(
            "unused_object",
            {"line": number, "field": "objects"},
            f"{unused} objects entr{'y' if unused == 1 else 'ies'} matched no placeholder",
            n=unused,
        )
    if added:
        tally.note("image_tags_added")
    record: dict[str, Any] = {
        "id": obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else f"{stem}:{number}"
    }
    if refs:
        record.update({"images": [r.rel for r in refs], "width": refs[0].width, "height": refs[0].height})
    record["messages"] = turns
    meta: dict[str, Any] = {k: v for k, v in obj.items() if k not in _OWN}
    if objects_dict is not None:
        meta["objects"] = objects_dict
    if extras:
        meta["turn_keys"] = extras
    record["metadata"] = {"_import": {"format": "swift", "file": file, "line": number}, "swift": meta}
    return encode(record)
