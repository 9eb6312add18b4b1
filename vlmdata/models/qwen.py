"""Qwen3-VL's rules as ms-swift 4.6.0 applies them: image tokens, pixel bounds, the length limit, and the
record metadata they read. Audit, export, training and the trainer plugins all use this one module.

Image tokens, in closed form, equal to what ms-swift 4.6.0 feeds Qwen3-VL. The resize itself (`smart_resize`,
`checked_resize`) lives one layer down, in `vlmdata.contract.imagesize`, because validation refuses the sizes it
cannot encode; this module builds on it and re-exports it.

How ms-swift sizes a Qwen3-VL image (read from `swift/template/templates/qwen.py`, `swift/model/models/qwen.py`
and `qwen_vl_utils/vision_process.py` 0.0.14):

1. The template's `replace_tag` calls `qwen_vl_utils.fetch_image({"image": ..., **row.chat_template_kwargs},
   image_patch_size=16)`, which resizes the image to `smart_resize(h, w, factor=32, min_pixels, max_pixels)`.
   `min_pixels`/`max_pixels` come from the row's `chat_template_kwargs` when present (our per-record override),
   otherwise from `IMAGE_MIN_TOKEN_NUM * 32**2` / `IMAGE_MAX_TOKEN_NUM * 32**2`.
2. `IMAGE_MIN_TOKEN_NUM` / `IMAGE_MAX_TOKEN_NUM` are read from the environment once per process, when ms-swift
   loads the processor (`patch_qwen_vl_utils`); `MIN_PIXELS` / `MAX_PIXELS` env vars are turned into them by
   integer division by 32**2. Defaults: 4 and 16384 tokens.
3. The image processor then runs with `do_resize=False`, so the grid is (h/16, w/16) and the number of
   `<|image_pad|>` tokens is (h/32) * (w/32).
4. ms-swift's own `max_pixels` argument adds a pre-resize (`rescale_image`) that truncates to whole pixels
   without the 32 px rounding; vlmdata never sets it (the train plugins pass `backend_image_env` instead).

So a run's `template.min_pixels` / `template.max_pixels` act as whole tokens: `pixels // 1024` tokens, i.e.
3136 → 3 tokens = 3072 px. `effective_pixel_bounds` applies that rounding; per-record overrides
(`metadata.min_pixels` / `metadata.max_pixels`) travel exactly through `chat_template_kwargs`
(`record_image_kwargs`). EXIF orientation does not matter: the count is symmetric in height and width.

The length limit: a sample of `length` tokens fits a run only when `length < global_max_length`
(`over_length`); at the limit there is no room left for the end-of-sequence position, so nothing is truncated
and a sample at or over the limit is refused wherever lengths are known (audit, trainer start, every encoded
sample).

Record metadata: a record's `metadata` is a JSON object, stored as a JSON string in the Arrow datasets and
as a mapping in memory. `record_metadata` reads either form (anything unreadable is empty); the keys vlmdata
itself sets start with `_` (`_source`, `_template`, ...), the per-record pixel bounds are `min_pixels` and
`max_pixels`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vlmdata.contract.imagesize import (
    FACTOR,
    MAX_RATIO,
    MERGE_SIZE,
    PATCH_SIZE,
    ResizeError,
    checked_resize,
    smart_resize,
)

__all__ = [
    "FACTOR",
    "MAX_RATIO",
    "MERGE_SIZE",
    "PATCH_SIZE",
    "ResizeError",
    "backend_image_env",
    "bound_tokens",
    "effective_pixel_bounds",
    "image_tokens",
    "record_image_kwargs",
    "record_pixel_bounds",
    "smart_resize",
]

DEFAULT_MIN_TOKENS = 4  # qwen_vl_utils IMAGE_MIN_TOKEN_NUM
DEFAULT_MAX_TOKENS = 16384  # qwen_vl_utils IMAGE_MAX_TOKEN_NUM


def image_tokens(height: int, width: int, min_pixels: int, max_pixels: int) -> int:
    """Number of `<|image_pad|>` tokens for an image of this displayed size under these pixel bounds.

    Raises `ResizeError` (a ValueError) for a size Qwen-VL cannot encode: ratio above 200, a side resized to
    0 px, or max_pixels < min_pixels."""
    h, w = checked_resize(int(height), int(width), int(min_pixels), int(max_pixels))
    return (h // FACTOR) * (w // FACTOR)


def _get(cfg: Any, key: str) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        return cfg.get(key)
    return getattr(cfg, key, None)


def bound_tokens(template_cfg: Any) -> tuple[int, int]:
    """(min, max) whole image tokens ms-swift will use for the run's `template` section."""
    min_px, max_px = _get(template_cfg, "min_pixels"), _get(template_cfg, "max_pixels")
    min_tok = DEFAULT_MIN_TOKENS if min_px is None else int(min_px) // FACTOR**2
    max_tok = DEFAULT_MAX_TOKENS if max_px is None else int(max_px) // FACTOR**2
    return min_tok, max_tok


