"""The Qwen-VL image resize, and the records it cannot encode.

Qwen3-VL sees every image resized by `qwen_vl_utils.smart_resize(h, w, factor=32, min_pixels, max_pixels)`
(0.0.14, the version ms-swift 4.6.0 uses): each side rounded half-to-even to a multiple of 32, then scaled down
with floor when the result exceeds `max_pixels`, or up with ceil when it is below `min_pixels`. `smart_resize`
here performs the same float operations, so it equals the original on every input (a test compares them).

Two inputs break it, and both only surface in the middle of a training run unless refused before:

- an aspect ratio above `MAX_RATIO` (200): qwen_vl_utils raises;
- a budget too small for the shorter side: the floor path gives that side 0 px (e.g. a 32×3000 image under
  `max_pixels: 65536`, or any image under a per-record `max_pixels` below one 32×32 token), and the image
  processor fails on the empty image.

`checked_resize` raises `ResizeError` for both (and for `max_pixels < min_pixels`). The record contract refuses
what it can know from the record alone (the ratio; a record's own `metadata.max_pixels`); the run-wide budget
is a run-config matter, checked by `vlmdata audit` and by the trainer before step 1. This module is the one
place both use; the token arithmetic of audit, export and training (`vlmdata.models.qwen`) builds on it.
"""

from __future__ import annotations

import math

PATCH_SIZE = 16
MERGE_SIZE = 2
FACTOR = PATCH_SIZE * MERGE_SIZE  # 32 px per image-token side
MAX_RATIO = 200  # qwen_vl_utils MAX_RATIO (vlmdata exports it to ms-swift as is)
TOKEN_PIXELS = FACTOR * FACTOR


class ResizeError(ValueError):
    """`kind` is "aspect" (ratio above MAX_RATIO), "zero" (a side resizes to 0 px) or "bounds" (max < min)."""

    def __init__(self, kind: str, message: str, needed_max_pixels: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.needed_max_pixels = needed_max_pixels


def aspect_ratio_exceeded(height: int, width: int) -> bool:
    """True when qwen_vl_utils refuses the size (`max / min > MAX_RATIO`, the same float division)."""
    return max(height, width) / min(height, width) > MAX_RATIO


def smart_resize(
    height: int, width: int, min_pixels: int, max_pixels: int, factor: int = FACTOR
) -> tuple[int, int]:
    """qwen_vl_utils' resize target (same float operations, Python's round-half-even included).

    Like the original it raises for an aspect ratio above MAX_RATIO and may return a side of 0 px.
    """
    if max_pixels < min_pixels:
        raise ResizeError("bounds", f"max_pixels {max_pixels} < min_pixels {min_pixels}")
    if aspect_ratio_exceeded(height, width):
        raise ResizeError(
            "aspect", f"aspect ratio {max(height, width) / min(height, width):.1f} exceeds {MAX_RATIO}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def needed_max_pixels(height: int, width: int) -> int:
    """The smallest `max_pixels` under which no side of this image resizes to 0 px (ratio ≤ MAX_RATIO)."""
    short, long = sorted((int(height), int(width)))
    rounded = max(FACTOR, round(height / FACTOR) * FACTOR) * max(FACTOR, round(width / FACTOR) * FACTOR)
    # the floor path keeps the short side iff short · sqrt(max / (h·w)) ≥ 32, i.e. max ≥ 1024 · long / short
    need = max(1, (TOKEN_PIXELS * long + short - 1) // short)
    for _ in range(8):  # float rounding may move the threshold by a pixel or two
        if 0 in smart_resize(height, width, 1, need):
            need += 1
        elif need > 1 and 0 not in smart_resize(height, width, 1, need - 1):
            need -= 1
        else:
            break
    return min(need, rounded)  # at `rounded` and above there is no downscale at all


def checked_resize(height: int, width: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """`smart_resize`, refusing every size Qwen-VL cannot encode (`ResizeError`)."""
    h, w = smart_resize(height, width, min_pixels, max_pixels)
    if h == 0 or w == 0:
        need = needed_max_pixels(height, width)
        raise ResizeError(
            "zero",
            f"a {width}×{height} image resizes to {w}×{h} px under max_pixels {max_pixels}: "
            f"it needs max_pixels ≥ {need}",
            need,
        )
    return h, w
