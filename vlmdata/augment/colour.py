"""Colour kernels on uint8 RGB arrays `(H, W, 3)`. They touch pixels only, never geometry.

Per-value maps (brightness, contrast, gamma, auto-contrast) are 256-entry lookup tables applied with
`cv2.LUT`; the rest use OpenCV's vectorised routines. Semantics follow torchvision/PIL: brightness multiplies,
contrast blends with the mean grey level (BT.601 luma of the channel means), saturation blends with the per-pixel grey image, hue rotates the chroma
plane (YIQ) by a fraction of the circle, sharpness blends with PIL's smoothing kernel.
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


_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as in PIL/torchvision grey conversion


def _luma_mean(img: np.ndarray) -> float:
    """Mean grey level: the BT.601 luma of the channel means (equals the mean of the grey image)."""
    return float(np.dot(_LUMA, cv2.mean(img)[:3]))


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    mean = _luma_mean(img)
    return _lut(img, (_RAMP - mean) * factor + mean)


def color_jitter(img: np.ndarray, b: float, c: float, s: float, h: float) -> np.ndarray:
    """brightness → contrast (lookup tables) → saturation and hue (one 3×3 colour matrix)."""
    out = contrast(brightness(img, b), c)
    if s == 1.0 and h == 0.0:
        return out
    return cv2.transform(out, chroma_matrix(s, h))


_RGB2YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ)


def chroma_matrix(saturation: float, hue: float) -> np.ndarray:
    """One 3×3 colour matrix: saturation (blend with the BT.601 grey image, as torchvision) followed by a hue
    rotation of `hue` turns (−0.5…0.5) of the chroma plane in YIQ space (luma kept)."""
    sat = saturation * np.eye(3) + (1.0 - saturation) * np.outer(np.ones(3), _LUMA)
    a = 2.0 * np.pi * hue
    rot = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    return (_YIQ2RGB @ rot @ _RGB2YIQ @ sat).astype(np.float32)


def saturation(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    gray = cv2.cvtColor(_gray(img), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(img, factor, gray, 1.0 - factor, 0.0)


def hue(img: np.ndarray, shift: float) -> np.ndarray:
    """Shift the HSV hue by `shift` of the full circle (−0.5…0.5). `color_jitter` uses the faster linear YIQ
    rotation (`chroma_matrix`) instead; this one is kept for exact HSV semantics."""
    if shift == 0.0:
        return img
    step = int(round(shift * 256))
    if step % 256 == 0:
        return img
    table = np.repeat(np.arange(256, dtype=np.int64)[:, None], 3, axis=1)
    table[:, 0] = (table[:, 0] + step) % 256  # rotate H, keep S and V
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
    return cv2.cvtColor(cv2.LUT(hsv, table.astype(np.uint8).reshape(1, 256, 3)), cv2.COLOR_HSV2RGB_FULL)


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
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:  # pragma: no cover - OpenCV always round-trips uint8 RGB
        return img
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
