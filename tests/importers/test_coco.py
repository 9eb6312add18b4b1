"""`vlmdata import coco`: COCO instances JSON → contract JSONL, checked against pycocotools and validate."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from tests.importers.conftest import (
    Coco,
    compressed_rle,
    make_image,
    read_jsonl,
    uncompressed_rle,
    validate_jsonl,
)
from vlmdata.cli import main
from vlmdata.errors import VlmdataError
from vlmdata.importers import ImportOptions, import_source


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Background not 8-connected to the border becomes inside (what a hole-free outline covers)."""
    padded = np.ascontiguousarray(np.pad(1 - (np.asarray(mask) > 0).astype(np.uint8), 1, constant_values=1))
    seen = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(padded, seen, (0, 0), 2, flags=8)
    return (padded[1:-1, 1:-1] != 2).astype(np.uint8)


def _crowd_mask() -> np.ndarray:
    mask = np.zeros((240, 320), np.uint8)
    mask[50:90, 40:100] = 1
    mask[60:70, 60:80] = 0  # a hole
    mask[150:200, 200:300] = 1
    mask[10, 300] = 1  # a single pixel
    return mask


def standard(coco: Coco) -> Path:
    """Three images: polygons (one of two parts), a box-only, attributes and score, crowd and plain RLE."""
    coco.image("a.jpg", (640, 480), 397133)
    coco.image("b.png", (320, 240), 37777)
    coco.image("empty.jpg", (200, 100), 5)
    coco.ann(
        397133,
        1,
        bbox=[473.07, 395.93, 38.65, 28.67],
        segmentation=[[510.66, 423.01, 511.72, 420.03, 510.45, 416.0, 473.07, 395.93, 490.0, 424.6]],
    )
    coco.ann(
        397133,
        3,
        bbox=[10.5, 20.25, 100.0, 80.0],
        segmentation=[
            [10.5, 20.25, 60.0, 20.25, 60.0, 60.0],
            [70.0, 30.0, 110.5, 30.0, 110.5, 100.25, 70.0, 90.0],
        ],
    )
    coco.ann(
        397133, 18, bbox=[0.1, 0.2, 639.8, 479.7], attributes={"occluded": False, "pose": "left"}, score=0.875
    )
    mask = _crowd_mask()
    coco.ann(
        37777,
        1,
        bbox=[40.0, 10.0, 261.0, 190.0],
        segmentation=uncompressed_rle(mask),
        iscrowd=1,
        area=int(mask.sum()),
    )
    blob = np.zeros((240, 320), np.uint8)
    blob[5:25, 5:30] = 1
    coco.ann(37777, 18, bbox=[5.0, 5.0, 25.0, 20.0], segmentation=compressed_rle(blob), area=500)
    return coco.write()


def test_well_formed_coco_imports_everything_and_validates(coco: Coco, tmp_path: Path) -> None:
    src = standard(coco)
    out = tmp_path / "out" / "coco.jsonl"
    report = import_source("coco", src, out, ImportOptions(image_root=str(coco.root / "images")))
    d = report.as_dict()
    assert d["balanced"] and report.exit_code == 0
    assert d["totals"]["annotations"] == {"total": 5, "imported": 5, "skipped": {}}
    assert d["totals"]["records"] == {"total": 3, "imported": 2, "skipped": {"no_annotations": 1}}
    assert json.loads((tmp_path / "out" / "coco.import.json").read_text())["totals"] == d["totals"]
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["instances:397133", "instances:37777"]
    a, b = records
    assert a["images"] == ["a.jpg"] and (a["width"], a["height"]) == (640, 480)
    assert a["metadata"]["coco"]["image"] == coco.images[0]  # verbatim
    assert a["metadata"]["coco"]["categories"] == [coco.categories[0], coco.categories[1], coco.categories[2]]
    person, car0, car1, dog = a["objects"]
    src_anns = coco.annotations
    assert person["desc"] == "person" and person["poly"] == src_anns[0]["segmentation"][0]
    assert [car0["poly"], car1["poly"]] == src_anns[1]["segmentation"]
    assert [car0["metadata"]["coco"]["part"], car1["metadata"]["coco"]["part"]] == [0, 1]
    assert car0["metadata"]["coco"]["parts"] == 2 and car0["metadata"]["coco"]["id"] == src_anns[1]["id"]
    x, y, w, h = src_anns[2]["bbox"]
    assert dog["bbox_2d"] == [x, y, x + w, y + h]
    assert dog["attributes"] == {"occluded": False, "pose": "left"}
    assert (
        dog["metadata"]["coco"]["score"] == 0.875 and dog["metadata"]["coco"]["bbox"] == src_anns[2]["bbox"]
    )
    # crowd: one polygon per region; rasterised back by pycocotools it is the mask with its hole filled
    crowd = [o for o in b["objects"] if o["metadata"]["coco"]["iscrowd"] == 1]
    assert len(crowd) == 3 and crowd[0]["metadata"]["coco"]["holes"] == 1
    polys = [o["poly"] for o in crowd]
    back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 240, 320)))
    assert np.array_equal(back, _fill_holes(_crowd_mask()))
    plain = [o for o in b["objects"] if o["metadata"]["coco"]["iscrowd"] == 0]
    assert plain[0]["poly"] == [30.0, 5.0, 30.0, 25.0, 5.0, 25.0, 5.0, 5.0]
    rep = validate_jsonl(out, coco.root / "images", tmp_path / "validated")
    assert rep.total("rejected") == 0 and rep.total("valid") == 2


