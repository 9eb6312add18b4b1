"""`vlmdata import yolo`: Ultralytics layout, detection and segmentation lines, names as list or mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importers.conftest import make_image, read_jsonl, validate_jsonl
from vlmdata.cli import main
from vlmdata.importers import ImportOptions, import_source


def yolo_dataset(root: Path, names_as_list: bool = True) -> Path:
    make_image(root / "images" / "train" / "a.jpg", (640, 480))
    make_image(root / "images" / "train" / "sub" / "b.png", (100, 50), fmt="PNG")
    make_image(root / "images" / "train" / "bg.jpg", (32, 32))
    make_image(root / "images" / "val" / "v.jpg", (64, 64))
    (root / "images" / "train" / "readme.md").write_text("not an image")
    labels = root / "labels" / "train"
    labels.mkdir(parents=True)
    (labels / "a.txt").write_text("0 0.5 0.5 0.25 0.5\n2 0.1 0.1 0.3 0.1 0.3 0.4 0.1 0.4\n\n")
    (labels / "sub").mkdir()
    (labels / "sub" / "b.txt").write_text("1 0.5 0.5 1 1\n")
    (root / "labels" / "val").mkdir(parents=True)
    (root / "labels" / "val" / "v.txt").write_text("0 0.25 0.25 0.5 0.5\n")
    names = (
        "names:\n  - person\n  - car\n  - traffic light\n"
        if names_as_list
        else ("names:\n  0: person\n  1: car\n  2: traffic light\n")
    )
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/val\n{names}")
    return root / "data.yaml"


@pytest.mark.parametrize("names_as_list", [True, False])
def test_detection_and_segmentation_labels(tmp_path: Path, names_as_list: bool) -> None:
    src = yolo_dataset(tmp_path / "ds", names_as_list)
    out = tmp_path / "o.jsonl"
    report = import_source("yolo", src, out, ImportOptions())
    d = report.as_dict()
    assert d["image_root"] == str(tmp_path / "ds")
    assert d["totals"]["records"] == {"total": 3, "imported": 2, "skipped": {"no_annotations": 1}}
    assert d["totals"]["annotations"] == {"total": 3, "imported": 3, "skipped": {}}
    a, b = read_jsonl(out)
    assert a["id"] == "train:images/train/a.jpg" and a["images"] == ["images/train/a.jpg"]
    box, light = a["objects"]
    # hand-computed: cx 0.5·640 = 320, w 0.25·640 = 160 → x 240..400; cy 0.5·480 = 240, h 0.5·480 = 240 → 120..360
    assert box == {
        "desc": "person",
        "bbox_2d": [240.0, 120.0, 400.0, 360.0],
        "metadata": {"yolo": {"class": 0, "line": 1}},
    }
    assert light["desc"] == "traffic light"
    assert light["poly"] == pytest.approx([64.0, 48.0, 192.0, 48.0, 192.0, 192.0, 64.0, 192.0], abs=1e-9)
    assert b["objects"][0]["bbox_2d"] == [0.0, 0.0, 100.0, 50.0]
    assert a["metadata"]["yolo"] == {"split": "train", "label_file": "labels/train/a.txt"}
    assert validate_jsonl(out, tmp_path / "ds", tmp_path / "v").total("rejected") == 0
    report = import_source("yolo", tmp_path / "ds", tmp_path / "val.jsonl", ImportOptions(split="val"))
    assert report.as_dict()["totals"]["annotations"]["imported"] == 1


def test_bad_lines_and_unknown_classes(tmp_path: Path) -> None:
    src = yolo_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n"
        "7 0.5 0.5 0.2 0.2\n"  # class not in names
        "0 0.5 0.5 0.2\n"  # 4 values
        "0 0.1 0.1 0.2 0.2 0.3\n"  # 6 values
        "1.5 0.5 0.5 0.2 0.2\n"  # fractional class
        "0 0.5 zero 0.2 0.2\n"  # not a number
        "0 0.9 0.5 0.4 0.2\n"  # leaves the image on the right (0.9 + 0.2 = 1.1)
        "0 nan 0.5 0.2 0.2\n"
        "nan 0.5 0.5 0.2 0.2\n"  # a NaN class
        "inf 0.5 0.5 0.2 0.2\n"
    )
    out = tmp_path / "o.jsonl"
    report = import_source("yolo", src, out, ImportOptions())
    d = report.as_dict()
    assert d["totals"]["annotations"]["skipped"] == {
        "unknown_category": 1,
        "bad_label_line": 4,
        "out_of_bounds": 1,
        "not_finite": 3,
    }
    ex = d["files"][0]["examples"]["bad_label_line"]
    assert [(e["line"], e["code"]) for e in ex] == [(3, "VD174"), (4, "VD174"), (5, "VD174"), (6, "VD174")]
    assert ex[0]["path"] == str(tmp_path / "ds" / "labels" / "train" / "a.txt")
    report = import_source("yolo", src, tmp_path / "c.jsonl", ImportOptions(clip=True))
    clipped = [
        o
        for r in read_jsonl(tmp_path / "c.jsonl")
        for o in r["objects"]
        if o["metadata"]["yolo"]["line"] == 7
    ]
    assert clipped[0]["bbox_2d"] == pytest.approx([448.0, 192.0, 640.0, 288.0])


def test_txt_split_lists_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ds"
    yolo_dataset(root)
    (root / "train.txt").write_text("./images/train/a.jpg\nimages/train/sub/b.png\n")
    (root / "list.yaml").write_text("train: train.txt\nnames: [person, car, traffic light]\n")
    report = import_source("yolo", root / "list.yaml", tmp_path / "o.jsonl", ImportOptions())
    assert report.as_dict()["totals"]["records"]["imported"] == 2
    (root / "pose.yaml").write_text("train: images/train\nkpt_shape: [17, 3]\nnames: [person]\n")
    assert main(["import", "yolo", str(root / "pose.yaml"), "--out", str(tmp_path / "p.jsonl")]) == 1
    assert "VD176" in capsys.readouterr().err
    (root / "nonames.yaml").write_text("train: images/train\n")
    assert main(["import", "yolo", str(root / "nonames.yaml"), "--out", str(tmp_path / "p.jsonl")]) == 1
    assert "VD162" in capsys.readouterr().err
    assert (
        main(
            ["import", "yolo", str(root / "data.yaml"), "--split", "test", "--out", str(tmp_path / "p.jsonl")]
        )
        == 2
    )
    assert "no `test` split" in capsys.readouterr().err
    (root / "bad.yaml").write_text("train: [unclosed\n")
    assert main(["import", "yolo", str(root / "bad.yaml"), "--out", str(tmp_path / "p.jsonl")]) == 1
    assert "VD161" in capsys.readouterr().err
