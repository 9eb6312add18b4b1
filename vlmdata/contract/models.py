"""The record contract, version 1, as strict pydantic v2 models: the single definition of a valid record.

`Record.model_validate_json(line)` is the reference verdict for one JSONL line (contract.md): strict types (no
string-to-number or bool-to-number coercion), finite numbers, unknown keys forbidden, exactly one geometry per
object, geometry and bounds rules, summary JSON and placeholder counts. The semantic rules live in `rules.py`
and are raised as one `contract` error carrying every issue found, so a rejected record is explained in full.
Things that need the file system or other records (image headers, duplicate ids) are not part of the model:
they are checked by `vlmdata validate`. `vlmdata schema` prints `Record.model_json_schema()`.
"""

from __future__ import annotations

import math
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from vlmdata.contract import codes
from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.contract.rules import (
    Issue,
    aspect_issue,
    bounds_issues,
    bounds_ok,
    desc_ok,
    frame_warning,
    image_path_issue,
    object_issues,
    pixel_override_issues,
)
from vlmdata.contract.text import conversation_issues, summary_issue, text_issues

CONTRACT_VERSION = 1


@dataclass
class DetailBudget:
    """Issues still to be detailed for the record being explained (`explain.explain_bounded` sets one).

    Past the budget a broken rule is only counted in `deferred`, and the record's own validator fails the
    record once for all of them: the verdict never changes, but a record with thousands of bad objects costs
    about what validating it costs, not one full pydantic error and explanation per object.
    """

    remaining: int
    deferred: Counter[str] = field(default_factory=Counter)


DETAIL_BUDGET: ContextVar[DetailBudget | None] = ContextVar("vlmdata_detail_budget", default=None)


def _raise_issues(issues: list[Issue]) -> None:
    if issues:
        budget = DETAIL_BUDGET.get()
        if budget is not None:
            listed = max(budget.remaining, 0)
            if len(issues) > listed:
                budget.deferred.update(i.code for i in issues[listed:])
                issues = issues[:listed]
                if not issues:
                    return
            budget.remaining -= len(issues)
        detail = "; ".join(f"{i.code} {i.field or ''}: {i.message}".replace(" :", ":") for i in issues)
        raise PydanticCustomError(
            "contract", "{detail}", {"detail": detail, "issues": [i.as_dict() for i in issues]}
        )


def _finite_json(value: Any) -> Any:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_finite_json)]
Coords = list[float]
MAX_SIZE = 2**31 - 1  # sizes are stored as int32
PositiveInt = Annotated[int, Field(gt=0, le=MAX_SIZE)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=False)


class Object(_Strict):
    """One annotation: a one-line description and exactly one geometry, in pixels of the stored image."""

    desc: str = Field(description="Non-empty, one line (no newline, carriage return or tab).", min_length=1)
    bbox_2d: Annotated[Coords, Field(min_length=4, max_length=4)] | None = Field(
        None, description="[x1, y1, x2, y2] with x1 < x2 and y1 < y2."
    )
    poly: Coords | None = Field(
        None, description="Flat [x1, y1, ..., xn, yn], n ≥ 3, closed implicitly, non-zero area."
    )
    line: Coords | None = Field(
        None, description="Flat [x1, y1, ..., xn, yn], n ≥ 2, an open polyline, not all points equal."
    )
    poly_points: int | None = Field(None, description="Number of polygon points; must equal len(poly) / 2.")
    line_points: int | None = Field(None, description="Number of line points; must equal len(line) / 2.")
    image_index: int = Field(0, ge=0, description="Which image of the record the geometry lies on.")
    attributes: JsonObject | None = None
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _geometry(self) -> Object:
        issues = []
        if not desc_ok(self.desc):
            issues.append(
                Issue(
                    codes.BAD_DESC.code, "desc contains a newline, carriage return or tab", "desc", self.desc
                )
            )
        issues += text_issues(self.desc, "desc", "desc")
        issues += object_issues(self.__dict__)
        _raise_issues(issues)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in GEOMETRY_KINDS if getattr(self, k) is not None)

    @property
    def points(self) -> list[float]:
        return list(getattr(self, self.kind))


class TextItem(_Strict):
    type: Literal["text"]
    text: str


class ImageItem(_Strict):
    type: Literal["image"]
    image: str