def test_progress_counts_every_annotation_once(coco: Coco, tmp_path: Path) -> None:
    """The progress callback (the CLI's bar) sees every annotation accounted for, imported or skipped."""
    seen: list[int] = []
    report = import_source(
        "coco",
        standard(coco),
        tmp_path / "p.jsonl",
        ImportOptions(image_root=str(coco.root / "images")),
        progress=seen.append,
    )
    assert seen and sum(seen) == report.as_dict()["totals"]["annotations"]["total"] == 5


def test_pycocotools_reads_the_same_annotations(coco: Coco, tmp_path: Path) -> None:
    """Oracle: COCO(path) sees the boxes and polygons the import wrote."""
    src = standard(coco)
    out = tmp_path / "coco.jsonl"
    import_source("coco", src, out, ImportOptions(image_root=str(coco.root / "images")))
    api = COCO(str(src))
    objects = {
        (o["metadata"]["coco"]["id"], o["metadata"]["coco"].get("part", 0)): o
        for r in read_jsonl(out)
        for o in r["objects"]
    }
    for ann in api.loadAnns(api.getAnnIds()):
        if isinstance(ann["segmentation"], list) and ann["segmentation"]:
            for p, part in enumerate(ann["segmentation"]):
                assert objects[(ann["id"], p)]["poly"] == part
        elif not ann["segmentation"]:
            x, y, w, h = ann["bbox"]
            assert objects[(ann["id"], 0)]["bbox_2d"] == [x, y, x + w, y + h]
        else:  # a mask: the traced outlines cover annToMask exactly (holes filled)
            polys = [o["poly"] for (i, _), o in objects.items() if i == ann["id"]]
            img = api.imgs[ann["image_id"]]
            back = mask_utils.decode(
                mask_utils.merge(mask_utils.frPyObjects(polys, img["height"], img["width"]))
            )
            assert np.array_equal(back, _fill_holes(api.annToMask(ann)))


def test_random_masks_round_trip_through_pycocotools() -> None:
    from vlmdata.importers.masks import mask_polygons

    rng = np.random.default_rng(7)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        polygons, _ = mask_polygons(mask)
        if not mask.any():
            assert polygons == []
            continue
        back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, h, w)))
        assert np.array_equal(back, _fill_holes(mask))


def test_pretty_printed_file_gives_the_same_records(coco: Coco, tmp_path: Path) -> None:
    compact = standard(coco)
    pretty = coco.write("pretty.json", indent=2)
    opts = ImportOptions(image_root=str(coco.root / "images"))
    import_source("coco", compact, tmp_path / "a.jsonl", opts)
    import_source("coco", pretty, tmp_path / "b.jsonl", opts)
    a, b = read_jsonl(tmp_path / "a.jsonl"), read_jsonl(tmp_path / "b.jsonl")
    for ra, rb in zip(a, b, strict=True):
        assert ra["id"].split(":")[1] == rb["id"].split(":")[1]
        assert ra["objects"] == rb["objects"]
    assert all(b"\n" not in line for line in (tmp_path / "b.jsonl").read_bytes().splitlines())


