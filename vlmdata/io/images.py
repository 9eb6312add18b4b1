"""Header-only image probing: path confinement, existence, format, displayed size, truncation, bomb limit.

Nothing here decodes pixels. JPEG and PNG (the formats of almost all grounding data) are parsed directly:
the JPEG marker walk stops at the first SOF segment (reading the EXIF orientation from APP1 on the way), the
PNG chunk walk reads IHDR and an `eXIf` chunk before IDAT; truncation is detected from the file's end marker
(JPEG EOI `FFD9`, which cannot occur inside entropy-coded data, or PNG `IEND`) in its last bytes. When the end
marker is not there, the file may still be whole with bytes appended after it (phone trailers, Motion Photos
with their video, a second MPO frame): the segments are then walked — JPEG scans skipped marker by marker up
to the EOI that ends the image, PNG chunks by their lengths up to IEND — and only a file that ends before that
marker is truncated. Other formats go through `PIL.Image.open` (which also reads headers only) and are not
checked for truncation.

Pixel modes that do not become 8-bit RGB faithfully are refused from the header (VD309): 16-bit grayscale PNG
(PIL reads it as `I;16` and clips every value above 255 to white), JPEG with other than 8-bit samples, and
through PIL any `I`/`F`/LAB/HSV mode. 16-bit RGB(A) PNGs are fine: PIL keeps their high byte.

The displayed size is the stored size with width and height swapped for EXIF orientations 5–8, which is what
`PIL.ImageOps.exif_transpose` produces and what viewers show. Paths are confined to a root after resolving
`..` and symlinks (`os.path.realpath`) before any byte is read.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import struct
from dataclasses import dataclass

from vlmdata.contract import codes

DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL's default bomb threshold (≈ 0.25 GB of RGBA)
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO"})
_HEAD = 4096
_TAIL = 32
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
# PIL modes that become 8-bit RGB as displayed (`vlmdata.io.decode`); anything else is VD309
FAITHFUL_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"})
_MAX_SEGMENTS = 100_000
_SCAN_MARKER = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")  # a marker after entropy-coded data (not a stuffed
# byte, a restart marker or fill)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # stored pixels
    height: int
    orientation: int = 1

    @property
    def displayed(self) -> tuple[int, int]:
        return (self.height, self.width) if self.orientation in (5, 6, 7, 8) else (self.width, self.height)


class ImageProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def resolve_image_path(path: str, base: str) -> str:
    """The absolute, lexically normalised path of an image reference (relative to `base`, itself normalised)."""
    if path and path[0] != "/" and "/." not in "/" + path and "//" not in path and path[-1] != "/":
        return f"{base}/{path}" if base != "/" else f"/{path}"  # already normal: skip normpath
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def confined(resolved: str, real_root: str) -> bool:
    """True when the path, after resolving symlinks and `..`, lies inside `real_root` (itself a realpath)."""
    return is_inside(os.path.realpath(resolved), real_root)


def _exif_orientation(tiff: bytes) -> int:
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(e + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return 1
    (n,) = struct.unpack_from(e + "H", tiff, ifd)
    for i in range(n):
        off = ifd + 2 + 12 * i
        if off + 12 > len(tiff):
            break
        tag, typ = struct.unpack_from(e + "HH", tiff, off)
        if tag == 0x0112 and typ == 3:
            (value,) = struct.unpack_from(e + "H", tiff, off + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _probe_jpeg(fh, buf: bytes) -> ImageInfo:  # noqa: ANN001 - a binary file object
    pos, orientation = 2, 1
    while True:
        while len(buf) < pos + 4:
            more = fh.read(max(_HEAD, len(buf)))
            if not more:
                raise ImageProblem(codes.IMAGE_TRUNCATED.code, "JPEG header ends before the frame header")
            buf += more
        if buf[pos] != 0xFF:
            raise ImageProblem(codes.IMAGE_UNREADABLE.code, f"JPEG marker expected at byte {pos}")
        marker = buf[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise ImageProblem(codes.IMAGE_UNREADABLE.code, "JPEG has no frame header before its scan")
        (length,) = struct.unpack_from(">H", buf, pos + 2)
        end = pos + 2 + length
        while len(buf) < end:
            more = fh.read(max(_HEAD, end - len(buf)))
            if not more:
                raise ImageProblem(codes.IMAGE_TRUNCATED.code, "JPEG header segment is cut off")
            buf += more
        if marker == 0xE1 and buf[pos + 4 : pos + 10] == b"Exif\x00\x00":
            orientation = _exif_orientation(buf[pos + 10 : end])
        elif marker in _SOF:
            if buf[pos + 4] != 8:
                raise ImageProblem(codes.HIGH_BIT_DEPTH.code, f"JPEG with {buf[pos + 4]}-bit samples")
            height, width = struct.unpack_from(">HH", buf, pos + 5)
            return ImageInfo("JPEG", width, height, orientation)
        pos = end


def _probe_png(fh, buf: bytes) -> ImageInfo:  # noqa: ANN001
    if len(buf) < 24 or buf[12:16] != b"IHDR":
        raise ImageProblem(codes.IMAGE_UNREADABLE.code, "PNG without an IHDR header")
    width, height = struct.unpack_from(">II", buf, 16)
    if buf[24:26] == b"\x10\x00":  # bit depth 16, colour type 0 (grayscale): PIL's I;16
        raise ImageProblem(codes.HIGH_BIT_DEPTH.code, "16-bit grayscale PNG")
    orientation, pos = 1, 8
    while pos + 8 <= len(buf):
        (length,) = struct.unpack_from(">I", buf, pos)
        ctype = buf[pos + 4 : pos + 8]
        if ctype in (b"IDAT", b"IEND"):
            break
        if ctype == b"eXIf":
            data = buf[pos + 8 : pos + 8 + length]
            if len(data) < length:
                data += fh.read(length - len(data))
            orientation = _exif_orientation(data[6:] if data.startswith(b"Exif\x00\x00") else data)
            break
        pos += 12 + length
    return ImageInfo("PNG", width, height, orientation)


def _jpeg_ends(data: mmap.mmap) -> bool:
    """True when the JPEG's segments and scans reach the EOI that ends the image (bytes after it are a trailer)."""
    pos, n = 2, len(data)
    for _ in range(_MAX_SEGMENTS):  # real files have tens of segments; a crafted one cannot make this slow
        if pos + 1 >= n:
            return False
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
        elif marker == 0xD9:
            return True
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
        elif pos + 4 > n:
            return False
        else:
            end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker != 0xDA:
                pos = end
                continue
            hit = _SCAN_MARKER.search(data, end)  # skip the scan's entropy-coded data
            if hit is None:
                return False
            pos = hit.end() - 2
    return False


