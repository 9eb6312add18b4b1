"""Decoding an image as displayed: the one way `augment`, `render`, `infer` and training read pixels.

`load_image(path, max_pixels)`:

1. probes the header first (`probe_image`): a missing, unreadable, truncated, oversized, unsupported or
   unfaithful-mode file fails with its contract code (VD300–VD309) before a byte of pixels is decoded;
2. opens the file with PIL restricted to the supported formats, with PIL's own decompression-bomb check
   replaced by ours: `Image.open` reads the process-wide `Image.MAX_IMAGE_PIXELS`, so a limit raised with
   `--max-image-pixels` would otherwise still die in PIL's `DecompressionBombError` (above 2× PIL's default).
   The swap is done under a lock and only around `Image.open` (which reads headers only); the size PIL reports
   is then checked against `max_pixels` again, so a file changed since the probe cannot slip through;
3. applies the EXIF orientation (`ImageOps.exif_transpose`), so pixels match the displayed size that
   validation checked geometry against;
4. converts to 8-bit RGB: transparent images are composited on white, as ms-swift's (qwen_vl_utils') loader
   does; pixel modes that do not convert faithfully were refused in step 1 (VD309).

`load_image_fit(path, max_side, max_pixels)` also scales the image to fit `max_side` (render): a JPEG is
decoded at a reduced scale (`Image.draft`), so a large photo never needs its full-size pixels, and other formats
are box-reduced before their RGB copy.

Every failure is an `ImageProblem` (code + message); callers turn it into their own per-record outcome.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from vlmdata.contract import codes
from vlmdata.io.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    FAITHFUL_MODES,
    SUPPORTED_FORMATS,
    ImageProblem,
    probe_image,
)

_OPEN_LOCK = threading.Lock()
_FORMATS = sorted(SUPPORTED_FORMATS - {"MPO"})  # PIL's JPEG opener returns MPO files as MPO itself
_TRANSPARENT = ("RGBA", "RGBa", "LA", "La", "PA")


def _open(path: str, max_pixels: int | None) -> Any:
    from PIL import Image

    with _OPEN_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # our limit, checked on the header just before and just after
        try:
            im = Image.open(path, formats=_FORMATS)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    if max_pixels is not None and im.width * im.height > max_pixels:
        im.close()
        raise ImageProblem(
            codes.DECOMPRESSION_BOMB.code,
            f"{im.width}×{im.height} = {im.width * im.height} pixels > limit {max_pixels}",
        )
    if im.mode not in FAITHFUL_MODES:
        im.close()
        raise ImageProblem(codes.HIGH_BIT_DEPTH.code, f"pixel mode {im.mode}")
    return im


def _rgb(image: Any) -> Any:
    from PIL import Image

    if image.mode in _TRANSPARENT or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return image.convert("RGB") if image.mode != "RGB" else image


def _decode(path: str, max_pixels: int | None, max_side: int | None, probed: bool = False) -> Any:
    from PIL import Image, ImageOps

    if not probed:
        probe_image(path, max_pixels)
    try:
        with _open(path, max_pixels) as im:
            if max_side is not None and im.format == "JPEG":
                scale = min(1.0, max_side / max(im.width, im.height))
                im.draft("RGB", (max(1, int(im.width * scale) + 1), max(1, int(im.height * scale) + 1)))
            im.load()
            image = ImageOps.exif_transpose(im)
            if max_side is not None and im.format != "JPEG":  # shrink before the RGB copy of a huge image
                factor = max(image.width, image.height) // max_side
                if factor >= 2 and image.mode in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"):
                    image = image.reduce(factor)
            return _rgb(image)
    except ImageProblem:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as exc:
        code = codes.IMAGE_TRUNCATED.code if "truncated" in str(exc) else codes.IMAGE_UNREADABLE.code
        raise ImageProblem(code, f"cannot decode the image ({exc})") from None


def load_image(path: str, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> Any:
    """The image at `path` as an 8-bit RGB PIL image, EXIF orientation applied (see the module docstring)."""
    return _decode(path, max_pixels, None)


def load_image_fit(
    path: str, max_side: int, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[Any, float]:
    """(the image scaled to fit `max_side` on its longer side, never enlarged; the scale from displayed pixels)."""
    from PIL import Image

    info = probe_image(path, max_pixels)
    width, height = info.displayed
    scale = min(1.0, max_side / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = _decode(path, max_pixels, max_side, probed=True)
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS)
    return image, scale
