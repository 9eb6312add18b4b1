"""The op table: every augmentation op as one row — name, category, parameter model, sampler, kernel.

Categories:
- `affine`: contributes a 3×3 matrix; consecutive affines are composed and applied in one warp.
- `barrier`: flushes the pending affine, then changes the canvas itself (resize, crop, pad, expand).
- `colour`: touches pixels only; all colour ops run after the geometric ones, in config order.

A sampler draws everything random an op needs from its own generator, once per record, as plain unit-free
numbers (fractions, angles, factors), so the same draws serve every image of the record whatever its size.
Parameter names follow albumentations where it has one (`p`, `*_range`, `fill`). Adding an op means adding a
row to `OPS` (and, for a barrier, its function in `barriers.py`); the cross-cutting tests pick it up.

Every parameter is bounded at load (`ConfigModel`: finite numbers, no booleans for numbers, plus each field's
own bounds), so no config can ask for a canvas or a table that would not fit in memory: resize scales are at
most `MAX_RESIZE`, alignment and padding multiples at most `MAX_MULTIPLE` px, CLAHE grids at most
`MAX_TILE_GRID` tiles a side, a canvas cap at most `MAX_CANVAS_PIXELS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from vlmdata.augment import colour
from vlmdata.config.base import ConfigModel
from vlmdata.geometry import transform as gt

Range = tuple[float, float]
MAX_RESIZE = 4.0  # a 4000 × 3000 image resized ×4 is 576 MB of RGB
MAX_MULTIPLE = 1024
MAX_TILE_GRID = 64
MAX_CANVAS_PIXELS = 2**28


def bounded(low: float, high: float, *, low_open: bool = False) -> Any:
    """A `[low, high]` range type whose two ends lie in `[low, high]` (`(low, high]` with `low_open`)."""
    end = Annotated[float, Field(gt=low, le=high) if low_open else Field(ge=low, le=high)]
    return tuple[end, end]


class OpParams(ConfigModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    p: float = Field(1.0, ge=0.0, le=1.0, description="probability the op is applied to a record")

    @field_validator("*", mode="after")
    @classmethod
    def _ordered_range(cls, value: Any, info: Any) -> Any:
        if info.field_name.endswith("_range") and value is not None and value[0] > value[1]:
            raise ValueError(f"{info.field_name} must be [low, high] with low <= high, got {list(value)}")
        return value


class FlipParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)


class RotateParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    angle_range: bounded(-360.0, 360.0) = (-10.0, 10.0)  # type: ignore[valid-type]


class ScaleParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    scale_range: bounded(0.0, 10.0, low_open=True) = (0.9, 1.1)  # type: ignore[valid-type]


class TranslateParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    shift_range: bounded(-1.0, 1.0) = (-0.05, 0.05)  # type: ignore[valid-type]


class ResizeParams(OpParams):
    p: float = Field(1.0, ge=0.0, le=1.0)
    scale_range: bounded(0.0, MAX_RESIZE, low_open=True) = (0.75, 1.25)  # type: ignore[valid-type]
    scales: list[Annotated[float, Field(gt=0.0, le=MAX_RESIZE)]] | None = Field(
        None, min_length=1, max_length=64
    )
    align_multiple: int = Field(1, ge=1, le=MAX_MULTIPLE)


class CropParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    size_range: Range = (0.6, 1.0)
    min_visibility: float = Field(0.0, ge=0.0, le=1.0)

    @field_validator("size_range")
    @classmethod
    def _fraction(cls, v: Range) -> Range:
        if not (0 < v[0] <= 1 and 0 < v[1] <= 1):
            raise ValueError("size_range values must be fractions in (0, 1]")
        return v


class RoiCropParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    anchor_categories: list[str] = Field(default_factory=list)
    scale_range: bounded(0.0, 100.0, low_open=True) = (1.5, 3.0)  # type: ignore[valid-type]
    min_size: int = Field(256, ge=1, le=65536)
    min_visibility: float = Field(0.0, ge=0.0, le=1.0)


class ExpandParams(OpParams):
    multiple: int = Field(32, ge=1, le=MAX_MULTIPLE)
    max_pixels: int | None = Field(None, ge=1, le=MAX_CANVAS_PIXELS)


class PadParams(OpParams):
    multiple: int = Field(32, ge=1, le=MAX_MULTIPLE)
    fill: int | None = Field(None, ge=0, le=255)


class ColorJitterParams(OpParams):
    p: float = Field(0.8, ge=0.0, le=1.0)
    brightness_range: bounded(0.0, 10.0) = (0.8, 1.2)  # type: ignore[valid-type]
    contrast_range: bounded(0.0, 10.0) = (0.8, 1.2)  # type: ignore[valid-type]
    saturation_range: bounded(0.0, 10.0) = (0.8, 1.2)  # type: ignore[valid-type]
    hue_range: bounded(-0.5, 0.5) = (-0.02, 0.02)  # type: ignore[valid-type]


class GammaParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    gamma_range: bounded(0.0, 10.0, low_open=True) = (0.8, 1.25)  # type: ignore[valid-type]


class SharpnessParams(OpParams):
    p: float = Field(0.3, ge=0.0, le=1.0)
    factor_range: bounded(0.0, 10.0) = (0.5, 2.0)  # type: ignore[valid-type]


class AutoContrastParams(OpParams):
    p: float = Field(0.2, ge=0.0, le=1.0)
    cutoff: float = Field(0.0, ge=0.0, lt=50.0)


class ClaheParams(OpParams):
    p: float = Field(0.2, ge=0.0, le=1.0)
    clip_limit_range: bounded(0.0, 100.0, low_open=True) = (1.0, 4.0)  # type: ignore[valid-type]
    tile_grid_size: int = Field(8, ge=1, le=MAX_TILE_GRID)


class JpegParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    quality_range: bounded(1.0, 100.0) = (60.0, 95.0)  # type: ignore[valid-type]


Category = Literal["affine", "barrier", "colour"]


@dataclass(frozen=True)
class OpSpec:
    name: str
    category: Category
    params: type[OpParams]
    sample: Callable[[np.random.Generator, Any], dict[str, Any]]
    matrix: Callable[[dict[str, Any], int, int], np.ndarray] | None = None  # affine
    image: Callable[[np.ndarray, dict[str, Any], Any], np.ndarray] | None = None  # colour


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _none(rng: np.random.Generator, prm: Any) -> dict[str, Any]:
    return {}


_TABLE: list[OpSpec] = [
    OpSpec("hflip", "affine", FlipParams, _none, matrix=lambda s, w, h: gt.hflip(w)),
    OpSpec("vflip", "affine", FlipParams, _none, matrix=lambda s, w, h: gt.vflip(h)),
    OpSpec(
        "rotate",
        "affine",
        RotateParams,
        lambda r, p: {"angle": _u(r, p.angle_range)},
        matrix=lambda s, w, h: gt.rotate_about(s["angle"], w / 2.0, h / 2.0),
    ),
    OpSpec(
        "scale",
        "affine",
        ScaleParams,
        lambda r, p: {"scale": _u(r, p.scale_range)},
        matrix=lambda s, w, h: gt.scale_about(s["scale"], s["scale"], w / 2.0, h / 2.0),
    ),
    OpSpec(
        "translate",
        "affine",
        TranslateParams,
        lambda r, p: {"dx": _u(r, p.shift_range), "dy": _u(r, p.shift_range)},
        matrix=lambda s, w, h: gt.translate(s["dx"] * w, s["dy"] * h),
    ),
    OpSpec(
        "resize",
        "barrier",
        ResizeParams,
        lambda r, p: {
            "scale": float(p.scales[int(r.integers(len(p.scales)))]) if p.scales else _u(r, p.scale_range)
        },
    ),
    OpSpec(
        "crop",
        "barrier",
        CropParams,
        lambda r, p: {"size": _u(r, p.size_range), "ux": float(r.random()), "uy": float(r.random())},
    ),
    OpSpec(
        "roi_crop",
        "barrier",
        RoiCropParams,
        lambda r, p: {
            "anchor_u": float(r.random()),
            "scale": _u(r, p.scale_range),
            "ux": float(r.random()),
            "uy": float(r.random()),
        },
    ),
    OpSpec("expand_to_fit", "barrier", ExpandParams, _none),
    OpSpec("pad_to_multiple", "barrier", PadParams, _none),
    OpSpec(
        "color_jitter",
        "colour",
        ColorJitterParams,
        lambda r, p: {
            "brightness": _u(r, p.brightness_range),
            "contrast": _u(r, p.contrast_range),
            "saturation": _u(r, p.saturation_range),
            "hue": _u(r, p.hue_range),
        },
        image=lambda img, s, p: colour.color_jitter(
            img, s["brightness"], s["contrast"], s["saturation"], s["hue"]
        ),
    ),
    OpSpec(
        "gamma",
        "colour",
        GammaParams,
        lambda r, p: {"gamma": _u(r, p.gamma_range)},
        image=lambda img, s, p: colour.gamma(img, s["gamma"]),
    ),
    OpSpec(
        "sharpness",
        "colour",
        SharpnessParams,
        lambda r, p: {"factor": _u(r, p.factor_range)},
        image=lambda img, s, p: colour.sharpness(img, s["factor"]),
    ),
    OpSpec(
        "auto_contrast",
        "colour",
        AutoContrastParams,
        _none,
        image=lambda img, s, p: colour.auto_contrast(img, p.cutoff),
    ),
    OpSpec(
        "clahe",
        "colour",
        ClaheParams,
        lambda r, p: {"clip_limit": _u(r, p.clip_limit_range)},
        image=lambda img, s, p: colour.clahe(img, s["clip_limit"], p.tile_grid_size),
    ),
    OpSpec(
        "jpeg_quality",
        "colour",
        JpegParams,
        lambda r, p: {"quality": int(round(_u(r, p.quality_range)))},
        image=lambda img, s, p: colour.jpeg_quality(img, s["quality"]),
    ),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _TABLE}


def valid_params(name: str) -> list[str]:
    return sorted(OPS[name].params.model_fields)
