"""Model-facing coordinate frames. The only place pixel coordinates are converted.

Qwen3-VL grounds on an integer 0–1000 grid: `x_grid = round(x / W · 1000)`, `y_grid = round(y / H · 1000)`,
clamped to [0, 1000]. Rounding is half-up (`floor(v + 0.5)`), not Python's half-to-even, so 0.5 never rounds
differently depending on its integer part. Frames are produced only when targets are rendered, never stored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GRID = 1000


def _check_size(width: float, height: float) -> None:
    if not (width > 0 and height > 0):
        from vlmdata.errors import VlmdataError
        from vlmdata.geometry.codes import BAD_FRAME_SIZE

        raise VlmdataError(BAD_FRAME_SIZE, "width and height must be > 0", value=(width, height))


def to_qwen_grid(points: Any, width: float, height: float) -> Any:
    """Flat `[x1, y1, ...]` (or `(N, 2)`) pixels → ints in 0–1000; a list for list input, else an int64 array."""
    _check_size(width, height)
    arr = np.asarray(points, dtype=np.float64)
    xy = arr.reshape(-1, 2)
    grid = np.floor(xy / np.array([width, height], dtype=np.float64) * GRID + 0.5)
    out = np.clip(grid, 0, GRID).astype(np.int64).reshape(arr.shape)
    if isinstance(points, np.ndarray):
        return out
    return [int(v) for v in out.reshape(-1)]


def from_qwen_grid(points: Any, width: float, height: float) -> np.ndarray:
    """Grid ints → pixel coordinates (float64, same shape): `x = g / 1000 · W`."""
    _check_size(width, height)
    arr = np.asarray(points, dtype=np.float64)
    return (arr.reshape(-1, 2) / GRID * np.array([width, height], dtype=np.float64)).reshape(arr.shape)
