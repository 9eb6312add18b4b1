"""Qwen-VL native grounding answers → contract records with objects (streamed, two passes over the file).

A line is a conversation whose last assistant turn answers with Qwen-VL's grounding JSON, a list of
`{"bbox_2d": [x1, y1, x2, y2], "label": "..."}` (a ```json fence around it is fine, a single object is read as
a list of one). Two spellings of the conversation are read: ms-swift's (`messages` with `role`/`content`, plus
`images`) and Qwen/LLaVA's (`conversations` with `from`/`value`, plus `image` or `images`).

Coordinates come in one of two frames and the file does not say which: Qwen3-VL answers on the 0–1000 grid,
Qwen2.5-VL in pixels. The first pass reads every answer and every image size and decides for the whole file:

- a coordinate above 1000 exists → pixels (it cannot be on the grid);
- a coordinate beyond its image's width/height (all within 1000) exists → grid (it cannot be a pixel);
- both → the frame with more such records wins and the others are skipped (`out_of_bounds`);
- neither → every box fits both frames: the grid is assumed (Qwen3-VL's frame, the family vlmdata trains) and
  the report says so with warning VD177; `--frame pixel` states the other.

`--frame grid|pixel` skips the decision. The report's `frame` section gives the frame, how it was decided and
the evidence counts. Grid boxes become pixels with `vlmdata.geometry.frames.from_qwen_grid` (`x / 1000 · W`).
Entries with `point_2d` (and no box) are `unsupported_shape`; an answer that holds no box list is
`no_box_answer`. Each box → a `bbox_2d` object, desc from `--desc-template` (`category` = `label`). The user's
prompt text is kept in `metadata.qwen.prompt`; records with more than one image are not supported (their boxes
name no image) and are skipped as `unsupported_turn`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlmdata.contract.rules import BOUNDS_TOLERANCE, IMAGE_TAG
from vlmdata.geometry.frames import from_qwen_grid
from vlmdata.importers.codes import FRAME_ASSUMED
from vlmdata.importers.common import BadGeometry, Context, encode, numbers, pieces
from vlmdata.importers.desc import DescSkip, make_desc
from vlmdata.importers.images import ImageRef, ImageSkip
from vlmdata.importers.lines import LineShard, decoded, plan_lines
from vlmdata.importers.report import FileTally, ShardResult

FIELDS = ("category", "label")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class _Skip(Exception):
    def __init__(self, reason: str, field: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.reason, self.field, self.message, self.value = reason, field, message, value


def _turns(obj: dict[str, Any]) -> list[tuple[str, str]]:
    if isinstance(obj.get("messages"), list):
        raw, role_key, text_key = obj["messages"], "role", "content"
    elif isinstance(obj.get("conversations"), list):
        raw, role_key, text_key = obj["conversations"], "from", "value"
    else:
        raise _Skip("missing_field", "messages", "no `messages` or `conversations` list")
    out = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict) or _ROLE.get(str(turn.get(role_key))) is None:
            raise _Skip("unsupported_turn", f"{text_key}[{i}]", "turn without a user/assistant/system role")
        content = turn.get(text_key)
        if isinstance(content, list):
            content = "".join(item.get("text", "") for item in content if isinstance(item, dict))
        if not isinstance(content, str):
            raise _Skip("wrong_type", f"{text_key}[{i}]", "turn content must be text")
        out.append((_ROLE[turn[role_key]], content))
    return out


def _answer(text: str) -> list[Any]:
    fenced = _FENCE.search(text)
    body = (fenced.group(1) if fenced else text).strip()
    try:
        value = json.loads(body)
    except ValueError:
        raise _Skip("no_box_answer", "answer", "the answer is not JSON", text[:200]) from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise _Skip("no_box_answer", "answer", "the answer is not a list of objects", text[:200])
    return value


def _image(obj: dict[str, Any], ctx: Context) -> ImageRef:
    images = obj.get("images", obj.get("image"))
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, list) or not images:
        raise _Skip("missing_field", "images", "no image")
    if len(images) > 1:
        raise _Skip(
            "unsupported_turn", "images", "several images: the boxes do not say which one they are on"
        )
    ref = ctx.sizer.resolve(images[0]) if isinstance(images[0], str) else None
    if ref is None:
        raise _Skip("wrong_type", "images[0]", "image must be a path")
    if isinstance(ref, ImageSkip):
        raise _Skip(ref.reason, "images[0]", ref.message, ref.value)
    return ref


def _conversation(obj: dict[str, Any]) -> tuple[list[tuple[str, str]], list[Any]]:
    turns = _turns(obj)
    answers = [text for role, text in turns if role == "assistant"]
    if not answers:
        raise _Skip("no_box_answer", "messages", "no assistant turn")
    return turns, _answer(answers[-1])


def _boxes(entries: list[Any]) -> list[Any]:
    return [e.get("bbox_2d") for e in entries if isinstance(e.get("bbox_2d"), list)]


def plan(src: str, ctx: Context) -> Iterator[LineShard]:
    frame = ctx.options.frame
    evidence = {"records": 0, "beyond_grid": 0, "beyond_image": 0}
    if frame == "auto":
        scratch = FileTally(src)
        for shard in plan_lines(src):
            for _, obj in decoded(shard, scratch):
                try:
                    _, entries = _conversation(obj)
                    ref = _image(obj, ctx)
                except _Skip:
                    continue
                flat = [v for box in _boxes(entries) for v in box if type(v) in (int, float)]
                if not flat:
                    continue
                evidence["records"] += 1
                if max(flat) > 1000:
                    evidence["beyond_grid"] += 1
                elif max(flat[0::2] or [0]) > ref.width + BOUNDS_TOLERANCE or max(flat[1::2] or [0]) > (
                    ref.height + BOUNDS_TOLERANCE
                ):
                    evidence["beyond_image"] += 1
        pixel, grid = evidence["beyond_grid"], evidence["beyond_image"]
        if pixel or grid:
            chosen, how = ("pixel" if pixel > grid else "grid"), "evidence"
            if pixel and grid:
                how = "evidence (conflicting: the minority's records are skipped as out_of_bounds)"
        else:
            chosen, how = (
                "grid",
                "assumed: every box fits both frames (VD177); pass --frame pixel if not grid",
            )
    else:
        chosen, how = frame, "--frame"
    ctx.extra["frame"] = {"frame": chosen, "how": how, "evidence": evidence}
    if how.startswith("assumed"):
        ctx.extra["frame"]["warning"] = FRAME_ASSUMED.code
    return plan_lines(src, {"frame": chosen})


def convert(shard: LineShard, ctx: Context) -> ShardResult:
    result = ShardResult()
    tally = result.tally(shard.file)
    frame = shard.params["frame"]
    stem = Path(shard.file).stem
    for number, obj in decoded(shard, tally):
        try:
            turns, entries = _conversation(obj)
        except _Skip as skip:
            at = {"line": number, "field": skip.field}
            tally.skip_record(skip.reason, at, skip.message, value=skip.value)
            continue
        try:
            ref = _image(obj, ctx)
        except _Skip as skip:
            at = {"line": number, "field": skip.field}
            tally.skip_record(skip.reason, at, skip.message, annotations=len(entries), value=skip.value)
            continue
        objects: list[dict[str, Any]] = []
        for k, entry in enumerate(entries):
            made = _object(entry, frame, ref, ctx, tally, {"line": number, "field": f"answer[{k}]"})
            if made:
                tally.annotations.add_ok()
                tally.objects += len(made)
                objects.extend(made)
        if not objects:
            tally.skip_record("no_valid_annotations", {"line": number}, "every box of the answer was skipped")
            continue
        tally.records.add_ok()
        prompt = next((t for r, t in turns if r == "user"), "")
        extra = {
            k: v for k, v in obj.items() if k not in ("messages", "conversations", "images", "image", "id")
        }
        meta = {"prompt": prompt.replace(IMAGE_TAG, "").strip(), "frame": frame, **extra}
        rec_id = obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else f"{stem}:{number}"
        result.lines.append(
            encode(
                {
                    "id": rec_id,
                    "images": [ref.rel],
                    "width": ref.width,
                    "height": ref.height,
                    "objects": objects,
                    "metadata": {
                        "_import": {"format": "qwen", "file": shard.file, "line": number},
                        "qwen": meta,
                    },
                }
            )
        )
    return result


def _object(
    entry: dict[str, Any], frame: str, ref: ImageRef, ctx: Context, tally: FileTally, at: dict[str, Any]
) -> list[dict[str, Any]] | None:
    if "bbox_2d" not in entry:
        kind = next((k for k in entry if k.endswith("_2d")), None)
        if kind is not None:
            tally.skip_annotation("unsupported_shape", at, f"`{kind}` has no contract form", kind)
        else:
            tally.skip_annotation("missing_field", at, "entry without `bbox_2d`", entry)
        return None
    made = make_desc(ctx.desc, {"category": entry.get("label"), "label": entry.get("label")})
    if isinstance(made, DescSkip):
        tally.skip_annotation(made.reason, at, made.message, made.value, made.code)
        return None
    desc, changed = made
    if changed:
        tally.note("desc_whitespace")
    try:
        box = numbers(entry["bbox_2d"], "bbox_2d")
        if len(box) != 4:
            raise BadGeometry("bad_box", "VD209", f"bbox_2d needs 4 numbers, got {len(box)}", box)
        if frame == "grid":
            if any(v < 0 or v > 1000 for v in box):
                raise BadGeometry("out_of_bounds", "VD205", "a grid coordinate lies outside 0–1000", box)
            box = [float(v) for v in from_qwen_grid(box, ref.width, ref.height)]
        geoms = pieces("bbox_2d", list(box), ref.width, ref.height, ctx.options.clip)
    except BadGeometry as exc:
        tally.skip_annotation(
            exc.reason, at | {"field": at["field"] + ".bbox_2d"}, exc.message, exc.value, exc.code
        )
        return None
    extra = {k: v for k, v in entry.items() if k not in ("bbox_2d", "label")}
    out = []
    for g in geoms:
        obj: dict[str, Any] = {"desc": desc, "bbox_2d": g}
        obj["metadata"] = {"qwen": {"bbox_2d": entry["bbox_2d"], **extra}}
        out.append(obj)
    return out
