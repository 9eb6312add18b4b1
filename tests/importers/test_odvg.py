"""`vlmdata import odvg`: Grounding-DINO's ODVG JSONL, detection and grounding lines."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importers.conftest import make_image, read_jsonl, validate_jsonl
from vlmdata.importers import ImportOptions, import_source


def _write(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    return path


DETECTION = {
    "filename": "a.jpg",
    "height": 693,
    "width": 1024,
    "detection": {
        "instances": [
            {"bbox": [262, 210, 323, 338], "label": 0, "category": "dog"},
            {"bbox": [164, 263, 252, 371], "label": 1, "category": "cat"},
        ]
    },
}
GROUNDING = {
    "filename": "a.jpg",
    "height": 693,
    "width": 1024,
    "grounding": {
        "caption": "a wire hanger with a paper cover that reads we heart our customers",
        "regions": [
            {"bbox": [20, 215, 985, 665], "phrase": "a paper cover that reads we heart our customers"},
            {"bbox": [[19, 19, 982, 671], [30, 30, 40, 40]], "phrase": "a wire hanger"},
        ],
    },
}


def test_detection_and_grounding_lines(tmp_path: Path) -> None:
    make_image(tmp_path / "img" / "a.jpg", (1024, 693))
    src = _write(tmp_path / "odvg.jsonl", [DETECTION, GROUNDING])
    out = tmp_path / "o.jsonl"
    report = import_source("odvg", src, out, ImportOptions(image_root=str(tmp_path / "img")))
    assert report.as_dict()["totals"]["annotations"] == {"total": 4, "imported": 4, "skipped": {}}
    det, gro = read_jsonl(out)
    assert [o["desc"] for o in det["objects"]] == ["dog", "cat"]
    assert det["objects"][0]["bbox_2d"] == [262, 210, 323, 338]
    assert det["objects"][0]["metadata"] == {"odvg": {"label": 0, "category": "dog"}}
    assert det["id"] == "odvg:1" and gro["id"] == "odvg:2"
    assert gro["metadata"]["odvg"]["caption"].startswith("a wire hanger")
    assert [o["desc"] for o in gro["objects"]] == ["a paper cover that reads we heart our customers"] + [
        "a wire hanger"
    ] * 2
    assert [o["metadata"]["odvg"].get("part") for o in gro["objects"]] == [None, 0, 1]
    assert validate_jsonl(out, tmp_path / "img", tmp_path / "v").total("rejected") == 0


def test_label_map_and_defects(tmp_path: Path) -> None:
    make_image(tmp_path / "img" / "a.jpg", (100, 80))
    label_map = tmp_path / "label_map.json"
    label_map.write_text(json.dumps({"0": "person", "1": "car"}))
    lines = [
        {
            "filename": "a.jpg",
            "height": 80,
            "width": 100,
            "detection": {
                "instances": [
                    {"bbox": [1, 1, 10, 10], "label": 1},
                    {"bbox": [1, 1, 10, 10], "label": 7},
                    {"bbox": [1, 1, 10], "label": 0},
                    {"bbox": [1, 1, 200, 10], "label": 0},
                ]
            },
        },
        b"{not json",
        b"[1, 2]",
        {"filename": "gone.jpg", "detection": {"instances": [{"bbox": [1, 1, 2, 2], "category": "x"}] * 3}},
        {"filename": "a.jpg", "grounding": {"regions": "nope"}},
        {"filename": "a.jpg", "height": 80, "width": 100, "detection": {"instances": []}},
        b"",
        b'{"filename": "a.jpg", "detection": {"instances": [{"bbox": [NaN, 1, 2, 2], "category": "x"}]}}',
    ]
    src = _write(tmp_path / "d.jsonl", lines)
    out = tmp_path / "o.jsonl"
    opts = ImportOptions(image_root=str(tmp_path / "img"), label_map=str(label_map))
    report = import_source("odvg", src, out, opts)
    d = report.as_dict()
    assert d["balanced"] and report.exit_code == 1
    assert d["totals"]["records"]["skipped"] == {
        "invalid_json": 1,
        "not_object": 1,
        "image_missing": 1,
        "wrong_type": 1,
        "no_annotations": 1,
        "not_finite": 1,
    }
    assert d["totals"]["annotations"]["skipped"] == {
        "unknown_category": 1,
        "bad_box": 1,
        "out_of_bounds": 1,
        "image_missing": 3,
    }
    ex = d["files"][0]["examples"]
    assert ex["invalid_json"][0]["line"] == 2 and ex["not_object"][0]["line"] == 3
    assert ex["unknown_category"][0]["field"] == "detection.instances[1].label"
    assert ex["bad_box"][0]["field"] == "detection.instances[2].bbox" and ex["bad_box"][0]["code"] == "VD209"
    (rec,) = read_jsonl(out)
    assert rec["objects"] == [{"desc": "car", "bbox_2d": [1, 1, 10, 10], "metadata": {"odvg": {"label": 1}}}]
    # without the label map a label-only instance has no category
    report = import_source("odvg", src, tmp_path / "p.jsonl", ImportOptions(image_root=str(tmp_path / "img")))
    assert report.as_dict()["totals"]["annotations"]["skipped"]["desc_field_missing"] == 4