def test_defects_are_skipped_with_reason_code_and_location(coco: Coco, tmp_path: Path) -> None:
    coco.image("a.jpg", (100, 80), 1)
    coco.image("missing.jpg", (100, 80), 2, write=False)
    coco.image("../../outside.jpg", (100, 80), 3, write=False)
    coco.image("http://example.com/x.jpg", (100, 80), 4, write=False)
    coco.image("dup.jpg", (100, 80), 1)  # duplicate id
    good = coco.ann(1, 1, bbox=[1, 1, 10, 10])
    bad = [
        coco.ann(99, 1, bbox=[1, 1, 10, 10]),  # unknown image
        coco.ann(1, 42, bbox=[1, 1, 10, 10]),  # unknown category
        coco.ann(1, 1, bbox=[1, 1, 10]),  # 3 numbers
        coco.ann(1, 1, bbox=[5, 5, -2, 3]),  # inverted
        coco.ann(1, 1, bbox=[1, 1, 10, 10], segmentation=[[1, 1, 5, 5]]),  # 2 points
        coco.ann(1, 1, bbox=[1, 1, 10, 10], segmentation=[[1, 1, 5, 5, 9, 9]]),  # collinear: zero area
        coco.ann(1, 1, bbox=[50, 50, 60, 10]),  # beyond the 100 px width
        coco.ann(1, 1, bbox=[1, 1, "10", 10]),  # a string
        coco.ann(1, 1, bbox=[1, 1, True, 10]),  # a boolean
        coco.ann(2, 1, bbox=[1, 1, 10, 10]),  # image missing
        coco.ann(3, 1, bbox=[1, 1, 10, 10]),  # outside the root
        coco.ann(4, 1, bbox=[1, 1, 10, 10]),  # remote
    ]
    bad_part = coco.ann(1, 3, bbox=[1, 1, 50, 50], segmentation=[[1, 1, 50, 1, 50, 50], [2, 2, 3, 3]])
    coco.categories.append({"supercategory": "x", "id": 99, "name": "<image> cat"})
    coco.ann(1, 99, bbox=[1, 1, 10, 10])  # a desc the chat template would act on
    src = coco.write()
    out = tmp_path / "o.jsonl"
    report = import_source("coco", src, out, ImportOptions(image_root=str(coco.root / "images")))
    d = report.as_dict()
    assert d["balanced"] and report.exit_code == 1
    skipped = d["totals"]["annotations"]["skipped"]
    assert skipped == {
        "unknown_image": 1,
        "unknown_category": 1,
        "bad_box": 2,
        "too_few_points": 1,
        "zero_area": 1,
        "out_of_bounds": 1,
        "wrong_type": 2,
        "image_missing": 1,
        "outside_root": 1,
        "remote_image": 1,
        "model_tokens": 1,
    }
    assert d["totals"]["annotations"]["imported"] == 2  # `good` and the polygon that lost one part
    assert d["files"][0]["notes"] == {"part_dropped:too_few_points": 1}
    assert d["totals"]["records"]["skipped"]["duplicate_image"] == 1
    examples = d["files"][0]["examples"]
    assert examples["unknown_image"][0] == {
        "file": str(src),
        "index": coco.annotations.index(bad[0]),
        "id": str(bad[0]["id"]),
        "field": "image_id",
        "code": "VD164",
        "message": "no image has this id",
        "value": "99",
    }
    assert examples["out_of_bounds"][0]["code"] == "VD205"
    assert examples["bad_box"][0]["code"] in ("VD209", "VD200")
    assert [e["field"] for e in examples["too_few_points"]] == ["segmentation[0]", "segmentation[1]"]
    assert {e["field"] for e in examples["outside_root"]} == {"file_name"}
    ids = [o["metadata"]["coco"]["id"] for r in read_jsonl(out) for o in r["objects"]]
    assert ids == [good["id"], bad_part["id"]]
    assert validate_jsonl(out, coco.root / "images", tmp_path / "v").total("rejected") == 0


