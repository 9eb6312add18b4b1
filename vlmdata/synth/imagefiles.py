"""Encoding synthetic images: JPEG/PNG, EXIF orientation, and the broken files the defect planter needs.

An `ImageJob` says what file to produce; `encode_image` turns it into bytes. Encoders are deterministic
(same pixels -> same bytes: PIL's JPEG/PNG writers carry no timestamps).

EXIF orientation: the record's `width`/`height` are the *displayed* size (contract.md). For a job with
orientation `o`, the scene is painted at the displayed size and the stored pixels are the inverse of the
transform `PIL.ImageOps.exif_transpose` applies for `o`, so a viewer shows the painted scene and the
geometry matches the displayed pixels. `store_raw=True` (the EXIF-mismatch defect) stores the painted pixels
as they are under a rotating tag, so the displayed image is rotated against the record.

The decompression-bomb file is written by hand: a PNG signature, an IHDR chunk that claims huge dimensions,
a tiny IDAT and IEND — a few dozen bytes whose header alone reveals the pixel count.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from vlmdata.synth.scene import SceneObject, render_scene

# What exif_transpose does for each orientation, and the transform that undoes it.
_EXIF_APPLY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_UNDO = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})
EXTENSIONS = {
    "jpeg": ".jpg",
    "png": ".png",
    "gif": ".gif",
    "bomb": ".png",
    "garbage": ".jpg",
    "text": ".png",
    "truncated-jpeg": ".jpg",
    "truncated-png": ".png",
}


@dataclass
class ImageJob:
    relpath: str  # relative to the output folder
    width: int  # displayed size (what the scene is painted at)
    height: int
    domain: str
    fmt: str  # jpeg | png | gif | bomb | garbage | text | truncated-jpeg | truncated-png
    seed: tuple[int, ...]  # entropy of the pixel generator
    objects: list[SceneObject] = field(default_factory=list)
    orientation: int = 1
    store_raw: bool = False


def render_pixels(job: ImageJob) -> np.ndarray:
    rng = np.random.default_rng(list(job.seed))
    return render_scene(rng, job.width, job.height, job.domain, job.objects)


def encode_image(job: ImageJob) -> bytes:
    if job.fmt == "bomb":
        return bomb_png(job.width, job.height)
    if job.fmt == "garbage":
        rng = np.random.default_rng(list(job.seed))
        noise = bytearray(rng.bytes(2048))
        noise[0] = 0x5A  # JPEG start-of-image, then noise where the first marker should be: not a JPEG
        return b"\xff\xd8" + bytes(noise)
    if job.fmt == "text":
        return b"# This is not an image.\nlabel,x1,y1,x2,y2\nBBU,10,20,110,220\n"
    pixels = render_pixels(job)
    img = Image.fromarray(pixels, "RGB")
    if job.orientation != 1 and not job.store_raw:
        img = img.transpose(_EXIF_UNDO[job.orientation])
    buf = io.BytesIO()
    if job.fmt in ("jpeg", "truncated-jpeg"):
        kwargs = {}
        if job.orientation != 1:
            exif = Image.Exif()
            exif[0x0112] = job.orientation
            kwargs["exif"] = exif.tobytes()
        img.save(buf, "JPEG", quality=90, subsampling=0, **kwargs)  # 4:4:4 keeps thin strokes in colour
    elif job.fmt in ("png", "truncated-png"):
        img.save(buf, "PNG", compress_level=1)
    elif job.fmt == "gif":
        img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(buf, "GIF")
    else:
        raise ValueError(f"unknown image job format {job.fmt!r}")
    data = buf.getvalue()
    if job.fmt.startswith("truncated-"):
        data = data[: max(64, int(len(data) * 0.6))]  # header intact, end marker gone
    return data


def displayed(img: Image.Image) -> Image.Image:
    """The image as a viewer shows it (EXIF orientation applied)."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(img)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG header claiming `width` x `height` RGB pixels, with a one-row payload."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 64), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