ContentItem = Annotated[TextItem | ImageItem, Field(discriminator="type")]


class Message(_Strict):
    """One pre-written conversation turn (ms-swift's messages format)."""

    role: Literal["system", "user", "assistant"]
    content: str | list[ContentItem]


class Record(_Strict):
    """One JSONL line: images with annotated objects and/or a summary, or a chat-only conversation."""

    model_config = ConfigDict(title="vlmdata record (contract v1)")

    id: str | None = Field(
        None, min_length=1, description="Stable id; derived from a hash of the canonical JSON when absent."
    )
    images: list[str] | None = Field(
        None, min_length=1, description="Local image paths (relative to the JSONL folder or --image-root)."
    )
    width: PositiveInt | None = Field(
        None, description="Displayed width (after EXIF orientation) of every image."
    )
    height: PositiveInt | None = Field(
        None, description="Displayed height (after EXIF orientation) of every image."
    )
    objects: list[Object] | None = Field(
        None, description="Annotations; may be empty or absent only when `summary` is present."
    )
    summary: str | None = Field(None, description="The literal 无关图片 or a one-line JSON object.")
    messages: list[Message] | None = Field(
        None, min_length=1, description="Chat-only records: pre-written turns."
    )
    metadata: JsonObject | None = Field(None, description="Free-form; vlmdata's own keys start with `_`.")

    @model_validator(mode="after")
    def _record_rules(self) -> Record:
        _raise_issues(record_issues(self))
        budget = DETAIL_BUDGET.get()
        if budget is not None and budget.deferred:  # counted past the budget (see DetailBudget)
            raise PydanticCustomError("contract_more", "further issues are counted, not listed")
        return self


def record_issues(rec: Record) -> list[Issue]:
    out: list[Issue] = []
    images = rec.images
    if images is None:
        if rec.messages is None:
            out.append(
                Issue(
                    codes.MISSING_FIELD.code,
                    "record needs `images` (or `messages` for a chat-only record)",
                    "images",
                )
            )
        if rec.objects:
            out.append(Issue(codes.MISSING_FIELD.code, "objects need `images`", "images"))
    else:
        for i, path in enumerate(images):
            issue = image_path_issue(path, f"images[{i}]")
            if issue is not None:
                out.append(issue)
        for key in ("width", "height"):
            if getattr(rec, key) is None:
                out.append(Issue(codes.MISSING_FIELD.code, f"`{key}` is required with images", key))
        if rec.messages is None and not rec.objects and rec.summary is None:
            what = "empty objects" if rec.objects is not None else "no objects"
            out.append(Issue(codes.NO_OBJECTS.code, f"record has {what} and no summary", "objects"))
        if rec.width is not None and rec.height is not None:
            issue = aspect_issue(rec.width, rec.height)
            if issue is not None:
                out.append(issue)
            out += pixel_override_issues(rec.metadata, rec.width, rec.height)
    n_images = len(images or [])
    w, h = rec.width, rec.height
    out_of_bounds = False
    budget = DETAIL_BUDGET.get()
    for i, obj in enumerate(rec.objects or []):
        if images is not None and obj.image_index >= n_images:
            out.append(
                Issue(
                    codes.IMAGE_INDEX.code,
                    f"image_index {obj.image_index} but the record has {n_images} image(s)",
                    f"objects[{i}].image_index",
                    obj.image_index,
                )
            )
        if w is not None and h is not None:
            points = getattr(obj, obj.kind)
            if budget is not None and len(out) >= budget.remaining:  # past the budget: count, do not explain
                if not bounds_ok(points, w, h):
                    budget.deferred[codes.OUT_OF_BOUNDS.code] += 1
                    out_of_bounds = True
                continue
            errors, _ = bounds_issues(points, w, h, f"objects[{i}].{obj.kind}")
            out += errors
            out_of_bounds = out_of_bounds or bool(errors)
    if (
        out_of_bounds and w is not None and h is not None
    ):  # the usual cause: 0–1000 grid values stored as pixels
        hint = frame_warning([o.points for o in rec.objects or []], w, h)
        if hint is not None:
            out.append(hint)
    if rec.summary is not None:
        issue = summary_issue(rec.summary)
        if issue is not None:
            out.append(issue)
    if rec.messages is not None:
        out += conversation_issues([m.model_dump() for m in rec.messages], n_images)
    return out