def test_clip_keeps_what_lies_inside(coco: Coco, tmp_path: Path) -> None:
    coco.image("a.jpg", (100, 80), 1)
    coco.ann(1, 1, bbox=[50, 50, 60, 10])
    coco.ann(1, 1, bbox=[150, 10, 10, 10])  # wholly outside
    coco.ann(1, 1, bbox=[0, 0, 1, 1], segmentation=[[-20, -20, 60, -20, 60, 40, -20, 40]])
    out = tmp_path / "o.jsonl"
    report = import_source(
        "coco", coco.write(), out, ImportOptions(image_root=str(coco.root / "images"), clip=True)
    )
    assert report.as_dict()["totals"]["annotations"]["skipped"] == {"out_of_bounds": 1}
    objs = read_jsonl(out)[0]["objects"]
    assert objs[0]["bbox_2d"] == [50.0, 50.0, 100.0, 60.0]
    poly = np.array(objs[1]["poly"]).reshape(-1, 2)
    assert (
        poly[:, 0].min() == 0 and poly[:, 1].min() == 0 and poly[:, 0].max() == 60 and poly[:, 1].max() == 40
    )


def test_crowd_skip_is_counted_not_a_problem(coco: Coco, tmp_path: Path) -> None:
    standard(coco)
    opts = ImportOptions(image_root=str(coco.root / "images"), crowd="skip")
    report = import_source("coco", coco.write(), tmp_path / "o.jsonl", opts)
    assert report.as_dict()["totals"]["annotations"]["skipped"] == {"crowd": 1}
    assert report.exit_code == 0


def test_boxes_only(coco: Coco, tmp_path: Path) -> None:
    standard(coco)
    opts = ImportOptions(image_root=str(coco.root / "images"), boxes_only=True)
    import_source("coco", coco.write(), tmp_path / "o.jsonl", opts)
    objects = [o for r in read_jsonl(tmp_path / "o.jsonl") for o in r["objects"]]
    assert len(objects) == 5 and all("bbox_2d" in o for o in objects)


def test_exif_sizes(coco: Coco, tmp_path: Path) -> None:
    """Sizes are the displayed ones: an EXIF-rotated image declared with its stored size is refused."""
    coco.image("rot_ok.jpg", (60, 40), 1, write=False)
    make_image(coco.root / "images" / "rot_ok.jpg", (40, 60), orientation=6)  # stored 40×60, displayed 60×40
    coco.image("rot_bad.jpg", (40, 60), 2, write=False)
    make_image(coco.root / "images" / "rot_bad.jpg", (40, 60), orientation=6)
    coco.image("wrong.jpg", (50, 50), 3, write=False)
    make_image(coco.root / "images" / "wrong.jpg", (70, 50))
    for i in (1, 2, 3):
        coco.ann(i, 1, bbox=[1, 1, 5, 5])
    report = import_source(
        "coco", coco.write(), tmp_path / "o.jsonl", ImportOptions(image_root=str(coco.root / "images"))
    )
    d = report.as_dict()
    assert d["totals"]["records"]["skipped"] == {"exif_rotated": 1, "size_mismatch": 1}
    assert d["files"][0]["notes"]["exif_oriented_images"] == 1
    (rec,) = read_jsonl(tmp_path / "o.jsonl")
    assert (rec["width"], rec["height"]) == (60, 40)
    # without probing, declared sizes are trusted and nothing is read
    opts = ImportOptions(image_root=str(coco.root / "images"), probe=False)
    report = import_source("coco", coco.write(), tmp_path / "p.jsonl", opts)
    assert report.as_dict()["totals"]["records"]["imported"] == 3


def test_desc_template(coco: Coco, tmp_path: Path) -> None:
    standard(coco)
    opts = ImportOptions(image_root=str(coco.root / "images"), desc_template="{supercategory}/{category}")
    import_source("coco", coco.write(), tmp_path / "o.jsonl", opts)
    descs = {o["desc"] for r in read_jsonl(tmp_path / "o.jsonl") for o in r["objects"]}
    assert descs == {"person/person", "vehicle/car", "animal/dog"}
    opts = ImportOptions(
        image_root=str(coco.root / "images"), desc_template="{category} ({attributes[pose]})"
    )
    report = import_source("coco", coco.write(), tmp_path / "p.jsonl", opts)
    assert report.as_dict()["totals"]["annotations"]["skipped"] == {"desc_field_missing": 4}
    assert read_jsonl(tmp_path / "p.jsonl")[0]["objects"][0]["desc"] == "dog (left)"
    with pytest.raises(VlmdataError) as err:
        import_source("coco", coco.write(), tmp_path / "q.jsonl", ImportOptions(desc_template="{colour}"))
    assert err.value.code_str == "VD163" and err.value.exit_code == 2


