"""`vlmdata render` on data that used to end the run or reach the page unescaped: an image over PIL's own
bomb limit after a raised `--max-image-pixels`, a missing image with a huge declared size, a 16-bit image,
and ids, descs and `_augment` provenance holding HTML (stored XSS)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlmdata.cli import main
from vlmdata.io.dataset import save_records
from vlmdata.io.html import escape, href, html, join

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BOX = {"desc": "box", "kind": "bbox_2d", "points": [1.0, 1.0, 50.0, 40.0]}


class _Tags(HTMLParser):
    """Every tag and attribute the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _record(rid: str, path: Path | str, size: tuple[int, int], **extra: object) -> dict:
    return {"id": rid, "images": [str(path)], "width": size[0], "height": size[1], "objects": [BOX], **extra}


def test_bomb_limit_raised_missing_huge_and_16_bit_images_never_end_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (300, 200), (9, 9, 9)).save(big)
    Image.fromarray(np.full((40, 60), 50000, np.uint16)).save(tmp_path / "g16.png")
    # PIL's process-wide limit scaled down (as test_decode does): the 300×200 image is a "bomb" to PIL itself
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    records = [
        _record("big", big, (300, 200)),
        _record("gone", tmp_path / "missing.jpg", (10**6, 10**6)),  # 3 TB if the canvas were allocated
        _record("g16", tmp_path / "g16.png", (60, 40)),
    ]
    ds = save_records(records, tmp_path / "ds")
    out = tmp_path / "r"
    rc = main(
        [
            "render",
            str(ds),
            "--out",
            str(out),
            "--max-image-pixels",
            "60000",
            "--max-side",
            "256",
            "--format",
            "json",
        ]
    )
    assert rc == 0
    monkeypatch.undo()  # read the outputs with PIL's default again
    with Image.open(out / "0000-big-i0.png") as im:  # drawn from the real pixels, scaled to 256
        assert im.width == 256 and im.getpixel((200, 150)) == (9, 9, 9)
    with Image.open(out / "0001-gone-i0.png") as im:  # a grey canvas scaled to fit, never the declared size
        assert im.width == 256 and im.height <= 256 + 26
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "VD300" in page and "VD309" in page and "missing.jpg" in page
    # under the default limit the 300×200 image is not decoded: VD306, named on the page
    main(["render", str(ds), "--out", str(tmp_path / "r2"), "--max-image-pixels", "50000", "--ids", "big"])
    assert "VD306" in (tmp_path / "r2" / "index.html").read_text(encoding="utf-8")


def test_everything_from_the_data_is_escaped(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    Image.new("RGB", (80, 60)).save(img)
    src = save_records([_record("src", img, (80, 60))], tmp_path / "src")
    provenance = {
        "_augmented_from": {"id": "src", "dataset": str(src), "images": [str(img)]},
        "_augment": {
            "ops": [{"name": XSS, "applied": True, "params": {XSS: XSS, "angle": 12.3456}}],
            "size_in": [XSS],
            "size_out": XSS,
            "warps": XSS,
            "dropped": {XSS: 3},
        },
    }
    hostile = [
        _record(XSS, img, (80, 60), metadata=json.dumps(provenance), objects=[{**BOX, "desc": XSS}]),
        _record("odd", img, (80, 60), metadata=json.dumps({"_augment": [XSS], "_augmented_from": XSS})),
        _record(
            "odd2",
            img,
            (80, 60),
            metadata=json.dumps({"_augment": {"ops": [XSS, {"params": XSS, "applied": 1}]}}),
        ),
    ]
    ds = save_records(hostile, tmp_path / XSS.replace("/", "_"))
    out = tmp_path / "r"
    assert main(["render", str(ds), "--out", str(out), "--format", "json"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    tags = _tags(page)
    assert not [t for t, _ in tags if t == "script"]
    assert all(
        name in ("href", "src", "loading") for tag, attrs in tags if tag in ("a", "img") for name, _ in attrs
    )
    assert all(not (value or "").startswith(("javascript:", "x")) for _, attrs in tags for _, value in attrs)
    assert page.count(escape(XSS)) >= 8  # id, desc, op name, param key and value, sizes, warps, drops, paths
    assert "angle=12.346" in page


def test_the_escaping_helper() -> None:
    assert escape('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert escape(3) == "3" and escape(None) == "None"
    built = html("<b>{}</b>", XSS)
    assert html("<p>{}</p>", built) == f"<p><b>{escape(XSS)}</b></p>"  # built markup is not escaped twice
    assert join(["<i>", html("<i>{}</i>", "x")], "<br>") == "&lt;i&gt;<br><i>x</i>"
    assert href("javascript:alert(1)") == "./javascript:alert(1)" and href("/etc/passwd") == "./etc/passwd"
    assert href("0001-r_1-i0.png") == "0001-r_1-i0.png"
