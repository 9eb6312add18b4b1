"""Header-only image probing against PIL's own view of the same files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from vlmdata.io.images import ImageProblem, confined, probe_image, resolve_image_path


def _save(path: Path, size=(64, 32), orientation=None, **kw) -> Path:  # noqa: ANN001
    im = Image.new("RGB", size, (1, 2, 3))
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "bmp", "tiff"])
@pytest.mark.parametrize("orientation", [None, 1, 3, 6, 8])
def test_displayed_size_matches_pil_exif_transpose(tmp_path: Path, ext: str, orientation: int | None) -> None:
    if ext == "bmp" and orientation is not None:
        pytest.skip("BMP has no EXIF")
    path = _save(tmp_path / f"a.{ext}", (64, 32), orientation)
    info = probe_image(str(path))
    with Image.open(path) as im:
        assert (info.width, info.height) == im.size
        assert info.displayed == ImageOps.exif_transpose(im).size


def test_progressive_jpeg_and_exif_thumbnail_padding(tmp_path: Path) -> None:
    path = _save(tmp_path / "p.jpg", (300, 200), 6, progressive=True, quality=90)
    assert probe_image(str(path)).displayed == (200, 300)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda p: p.write_bytes(b""), "VD302"),
        (lambda p: p.write_text("not an image"), "VD302"),
        (lambda p: p.write_bytes(_save(p.with_suffix(".src.jpg")).read_bytes()[:-40]), "VD303"),
        (lambda p: p.write_bytes(_save(p.with_suffix(".src.png")).read_bytes()[:-12]), "VD303"),
        (lambda p: p.write_bytes(_save(p.with_suffix(".src.jpg")).read_bytes()[:30]), "VD303"),
        (lambda p: p.mkdir(), "VD302"),
        (lambda p: None, "VD300"),
    ],
    ids=["empty", "text", "jpeg-cut", "png-cut", "jpeg-header-cut", "directory", "missing"],
)
def test_defects_raise_their_code(tmp_path: Path, make, code: str) -> None:  # noqa: ANN001
    path = tmp_path / "x.img"
    make(path)
    with pytest.raises(ImageProblem) as err:
        probe_image(str(path))
    assert err.value.code == code


def test_bomb_limit_is_read_from_the_header(tmp_path: Path) -> None:
    path = _save(tmp_path / "b.png", (100, 100))
    data = bytearray(path.read_bytes())
    data[16:24] = (100_000).to_bytes(4, "big") * 2
    path.write_bytes(bytes(data))
    with pytest.raises(ImageProblem) as err:
        probe_image(str(path))
    assert err.value.code == "VD306"
    assert probe_image(str(_save(tmp_path / "ok.png", (100, 100))), max_pixels=10_000).width == 100
    with pytest.raises(ImageProblem):
        probe_image(str(tmp_path / "ok.png"), max_pixels=9_999)


def test_confinement_resolves_dotdot_and_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = _save(tmp_path / "out.jpg")
    os.symlink(outside, root / "sub" / "link.jpg")
    os.symlink(root / "sub", tmp_path / "alias")
    real_root = os.path.realpath(root)
    assert resolve_image_path("sub/../x.jpg", str(root)) == str(root / "x.jpg")
    assert confined(resolve_image_path("sub/x.jpg", str(root)), real_root)
    assert not confined(resolve_image_path("../out.jpg", str(root)), real_root)
    assert not confined(resolve_image_path("sub/link.jpg", str(root)), real_root)
    assert confined(str(tmp_path / "alias" / "y.jpg"), real_root)  # a symlink into the root is fine
    assert not confined(str(tmp_path / "rootx" / "y.jpg"), real_root)  # prefix is not containment