def effective_pixel_bounds(template_cfg: Any) -> tuple[int, int]:
    """(min_pixels, max_pixels) as ms-swift applies them: whole tokens of 32x32 px."""
    min_tok, max_tok = bound_tokens(template_cfg)
    return min_tok * FACTOR**2, max_tok * FACTOR**2


def backend_image_env(template_cfg: Any) -> dict[str, str]:
    """Environment for ms-swift so its Qwen3-VL resize equals `image_tokens` under `effective_pixel_bounds`.

    Set it before ms-swift loads the processor (it reads these once per process).
    """
    min_tok, max_tok = bound_tokens(template_cfg)
    return {
        "IMAGE_MIN_TOKEN_NUM": str(min_tok),
        "IMAGE_MAX_TOKEN_NUM": str(max_tok),
        "SPATIAL_MERGE_SIZE": str(MERGE_SIZE),
        "MAX_RATIO": str(MAX_RATIO),
    }


def over_length(length: Any, global_max_length: int) -> Any:
    """True where a sample of `length` tokens does not fit the run (`length >= global_max_length`); works on
    plain integers and elementwise on numpy arrays."""
    return length >= global_max_length


def metadata_dict(value: Any) -> dict[str, Any]:
    """A `metadata` value (a JSON string as stored, a mapping in memory, or None) as a new dict."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def record_metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's `metadata` as a new dict (empty when absent or unreadable)."""
    return metadata_dict(record.get("metadata"))


def metadata_source(value: Any, default: str) -> str:
    """The dataset a record comes from: `metadata._source` (set by fusion) when it is a non-empty string, else
    `default` (its dataset's name). `value` is the record's `metadata` (a JSON string skips decoding when it
    cannot hold the key)."""
    if isinstance(value, str) and '"_source"' not in value:
        return default
    tag = metadata_dict(value).get("_source")
    return tag if isinstance(tag, str) and tag else default


def record_source(record: Mapping[str, Any], default: str) -> str:
    return metadata_source(record.get("metadata"), default)


def record_image_kwargs(record: Mapping[str, Any]) -> dict[str, int]:
    """The record's own pixel bounds (`metadata.min_pixels` / `metadata.max_pixels`), for the ms-swift row's
    `chat_template_kwargs`; empty when the record has none. Values are validated by `record_pixel_bounds`."""
    meta = record_metadata(record)
    return {k: meta[k] for k in ("min_pixels", "max_pixels") if k in meta and meta[k] is not None}


def record_pixel_bounds(record: Mapping[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    """(min_pixels, max_pixels) for this record: its overrides (exact) over the run's effective bounds.

    Raises ValueError with a message when an override is unusable (the audit turns it into VD433).
    """
    from vlmdata.contract.rules import pixel_override_issues

    over = record_image_kwargs(record)
    lo, hi = default
    problems = pixel_override_issues(over, None, None)  # the contract's rule on the values themselves
    if problems:
        raise ValueError(problems[0].message)
    lo = over.get("min_pixels", lo)
    hi = over.get("max_pixels", hi)
    if hi < lo:
        raise ValueError(f"max_pixels {hi} < min_pixels {lo}")
    return lo, hi
