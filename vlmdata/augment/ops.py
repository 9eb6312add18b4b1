"""The op table: every augmentation op as one row — name, category, parameter model, sampler, kernel.

Categories:
- `affine`: contributes a 3×3 matrix; consecutive affines are composed and applied in one warp.
- `barrier`: flushes the pending affine, then changes the canvas itself (resize, crop, pad, expand).
- `colour`: touches pixels only; all colour ops run after the geometric ones, in config order.

A sampler draws everything random an op needs from its own generator, once per record, as plain unit-free
numbers (fractions, angles, factors), so the same draws serve every image of the record whatever its size.
Parameter names follow albumentations where it has one (`p`, `*_range`, `fill`). Adding an op means adding a
row to `OPS` (and, for a barrier, its function in `barriers.py`); the cross-cutting tests pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vlmdata.augment import colour
from vlmdata.geometry import transform as gt

Range = tuple[float, float]


class OpParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
    angle_range: Range = (-10.0, 10.0)


class ScaleParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    scale_range: tuple[float, float] = Field((0.9, 1.1))

    @field_validator("scale_range")
    @classmethod
    def _positive(cls, v: Range) -> Range:
        if v[0] <= 0:
            raise ValueError("scale_range values must be > 0")
        return v


class TranslateParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    shift_range: Range = (-0.05, 0.05)


class ResizeParams(ScaleParams):
    p: float = Field(1.0, ge=0.0, le=1.0)
    scale_range: Range = (0.75, 1.25)
    scales: list[float] | None = None
    align_multiple: int = Field(1, ge=1)


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
    scale_range: Range = (1.5, 3.0)
    min_size: int = Field(256, ge=1)
    min_visibility: float = Field(0.0, ge=0.0, le=1.0)


class ExpandParams(OpParams):
    multiple: int = Field(32, ge=1)
    max_pixels: int | None = Field(None, ge=1)


class PadParams(OpParams):
    multiple: int = Field(32, ge=1)
    fill: int | None = Field(None, ge=0, le=255)


class ColorJitterParams(OpParams):
    p: float = Field(0.8, ge=0.0, le=1.0)
    brightness_range: Range = (0.8, 1.2)
    contrast_range: Range = (0.8, 1.2)
    saturation_range: Range = (0.8, 1.2)
    hue_range: Range = (-0.02, 0.02)


class GammaParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    gamma_range: Range = (0.8, 1.25)


class SharpnessParams(OpParams):
    p: float = Field(0.3, ge=0.0, le=1.0)
    factor_range: Range = (0.5, 2.0)


class AutoContrastParams(OpParams):
    p: float = Field(0.2, ge=0.0, le=1.0)
    cutoff: float = Field(0.0, ge=0.0, lt=50.0)


class ClaheParams(OpParams):
    p: float = Field(0.2, ge=0.0, le=1.0)
    clip_limit_range: Range = (1.0, 4.0)
    tile_grid_size: int = Field(8, ge=1)


class JpegParams(OpParams):
    p: float = Field(0.5, ge=0.0, le=1.0)
    quality_range: Range = (60.0, 95.0)


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