def _png_ends(fh, size: int) -> bool:  # noqa: ANN001 - a binary file object
    """True when the PNG's chunks, followed by their lengths, reach IEND within the file."""
    pos = 8
    for _ in range(_MAX_SEGMENTS):
        if pos + 8 > size:
            return False
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return False
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IEND":
            return True
        pos += 12 + length
    return False


def _ends_inside(fh, fmt: str) -> bool:  # noqa: ANN001 - a binary file object
    """The slow check when the end marker is not in the last bytes: is it inside, followed by a trailer?"""
    size = os.fstat(fh.fileno()).st_size
    if fmt == "PNG":
        return _png_ends(fh, size)
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _jpeg_ends(data)


def _probe_pil(path: str) -> ImageInfo:
    import warnings

    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as im:
                if im.format in SUPPORTED_FORMATS and im.mode not in FAITHFUL_MODES:
                    raise ImageProblem(codes.HIGH_BIT_DEPTH.code, f"{im.format} in pixel mode {im.mode}")
                # PIL's TIFF reader already reports the oriented size (and exif_transpose keeps it)
                orientation = im.getexif().get(0x0112, 1) if im.format in ("WEBP", "MPO") else 1
                return ImageInfo(
                    im.format or "?", im.width, im.height, orientation if 1 <= orientation <= 8 else 1
                )
        except Image.DecompressionBombError as exc:
            raise ImageProblem(codes.DECOMPRESSION_BOMB.code, str(exc)) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
            raise ImageProblem(codes.IMAGE_UNREADABLE.code, f"not a readable image ({exc})") from None


def probe_image(path: str, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> ImageInfo:
    """Read an image's header (never its pixels); raise `ImageProblem` with the contract code on any defect."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageProblem(codes.IMAGE_MISSING.code, "file not found") from None
    except OSError as exc:
        raise ImageProblem(codes.IMAGE_UNREADABLE.code, f"cannot stat: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageProblem(codes.IMAGE_UNREADABLE.code, "not a regular file")
    try:
        with open(path, "rb") as fh:
            buf = fh.read(_HEAD)
            if buf[:3] == b"\xff\xd8\xff":
                info = _probe_jpeg(fh, buf)
                end_marker = b"\xff\xd9"
            elif buf[:8] == _PNG_SIG:
                info = _probe_png(fh, buf)
                end_marker = b"IEND"
            else:
                info, end_marker = None, None
            if info is not None and end_marker is not None:
                fh.seek(max(0, st.st_size - _TAIL))
                if end_marker not in fh.read(_TAIL) and not _ends_inside(fh, info.format):
                    raise ImageProblem(
                        codes.IMAGE_TRUNCATED.code, f"{info.format} end marker missing: the file is truncated"
                    )
    except (OSError, struct.error) as exc:
        raise ImageProblem(codes.IMAGE_UNREADABLE.code, f"cannot read header ({exc})") from None
    if info is None:
        info = _probe_pil(path)
    if info.width <= 0 or info.height <= 0:
        raise ImageProblem(codes.IMAGE_UNREADABLE.code, f"header gives size {info.width}×{info.height}")
    if max_pixels is not None and info.width * info.height > max_pixels:
        raise ImageProblem(
            codes.DECOMPRESSION_BOMB.code,
            f"{info.width}×{info.height} = {info.width * info.height} pixels > limit {max_pixels}",
        )
    if info.format not in SUPPORTED_FORMATS:
        raise ImageProblem(codes.UNSUPPORTED_FORMAT.code, f"format {info.format}")
    return info
