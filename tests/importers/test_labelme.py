"""`vlmdata import labelme`: LabelMe JSON files as LabelMe writes them (imageData blob, flags, group_id...)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.importers.conftest import make_image, read_jsonl, validate_jsonl
from vlmdata.importers import ImportOptions, import_source


def shape(label: str, points: list[list[float]], shape_type: str, **kw: Any) -> dict[str, Any]:
    out = {
        "label": label,
        "points": points,
        "group_id": None,
        "description": "",
        "shape_type": shape_type,
        "flags": {},
        "mask": None,
    }
    out.update(kw)
    return out


def labelme_file(
    path: Path,
    image_path: str,
    size: tuple[int, int],
    shapes: list[dict[str, Any]],
    image_file: Path | None = None,
    **extra: Any,
) -> Path:
    """What `LabelFile.save` writes: this key order, indent=2, ensure_ascii=False, imageData base64."""
    blob = base64.b64encode(image_file.read_bytes()).decode() if image_file else None
    data = {
        "version": "5.5.0",
        "flags": {"checked": True},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": blob,
        "imageHeight": size[1],
        "imageWidth": size[0],
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_shapes_map_to_contract_objects(tmp_path: Path) -> None:
    root = tmp_path / "project"
    img = make_image(root / "images" / "a.jpg", (200, 100))
    shapes = [
        shape("猫", [[150.5, 80.25], [10.0, 20.0]], "rectangle", flags={"occluded": True}),
        shape("road", [[1, 1], [50, 1], [50, 40], [1, 40]], "polygon", group_id=3, description="wet"),
        shape("cable", [[5, 5], [100, 50]], "line"),
        shape("wire", [[5, 5], [60, 20], [100, 90]], "linestrip"),
        shape("dot", [[5, 5]], "point"),
        shape("ring", [[50, 50], [60, 50]], "circle"),
        shape("seed", [[5, 5], [6, 6]], "points"),
        shape("blob", [[1, 1], [3, 3]], "mask", mask="iVBORw0KGgo="),
    ]
    labelme_file(
        root / "json" / "a.json", "..\\images\\a.jpg", (200, 100), shapes, image_file=img, extra_key=7
    )
    out = tmp_path / "o.jsonl"
    report = import_source("labelme", root / "json", out, ImportOptions(image_root=str(root)))
    d = report.as_dict()
    assert d["totals"]["annotations"] == {"total": 8, "imported": 4, "skipped": {"unsupported_shape": 4}}
    assert report.exit_code == 0  # unsupported shapes are counted, not a defect of the file
    (rec,) = read_jsonl(out)
    assert (
        rec["id"] == "a" and rec["images"] == ["images/a.jpg"] and (rec["width"], rec["height"]) == (200, 100)
    )
    rect, road, cable, wire = rec["objects"]
    assert rect == {
        "desc": "猫",
        "bbox_2d": [10.0, 20.0, 150.5, 80.25],
        "attributes": {"occluded": True},
        "metadata": {"labelme": {"shape_type": "rectangle"}},
    }
    assert road["poly"] == [1, 1, 50, 1, 50, 40, 1, 40]
    assert road["metadata"] == {"labelme": {"group_id": 3, "description": "wet", "shape_type": "polygon"}}
    assert cable["line"] == [5, 5, 100, 50] and wire["line"] == [5, 5, 60, 20, 100, 90]
    assert rec["metadata"]["labelme"] == {
        "version": "5.5.0",
        "flags": {"checked": True},
        "imagePath": "..\\images\\a.jpg",
        "extra_key": 7,
    }
    assert "imageData" not in out.read_text()
    ex = d["files"][0]["examples"]["unsupported_shape"]
    assert [e["field"] for e in ex] == ["shapes[4]", "shapes[5]", "shapes[6]", "shapes[7]"]
    assert ex[0]["path"] == str(root / "json" / "a.json")
    assert validate_jsonl(out, root, tmp_path / "v").total("rejected") == 0


def test_folder_walk_defects_and_embedded_only_images(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    make_image(root / "b.png", (40, 30), fmt="PNG")
    make_image(root / "sub" / "c.jpg", (30, 40), orientation=6)  # stored 30×40, shown 40×30
    labelme_file(root / "b.json", "b.png", (40, 30), [shape("x", [[1, 1], [30, 1], [30, 20]], "polygon")])
    labelme_file(root / "sub" / "c.json", "c.jpg", (40, 30), [shape("y", [[1, 1], [39, 29]], "rectangle")])
    emb = make_image(tmp_path / "elsewhere.jpg", (10, 10))
    labelme_file(
        root / "d.json", "d.jpg", (10, 10), [shape("z", [[1, 1], [5, 5]], "rectangle")] * 2, image_file=emb
    )
    labelme_file(
        root / "e.json",
        "b.png",
        (40, 30),
        [
            shape("", [[1, 1], [5, 5]], "rectangle"),
            shape("bad", [[1, 1], [5, 5], [9, 9]], "polygon"),
            shape("far", [[1, 1], [500, 5]], "rectangle"),
            shape("x", "not points", "polygon"),
        ],
    )
    (root / "notes.json").write_text(json.dumps({"what": "not labelme"}))
    (root / "broken.json").write_text("{")
    (root / ".hidden.json").write_text("{")
    out = tmp_path / "o.jsonl"
    report = import_source("labelme", root, out, ImportOptions())
    d = report.as_dict()
    assert d["image_root"] == str(root)
    assert d["totals"]["records"]["total"] == 6 and d["totals"]["records"]["imported"] == 2
    assert d["totals"]["records"]["skipped"] == {
        "image_missing": 1,
        "not_an_annotation_file": 1,
        "invalid_json": 1,
        "no_valid_annotations": 1,
    }
    assert d["totals"]["annotations"]["skipped"] == {
        "image_missing": 2,
        "empty_desc": 1,
        "zero_area": 1,
        "out_of_bounds": 1,
        "wrong_type": 1,
    }
    assert "embeds the image" in d["files"][0]["examples"]["image_missing"][0]["message"]
    b, c = read_jsonl(out)
    assert (b["id"], c["id"]) == ("b", "sub/c") and c["images"] == ["sub/c.jpg"]
    assert (c["width"], c["height"]) == (40, 30)
    assert validate_jsonl(out, root, tmp_path / "v").total("rejected") == 0


def test_single_file_source(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", (20, 20))
    src = labelme_file(tmp_path / "a.json", "a.jpg", (20, 20), [shape("x", [[1, 1], [9, 9]], "rectangle")])
    report = import_source("labelme", src, tmp_path / "out" / "o.jsonl", ImportOptions())
    assert report.as_dict()["totals"]["annotations"]["imported"] == 1
    assert read_jsonl(tmp_path / "out" / "o.jsonl")[0]["id"] == "a"
