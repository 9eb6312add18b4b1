"""Images decoded right: trailers are not truncation, 16-bit grayscale is refused (not clipped to white), the
bomb limit is ours (PIL's own error never fires after a raised limit), and the decoder every command uses gives
the displayed, 8-bit RGB pixels. Files are written by PIL (and byte-edited the way the real cases look)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlmdata.io.decode import load_image, load_image_fit
from vlmdata.io.images import ImageProblem, probe_image

RNG = np.random.default_rng(0)
PIXELS = (RNG.random((60, 80, 3)) * 255).astype(np.uint8)


def _jpeg(**kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PIXELS).save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16(width: int, height: int, colour_type: int, samples: np.ndarray) -> bytes:
    """A 16-bit PNG written chunk by chunk (big-endian samples, filter 0 per row)."""
    rows = samples.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _write(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


def _exif_thumbnail_jpeg() -> bytes:
    """A JPEG whose APP1 carries a whole JPEG (thumbnail), so an FFD9 sits early in the file."""
    thumb = _jpeg()
    app1 = b"\xff\xe1" + (len(thumb) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + thumb
    main = _jpeg()
    return main[:2] + app1 + main[2:]


WHOLE = {
    "motion_photo.jpg": _jpeg()
    + b"MotionPhoto_Data"
    + RNG.integers(0, 256, 40_000, dtype=np.uint8).tobytes(),
    "progressive_trailer.jpg": _jpeg(progressive=True) + b"\xff\xd8\xff" + bytes(500),
    "thumbnail.jpg": _exif_thumbnail_jpeg(),
    "trailer.png": _png(Image.fromarray(PIXELS)) + b"extra bytes after IEND" * 10,
}
TRUNCATED = {
    "half.jpg": _jpeg()[: len(_jpeg()) // 2],
    "progressive_cut.jpg": _jpeg(progressive=True)[:-300],
    "thumbnail_cut.jpg": _exif_thumbnail_jpeg()[:-2000],  # the thumbnail's FFD9 must not count
    "cut.png": _png(Image.fromarray(PIXELS))[:-200],
}


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_bytes_after_the_end_marker_are_not_truncation(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, WHOLE[name])
    assert probe_image(path).displayed == (80, 60)
    with Image.open(io.BytesIO(WHOLE[name])) as ref:  # PIL decodes the image part the same way
        expected = np.asarray(ref.convert("RGB"))
    assert np.array_equal(np.asarray(load_image(path)), expected)


@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_truncated_files_are_still_truncated(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, TRUNCATED[name])
    with pytest.raises(ImageProblem) as err:
        probe_image(path)
    assert err.value.code == "VD303"
    with pytest.raises(ImageProblem):
        load_image(path)


def test_sixteen_bit_grayscale_is_refused_not_read_as_white(tmp_path: Path) -> None:
    values = (RNG.random((30, 40)) * 65535).astype(np.uint16)
    # what happens without the rule: PIL reads I;16 and its RGB conversion clips everything above 255 to white
    Image.fromarray(values).save(tmp_path / "pil16.png")
    with Image.open(tmp_path / "pil16.png") as im:
        assert im.mode == "I;16" and (np.asarray(im.convert("RGB")) == 255).mean() > 0.98
    for path in (
        str(tmp_path / "pil16.png"),
        _write(tmp_path, "raw16.png", _png16(40, 30, 0, values)),
    ):
        for read in (probe_image, load_image):
            with pytest.raises(ImageProblem) as err:
                read(path)
            assert err.value.code == "VD309"
    Image.fromarray(values).save(tmp_path / "g16.tif")
    Image.fromarray(values.astype(np.float32)).save(tmp_path / "f.tif")
    for name in ("g16.tif", "f.tif"):
        with pytest.raises(ImageProblem) as err:
            probe_image(str(tmp_path / name))
        assert err.value.code == "VD309"


def test_twelve_bit_jpeg_is_refused_from_its_frame_header(tmp_path: Path) -> None:
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # sample precision
    with pytest.raises(ImageProblem) as err:
        probe_image(_write(tmp_path, "p12.jpg", bytes(data)))
    assert err.value.code == "VD309"


def test_sixteen_bit_rgb_keeps_its_high_byte(tmp_path: Path) -> None:
    values = (RNG.random((30, 40, 3)) * 65535).astype(np.uint16)
    path = _write(tmp_path, "rgb48.png", _png16(40, 30, 2, values))
    assert np.array_equal(np.asarray(load_image(path)), (values >> 8).astype(np.uint8))


def test_the_bomb_limit_is_ours_in_both_directions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PIL refuses an image above twice its process-wide `MAX_IMAGE_PIXELS` (by default 179 Mpx, whatever
    `--max-image-pixels` says). Scaled down here (PIL's setting 1000 px, a 100×80 image) so the test stays
    small: PIL alone raises, the decoder reads it under a raised limit, and refuses it (VD306) below its size."""
    path = tmp_path / "big.png"
    Image.fromarray(PIXELS).resize((100, 80)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(Image.DecompressionBombError), Image.open(path):
        pass
    assert load_image(str(path), max_pixels=8000).size == (100, 80)
    image, scale = load_image_fit(str(path), 50, max_pixels=8000)
    assert image.size == (50, 40) and scale == 0.5
    with pytest.raises(ImageProblem) as err:
        load_image(str(path), max_pixels=7999)
    assert err.value.code == "VD306"
    assert Image.MAX_IMAGE_PIXELS == 1000  # PIL's process-wide setting is left as it was


def test_transparency_is_composited_on_white_and_exif_applied(tmp_path: Path) -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255  # left half opaque red, right half transparent
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = np.asarray(load_image(str(tmp_path / "a.png")))
    assert (out[:, :15] == (200, 0, 0)).all() and (out[:, 15:] == 255).all()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    Image.fromarray(PIXELS).save(tmp_path / "r.jpg", exif=exif, quality=95)
    assert load_image(str(tmp_path / "r.jpg")).size == (60, 80)
    image, scale = load_image_fit(str(tmp_path / "r.jpg"), 40)
    assert image.size == (30, 40) and scale == 0.5


def test_large_jpeg_is_decoded_at_a_reduced_scale_for_a_small_panel(tmp_path: Path) -> None:
    Image.fromarray(np.tile(PIXELS, (40, 40, 1))).save(tmp_path / "big.jpg", quality=80)  # 3200×2400
    image, scale = load_image_fit(str(tmp_path / "big.jpg"), 400)
    assert image.size == (400, 300) and scale == 0.125