def test_file_level_errors_have_codes_and_locations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [\n {"id": 1,}\n]}')
    out = tmp_path / "o.jsonl"
    assert main(["import", "coco", str(broken), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "VD161" in err and f"{broken}:2" in err and "Traceback" not in err
    shaped = tmp_path / "shaped.json"
    shaped.write_text(json.dumps({"images": {"id": 1}, "annotations": []}))
    assert main(["import", "coco", str(shaped), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "VD162" in err and "$.images" in err
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps({"images": [], "annotations": [{"bbox": [float("nan"), 0, 1, 1]}]}))
    assert main(["import", "coco", str(nan), "--out", str(out)]) == 1
    assert "VD161" in capsys.readouterr().err
    assert main(["import", "coco", str(tmp_path / "nope.json"), "--out", str(out)]) == 2
    assert "VD160" in capsys.readouterr().err
    assert not out.exists()


def test_out_rule(coco: Coco, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = standard(coco)
    root = str(coco.root / "images")
    assert main(["import", "coco", str(src), "--out", str(src), "--image-root", root]) == 2
    assert "VD001" in capsys.readouterr().err
    foreign = tmp_path / "mine.jsonl"
    foreign.write_text("precious\n")
    assert main(["import", "coco", str(src), "--out", str(foreign), "--image-root", root]) == 2
    assert "VD004" in capsys.readouterr().err and foreign.read_text() == "precious\n"
    report = tmp_path / "r.import.json"
    report.write_text("{}")  # a foreign file where the report would go: refused before any work
    assert main(["import", "coco", str(src), "--out", str(tmp_path / "r.jsonl"), "--image-root", root]) == 2
    assert "VD004" in capsys.readouterr().err and not (tmp_path / "r.jsonl").exists()
    out = tmp_path / "o.jsonl"
    assert main(["import", "coco", str(src), "--out", str(out), "--image-root", root]) == 0
    first = out.read_bytes()
    assert main(["import", "coco", str(src), "--out", str(out), "--image-root", root]) == 0  # its own output
    assert out.read_bytes() == first
    out.write_text("edited by hand\n")  # changed since vlmdata wrote it: no longer replaced
    assert main(["import", "coco", str(src), "--out", str(out), "--image-root", root]) == 2
    assert main(["import", "yolo", str(src), "--out", str(tmp_path / "x.jsonl"), "--crowd", "skip"]) == 2
    assert "--crowd does not apply to yolo" in capsys.readouterr().err
    assert not list(tmp_path.glob(".tmp-*"))


def test_cli_json_report(coco: Coco, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = standard(coco)
    out = tmp_path / "o.jsonl"
    code = main(
        [
            "import",
            "coco",
            str(src),
            "--out",
            str(out),
            "--image-root",
            str(coco.root / "images"),
            "--format",
            "json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["totals"]["annotations"]["imported"] == 5
    assert (
        printed["next"]
        == f"vlmdata validate {out} --image-root {coco.root / 'images'} --out {tmp_path / 'o.validated'}"
    )
    assert (
        main(
            [
                "import",
                "coco",
                str(src),
                "--out",
                str(tmp_path / "t.jsonl"),
                "--image-root",
                str(coco.root / "images"),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "holds" in table and "no_annotations" in table


def test_many_images_span_shards(coco: Coco, tmp_path: Path) -> None:
    """Shards split the images; the output and the report do not depend on the shard size."""
    for i in range(1, 40):
        coco.image(f"{i}.jpg", (50, 40), i, write=False)
        for k in range(i % 4):
            coco.ann(i, 1, bbox=[k, k, 10, 10])
        if i % 7 == 0:
            coco.ann(i, 99, bbox=[1, 1, 2, 2])
    src = coco.write()
    outs = []
    for size in (1, 5, 1000):
        out = tmp_path / f"o{size}.jsonl"
        rep = import_source(
            "coco", src, out, ImportOptions(image_root=str(tmp_path), probe=False, shard_size=size)
        )
        d = rep.as_dict()
        d.pop("seconds")
        d.pop("out")
        d.pop("next")
        d.pop("options")
        outs.append((out.read_bytes(), json.dumps(d, sort_keys=True)))
    assert outs[0] == outs[1] == outs[2]
