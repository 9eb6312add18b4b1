"""Colour kernels on uint8 RGB arrays `(H, W, 3)`. They touch pixels only, never geometry.

Per-value maps (brightness, contrast, gamma, auto-contrast) are 256-entry lookup tables applied with
`cv2.LUT`; the rest use OpenCV's vectorised routines. Semantics follow torchvision/PIL: brightness multiplies,
contrast blends with the mean grey level, saturation blends with the per-pixel grey image, hue rotates the HSV
hue by a fraction of the circle, sharpness blends with PIL's smoothing kernel.
"""

from __future__ import annotations

import cv2
import numpy as np

_RAMP = np.arange(256, dtype=np.float64)


def _lut(img: np.ndarray, table: np.ndarray) -> np.ndarray:
    return cv2.LUT(img, np.clip(np.floor(table + 0.5), 0, 255).astype(np.uint8))


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def brightness(img: np.ndarray, factor: float) -> np.ndarray:
    return img if factor == 1.0 else _lut(img, _RAMP * factor)


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    mean = float(_gray(img).mean())
    return _lut(img, (_RAMP - mean) * factor + mean)


def saturation(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    gray = cv2.cvtColor(_gray(img), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(img, factor, gray, 1.0 - factor, 0.0)


def hue(img: np.ndarray, shift: float) -> np.ndarray:
    """Rotate hue by `shift` of the full circle (−0.5…0.5)."""
    if shift == 0.0:
        return img
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
    table = ((np.arange(256) + int(round(shift * 256))) % 256).astype(np.uint8)
    hsv[..., 0] = cv2.LUT(hsv[..., 0], table)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def gamma(img: np.ndarray, value: float) -> np.ndarray:
    return img if value == 1.0 else _lut(img, 255.0 * (_RAMP / 255.0) ** value)


_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / 13.0


def sharpness(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    blurred = cv2.filter2D(img, -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(img, factor, blurred, 1.0 - factor, 0.0)


def auto_contrast(img: np.ndarray, cutoff: float = 0.0) -> np.ndarray:
    """Stretch each channel to 0–255, ignoring `cutoff` percent of the darkest and brightest pixels."""
    out = np.empty_like(img)
    for c in range(img.shape[2]):  # three channels, not a per-pixel loop
        ch = np.ascontiguousarray(img[..., c])
        if cutoff > 0:
            lo, hi = np.percentile(ch, [cutoff, 100.0 - cutoff])
        else:
            lo, hi = float(ch.min()), float(ch.max())
        if hi <= lo:
            out[..., c] = ch
            continue
        out[..., c] = _lut(ch, (_RAMP - lo) * (255.0 / (hi - lo)))
    return out


def clahe(img: np.ndarray, clip_limit: float, tile_grid_size: int) -> np.ndarray:
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    op = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid_size), int(tile_grid_size)))
    lab[..., 0] = op.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def jpeg_quality(img: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode as JPEG at `quality` in memory (the compression artefacts are the augmentation)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        return img
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
