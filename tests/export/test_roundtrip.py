"""Round trips: a source format → `vlmdata import` → `vlmdata validate` → `vlmdata export` → the same annotations.

Oracles: pycocotools (`COCO(path)` loads the export; `annToMask` compares masks), shapely for polygon vertex
sets (normalised rings, ≤ 1e-6 px), ms-swift's own template encode for the grounding JSONL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pycocotools.coco import COCO

from tests.importers.conftest import Coco, make_image, read_jsonl
from tests.importers.test_coco import _fill_holes, standard
from tests.importers.test_labelme import labelme_file, shape
from tests.importers.test_swift import grounding_lines
from tests.importers.test_yolo import yolo_dataset
from vlmdata.cli import main


@pytest.fixture
def coco(tmp_path: Path) -> Coco:
    return Coco(tmp_path / "coco")


def _through(fmt: str, src: Path, tmp: Path, image_root: Path | None, *extra: str) -> Path:
    """import → validate → the validated dataset folder."""
    out = tmp / "imported.jsonl"
    args = ["import", fmt, str(src), "--out", str(out), *extra]
    if image_root is not None:
        args += ["--image-root", str(image_root)]
    assert main(args) == 0
    root = json.loads((tmp / "imported.import.json").read_text())["image_root"]
    validated = tmp.with_name(tmp.name + "-validated")  # outside the image root, an input of validate
    assert main(["validate", str(out), "--image-root", root, "--out", str(validated)]) == 0
    return validated / "data"


def _same_ring(a: list[float], b: list[float]) -> bool:
    pa = shapely.Polygon(np.array(a, float).reshape(-1, 2)).normalize()
    pb = shapely.Polygon(np.array(b, float).reshape(-1, 2)).normalize()
    return pa.equals_exact(pb, tolerance=1e-6)


def test_coco_round_trip(coco: Coco, tmp_path: Path) -> None:
    src = standard(coco)
    data = _through("coco", src, tmp_path, coco.root / "images")
    out = tmp_path / "export.json"
    assert main(["export", str(data), "--format", "coco", "--out", str(out)]) == 0
    original, exported = COCO(str(src)), COCO(str(out))
    annotated = {a["image_id"] for a in original.dataset["annotations"]}
    assert exported.dataset["images"] == [im for im in original.dataset["images"] if im["id"] in annotated]
    assert exported.dataset["categories"] == original.dataset["categories"]
    assert sorted(exported.anns) == sorted(original.anns)
    for ann_id, a in original.anns.items():
        b = exported.anns[ann_id]
        assert b["bbox"] == a["bbox"], "boxes come back exactly"
        assert (b["category_id"], b["image_id"], b["iscrowd"], b["area"]) == (
            a["category_id"],
            a["image_id"],
            a["iscrowd"],
            a["area"],
        )
        assert b.get("attributes") == a.get("attributes") and b.get("score") == a.get("score")
        if isinstance(a["segmentation"], list):
            assert len(b["segmentation"]) == len(a["segmentation"])
            for pa, pb in zip(a["segmentation"], b["segmentation"], strict=True):
                assert _same_ring(pa, pb)
        else:  # masks come back as their traced outlines: the same pixels, holes filled
            assert np.array_equal(exported.annToMask(b), _fill_holes(original.annToMask(a)))


def test_coco_export_recomputes_what_changed(coco: Coco, tmp_path: Path) -> None:
    """Moved geometry gets its own bounds and pycocotools' area; untouched geometry keeps the originals."""
    from pycocotools import mask as mask_utils

    from vlmdata.export.coco import coco_document
    from vlmdata.io.dataset import load_dataset

    data = _through("coco", standard(coco), tmp_path, coco.root / "images")
    rows = [dict(r) for r in load_dataset(data)]
    objects = [dict(o) for o in rows[0]["objects"]]
    objects[0]["points"] = [v + 1.0 for v in objects[0]["points"]]  # shift the person polygon
    objects[3]["points"] = [1.0, 2.0, 11.0, 22.0]  # a new box for the dog
    rows[0]["objects"] = objects
    doc, _ = coco_document(rows, tmp_path / "x.json")
    anns = {a["id"]: a for a in doc["annotations"]}
    person, dog = coco.annotations[0], coco.annotations[2]
    pts = np.array(objects[0]["points"]).reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    assert anns[person["id"]]["bbox"] == [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
    rle = mask_utils.merge(mask_utils.frPyObjects([objects[0]["points"]], 480, 640))
    assert anns[person["id"]]["area"] == float(mask_utils.area(rle))
    assert anns[dog["id"]]["bbox"] == [1.0, 2.0, 10.0, 20.0] and anns[dog["id"]]["area"] == 200.0
    assert anns[coco.annotations[1]["id"]]["bbox"] == coco.annotations[1]["bbox"]  # untouched


def test_labelme_round_trip_through_coco(tmp_path: Path) -> None:
    root = tmp_path / "lm"
    make_image(root / "a.jpg", (200, 100))
    make_image(root / "b.jpg", (64, 64))
    shapes_a = [
        shape("car", [[150.5, 80.25], [10.0, 20.0]], "rectangle"),
        shape("road", [[1, 1], [50, 1], [50, 40], [1, 40]], "polygon"),
        shape("car", [[100, 10], [140, 12], [120, 40]], "polygon", group_id=1),
        shape("cable", [[5, 5], [100, 50]], "line"),
    ]
    labelme_file(root / "a.json", "a.jpg", (200, 100), shapes_a)
    labelme_file(root / "b.json", "b.jpg", (64, 64), [shape("tree", [[3, 3], [60, 3], [30, 60]], "polygon")])
    data = _through("labelme", root, tmp_path, None)
    out = tmp_path / "export.json"
    assert main(["export", str(data), "--format", "coco", "--out", str(out), "--image-root", str(root)]) == 0
    api = COCO(str(out))
    assert [im["file_name"] for im in api.dataset["images"]] == ["a.jpg", "b.jpg"]
    assert [(im["width"], im["height"]) for im in api.dataset["images"]] == [(200, 100), (64, 64)]
    assert [c["name"] for c in api.dataset["categories"]] == ["car", "road", "tree"]
    names = {c["id"]: c["name"] for c in api.dataset["categories"]}
    anns = api.dataset["annotations"]
    assert [names[a["category_id"]] for a in anns] == [
        "car",
        "road",
        "car",
        "tree",
    ]  # the line has no COCO form
    assert anns[0]["bbox"] == [10.0, 20.0, 140.5, 60.25] and anns[0]["segmentation"] == []
    for ann, sh in zip(anns[1:], [shapes_a[1], shapes_a[2], None], strict=True):
        points = sh["points"] if sh else [[3, 3], [60, 3], [30, 60]]
        assert _same_ring(ann["segmentation"][0], [v for p in points for v in p])
        ring = np.array(points, float)
        assert ann["bbox"] == [ring[:, 0].min(), ring[:, 1].min(), np.ptp(ring[:, 0]), np.ptp(ring[:, 1])]


def test_yolo_round_trip_through_coco(tmp_path: Path) -> None:
    src = yolo_dataset(tmp_path / "ds")
    data = _through("yolo", src, tmp_path, None)
    out = tmp_path / "export.json"
    assert (
        main(
            ["export", str(data), "--format", "coco", "--out", str(out), "--image-root", str(tmp_path / "ds")]
        )
        == 0
    )
    api = COCO(str(out))
    assert [im["file_name"] for im in api.dataset["images"]] == [
        "images/train/a.jpg",
        "images/train/sub/b.png",
    ]
    anns = api.dataset["annotations"]
    # hand-computed from the label lines: 0 0.5 0.5 0.25 0.5 on 640×480; 1 0.5 0.5 1 1 on 100×50
    assert anns[0]["bbox"] == [240.0, 120.0, 160.0, 240.0]
    assert _same_ring(anns[1]["segmentation"][0], [64, 48, 192, 48, 192, 192, 64, 192])
    assert anns[2]["bbox"] == [0.0, 0.0, 100.0, 50.0]
    assert [c["name"] for c in api.dataset["categories"]] == ["car", "person", "traffic light"]


def test_llamafactory_export(coco: Coco, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _through("coco", standard(coco), tmp_path, coco.root / "images")
    # a dataset_info.json vlmdata did not write (LLaMA-Factory's own data/ folder) is never rewritten: the
    # export is refused and the hint carries the entry to add by hand
    kept = tmp_path / "llamafactory_data"
    kept.mkdir()
    hand = json.dumps({"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}})
    (kept / "dataset_info.json").write_text(hand)
    argv = ["export", str(data), "--format", "llamafactory", "--out", str(kept / "coco_sft.json")]
    assert main([*argv, "--template", "source_dense"]) == 2
    assert (kept / "dataset_info.json").read_text() == hand and not (kept / "coco_sft.json").exists()
    assert '"coco_sft": {"file_name": "coco_sft.json"' in capsys.readouterr().err
    folder = tmp_path / "lf"
    out = folder / "coco_sft.json"
    argv = ["export", str(data), "--format", "llamafactory", "--out", str(out), "--template", "source_dense"]
    assert main([*argv[:-2], "--name", "first", "--template", "source_dense"]) == 0  # a second entry, kept
    assert main(argv) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 2
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert row["messages"][1]["content"].count("<image>") == len(row["images"]) == 1
        assert Path(row["images"][0]).is_absolute()
    info = json.loads((folder / "dataset_info.json").read_text())
    assert info["first"]["file_name"] == "coco_sft.json"  # vlmdata's own dataset_info.json is extended
    assert info["coco_sft"] == {
        "file_name": "coco_sft.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }
    # the same export again leaves the entry alone; another file under the same name is refused
    assert (
        main(
            ["export", str(data), "--format", "llamafactory", "--out", str(out), "--template", "source_dense"]
        )
        == 0
    )
    other = folder / "other.json"
    assert (
        main(
            [
                "export",
                str(data),
                "--format",
                "llamafactory",
                "--out",
                str(other),
                "--name",
                "coco_sft",
                "--template",
                "source_dense",
            ]
        )
        == 2
    )
    assert not other.exists()
    # the swift export of the same dataset carries the same conversations
    swift_out = tmp_path / "swift.jsonl"
    assert main(["export", str(data), "--out", str(swift_out), "--template", "source_dense"]) == 0
    assert [r["messages"] for r in read_jsonl(swift_out)] == [r["messages"] for r in rows]


@pytest.mark.train
def test_swift_grounding_round_trip_encodes_like_ms_swift(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported lines encode, with ms-swift's Qwen3-VL template, to the tokens ms-swift gives the original
    grounding lines (its `<ref-object>`/`<bbox>` substitution with the plain-text bbox format)."""
    tiny = request.getfixturevalue("tiny_model_dir")
    monkeypatch.setenv("QWENVL_BBOX_FORMAT", "new")
    from swift import get_processor
    from swift import get_template as swift_template

    make_image(tmp_path / "beach.jpg", (1500, 2000))
    lines: list[dict[str, Any]] = grounding_lines()[
        :4
    ]  # real and norm1000 boxes (ms-swift reads norm1000 as real)
    lines[3]["objects"]["bbox_type"] = "real"
    lines[3]["objects"]["bbox"] = [[150.3, 400.2, 750.3, 1600.2]]
    src = tmp_path / "g.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    data = _through("swift", src, tmp_path, None)
    out = tmp_path / "export.jsonl"
    assert main(["export", str(data), "--out", str(out)]) == 0
    exported = read_jsonl(out)
    assert len(exported) == 4
    processor = get_processor(str(tiny), model_type="qwen3_vl")
    template = swift_template(processor, max_length=8192)
    template.set_mode("train")
    for original, row in zip(lines, exported, strict=True):
        theirs = template.encode(
            {
                "messages": original["messages"],
                "images": [str(tmp_path / "beach.jpg")],
                "objects": original["objects"],
            }
        )
        ours = template.encode({"messages": row["messages"], "images": row["images"]})
        assert ours["input_ids"] == theirs["input_ids"]
        assert ours["labels"] == theirs["labels"]
