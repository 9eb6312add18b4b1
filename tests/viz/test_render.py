"""`vlmdata render`: PNGs with the geometry drawn, one HTML contact sheet, before/after pairs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vlmdata.cli import main
from vlmdata.io.dataset import save_records
from vlmdata.viz.draw import colour_of, draw_objects, label_text

OBJECTS = [
    {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [20.0, 20.0, 90.0, 70.0]},
    {"desc": "person", "kind": "poly", "points": [120.0, 20.0, 180.0, 30.0, 150.0, 90.0]},
    {"desc": "cable", "kind": "line", "points": [10.0, 110.0, 100.0, 100.0, 190.0, 115.0]},
]


def dataset(tmp_path, n=3):
    recs = []
    for i in range(n):
        path = tmp_path / f"img{i}.jpg"
        Image.new("RGB", (200, 120), (0, 0, 0)).save(path)
        recs.append({"id": f"r/{i}", "images": [str(path)], "width": 200, "height": 120, "objects": OBJECTS})
    return save_records(recs, tmp_path / "ds")


def test_draw_objects_marks_every_kind_in_its_colour():
    img = Image.new("RGB", (200, 120), (0, 0, 0))
    out = np.asarray(draw_objects(img, OBJECTS))
    assert np.asarray(img).sum() == 0 and out.sum() > 0
    assert tuple(out[45, 20]) == colour_of(OBJECTS[0]["desc"])  # left edge of the box
    assert (out[105:112, 150] == colour_of("cable")).all(axis=1).any()  # the line passes y ≈ 108.3 at x = 150
    assert out[50, 150].any()  # polygon interior tinted


def test_label_fallback_never_emits_missing_glyphs(monkeypatch):
    from vlmdata.viz import draw

    monkeypatch.setattr(draw, "find_font", lambda: ("/nonexistent.ttf", False))
    assert label_text(0, "类别=BBU设备,可见性=完整") == "#0 BBU"
    monkeypatch.setattr(draw, "find_font", lambda: ("/cjk.ttc", True))
    assert label_text(2, "类别=标签") == "#2 类别=标签"


def test_render_plain_dataset(tmp_path):
    ds = dataset(tmp_path)
    rc = main(["render", str(ds), "--out", str(tmp_path / "r"), "--n", "2", "--format", "json"])
    assert rc == 0
    pngs = sorted(p.name for p in (tmp_path / "r").glob("*.png"))
    assert pngs == ["0000-r_0-i0.png", "0001-r_1-i0.png"]
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "类别=BBU设备,可见性=完整" in page and "r/1" in page and "before" not in page
    with Image.open(tmp_path / "r" / pngs[0]) as im:
        assert im.width == 200 and im.height > 120  # title bar above the image


def test_render_ids_and_unknown_id(tmp_path, capsys):
    ds = dataset(tmp_path)
    assert main(["render", str(ds), "--out", str(tmp_path / "r"), "--ids", "r/2,r/0"]) == 0
    assert sorted(p.name for p in (tmp_path / "r").glob("*.png")) == ["0000-r_2-i0.png", "0001-r_0-i0.png"]
    assert main(["render", str(ds), "--out", str(tmp_path / "x"), "--ids", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_render_augmented_dataset_shows_before_after_pairs(tmp_path):
    ds = dataset(tmp_path, n=2)
    (tmp_path / "aug.yaml").write_text("ops:\n  - {name: hflip, params: {p: 1.0}}\n", encoding="utf-8")
    assert (
        main(["augment", str(ds), "--config", str(tmp_path / "aug.yaml"), "--out", str(tmp_path / "aug")])
        == 0
    )
    assert (
        main(["render", str(tmp_path / "aug" / "data"), "--out", str(tmp_path / "r"), "--format", "json"])
        == 0
    )
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "2 before/after pair(s)" in page and "hflip" in page
    with Image.open(next((tmp_path / "r").glob("0000-*.png"))) as im:
        assert im.width == 2 * 200 + 12  # before | after
        arr = np.asarray(im)
    box_col = colour_of(OBJECTS[0]["desc"])
    # before: the box's left edge at x=20; after the flip it is at x = 200 - 20 = 180 in the right panel
    assert tuple(arr[26 + 45, 20]) == box_col
    assert (arr[26 + 45, 212 + 176 : 212 + 182] == box_col).all(axis=1).any()


@pytest.mark.parametrize("bad", [["--n", "0"]])
def test_render_bad_flags(tmp_path, bad):
    ds = dataset(tmp_path, n=1)
    assert main(["render", str(ds), "--out", str(tmp_path / "r"), *bad]) == 2
