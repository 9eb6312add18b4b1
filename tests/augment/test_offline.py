"""`vlmdata augment` end to end on a dataset of drawn shapes: rotation 20° + flip keeps every drawn object
inside its transformed geometry (IoU ≥ 0.95 per object), deterministically, and the output points back at
its source."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vlmdata.cli import main
from vlmdata.io.dataset import load_dataset, save_records

W, H = 320, 240
THICK = 9


def _inside(kind, flat, w, h):
    """Pixel-centre rasterisation (even-odd rule) of a box or polygon."""
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    if kind == "bbox_2d":
        (x1, y1), (x2, y2) = pts
        pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    py, px = np.mgrid[0:h, 0:w] + 0.5
    inside = np.zeros((h, w), bool)
    for (x1, y1), (x2, y2) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        if y1 != y2:
            inside ^= ((y1 > py) != (y2 > py)) & (px < x1 + (py - y1) * (x2 - x1) / (y2 - y1))
    return inside


def _near_line(flat, w, h, radius):
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    py, px = np.mgrid[0:h, 0:w] + 0.5
    best = np.full((h, w), np.inf)
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        d = b - a
        t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / (d @ d), 0, 1)
        best = np.minimum(best, np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1])))
    return best <= radius


SHAPES = [
    {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [30.0, 40.0, 110.0, 100.0]},
    {"desc": "类别=标签", "kind": "poly", "points": [160.0, 30.0, 230.0, 50.0, 215.0, 110.0, 150.0, 95.0]},
    {"desc": "类别=线缆", "kind": "line", "points": [60.0, 150.0, 140.0, 200.0, 260.0, 160.0]},
]


def make_dataset(tmp: Path, n: int = 3) -> Path:
    records = []
    for i in range(n):
        img = np.zeros((H, W, 3), np.uint8)
        for o in SHAPES:
            if o["kind"] == "line":
                pts = np.round(np.asarray(o["points"]).reshape(-1, 2) - 0.5).astype(np.int32)
                cv2.polylines(img, [pts], False, (255, 255, 255), THICK, lineType=cv2.LINE_8)
            else:
                img[_inside(o["kind"], o["points"], W, H)] = 255
        path = tmp / f"shape{i}.png"
        Image.fromarray(img).save(path)
        records.append(
            {
                "id": f"s{i}",
                "images": [str(path)],
                "width": W,
                "height": H,
                "objects": SHAPES,
                "metadata": {"origin": "drawn"},
                "source_file": "shapes.jsonl",
                "source_line": i + 1,
            }
        )
    return save_records(records, tmp / "ds")


CONFIG = """\
seed: 4
ops:
  - {name: hflip, params: {p: 1.0}}
  - {name: rotate, params: {p: 1.0, angle_range: [20, 20]}}
"""


@pytest.fixture(scope="module")
def augmented(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offline")
    src = make_dataset(tmp)
    (tmp / "aug.yaml").write_text(CONFIG, encoding="utf-8")
    outs = []
    for name in ("a", "b"):
        rc = main(
            [
                "augment",
                str(src),
                "--config",
                str(tmp / "aug.yaml"),
                "--out",
                str(tmp / name),
                "--copies",
                "2",
                "--format",
                "json",
            ]
        )
        assert rc == 0
        outs.append(tmp / name)
    return src, outs


def test_drawn_pixels_fall_inside_transformed_geometry(augmented):
    _, (out, _) = augmented
    ds = load_dataset(out / "data")
    assert len(ds) == 6
    for rec in ds:
        img = np.asarray(Image.open(rec["images"][0]).convert("L"))
        drawn = img > 191  # the fill (128) and black stay below; bicubic edges split at mid-level
        assert img.shape == (rec["height"], rec["width"])
        assert {o["kind"] for o in rec["objects"]} == {"poly", "line"}  # the box became an exact polygon
        for o in rec["objects"]:
            if o["kind"] == "line":
                region = _near_line(o["points"], rec["width"], rec["height"], THICK)
                mine = drawn & region
                assert (
                    mine & _near_line(o["points"], rec["width"], rec["height"], THICK / 2 + 1.5)
                ).sum() >= 0.95 * mine.sum()
                centre = _near_line(o["points"], rec["width"], rec["height"], 0.75)
                assert drawn[centre].mean() >= 0.95
                continue
            geom = _inside(o["kind"], o["points"], rec["width"], rec["height"])
            grown = cv2.dilate(geom.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
            mine = drawn & grown
            iou = (mine & geom).sum() / (mine | geom).sum()
            assert iou >= 0.95, (rec["id"], o["desc"], iou)


def test_deterministic_and_pointing_back(augmented):
    src, (a, b) = augmented
    assert (a / "data.jsonl").read_bytes() != b"" and (a / "data.jsonl").read_text() == (
        b / "data.jsonl"
    ).read_text()
    for f in sorted((a / "images").iterdir()):
        assert f.read_bytes() == (b / "images" / f.name).read_bytes()
    lines = [json.loads(x) for x in (a / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["s0~aug0", "s0~aug1", "s1~aug0", "s1~aug1", "s2~aug0", "s2~aug1"]
    first = lines[0]
    assert first["images"][0].startswith("images/") and (a / first["images"][0]).is_file()
    assert first["metadata"]["origin"] == "drawn"
    back = first["metadata"]["_augmented_from"]
    assert back["id"] == "s0" and Path(back["dataset"]) == Path(src).resolve()
    prov = first["metadata"]["_augment"]
    assert [op["name"] for op in prov["ops"]] == ["hflip", "rotate"] and prov["warps"] == 1
    ds = load_dataset(a / "data")
    assert ds[0]["source_file"] == "shapes.jsonl" and ds[0]["source_line"] == 1
    report = json.loads((a / "report.json").read_text())
    assert report["records_out"] == 6 and report["converted_to_poly"] == 6


def test_bad_config_is_a_one_line_error(tmp_path, capsys, augmented):
    src, _ = augmented
    (tmp_path / "bad.yaml").write_text("ops:\n  - {name: rotate, params: {angle: 3}}\n", encoding="utf-8")
    rc = main(["augment", str(src), "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "VD651" in err and "angle_range" in err
    assert not (tmp_path / "o").exists()


def test_missing_image_skips_its_record_and_says_so(tmp_path, capsys):
    src = make_dataset(tmp_path, n=2)
    (tmp_path / "shape1.png").unlink()
    (tmp_path / "aug.yaml").write_text(CONFIG, encoding="utf-8")
    rc = main(["augment", str(src), "--config", str(tmp_path / "aug.yaml"), "--out", str(tmp_path / "o")])
    assert rc == 1  # data problems found; the readable records are still written
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["records_out"] == 1 and report["skipped"] == {"VD300": 1}
    (example,) = report["skipped_examples"]["VD300"]
    assert example["id"] == "s1" and example["problem"] == "file not found"
    assert [r["id"] for r in load_dataset(tmp_path / "o" / "data")] == ["s0~aug0"]
    assert "skipped: VD300" in capsys.readouterr().out
    assert (
        main(
            [
                "augment",
                str(src),
                "--config",
                str(tmp_path / "aug.yaml"),
                "--out",
                str(tmp_path / "o"),
                "--copies",
                "0",
            ]
        )
        == 2
    )


def test_output_jsonl_passes_vlmdata_validate(augmented, tmp_path):
    from vlmdata.validate import validate_files

    _, (out, _) = augmented
    report = validate_files([out / "data.jsonl"], tmp_path / "val")
    assert report.total("valid") == 6 and report.total("rejected") == 0
    assert not {c for c in report.records_per_code if c.startswith(("VD2", "VD3"))}  # no geometry/image issue


def test_chat_records_are_augmented_like_training_and_bad_images_skip_their_record(tmp_path, monkeypatch):
    """Chat records with images were dropped as "no objects left"; an image over PIL's own bomb limit (after
    a raised limit) or a 16-bit grayscale one ended the run. Now: the chat record is kept with its pixels
    moved exactly as online training moves them, and each bad image skips its record under its code."""
    from vlmdata.augment import AugmentPipeline, augment_record
    from vlmdata.io.decode import load_image

    src = make_dataset(tmp_path, n=1)
    base = load_dataset(src)[0]
    chat_img = tmp_path / "chat.png"
    Image.fromarray((np.random.default_rng(1).random((H, W, 3)) * 255).astype(np.uint8)).save(chat_img)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": "chat.png"}, {"type": "text", "text": "what?"}],
        },
        {"role": "assistant", "content": "a drawing"},
    ]
    g16 = tmp_path / "g16.png"
    Image.fromarray(np.full((H, W), 40000, np.uint16)).save(g16)
    records = [
        {**base, "id": "shapes"},
        {**base, "id": "chat", "objects": [], "images": [str(chat_img)], "messages": messages},
        {**base, "id": "gray16", "images": [str(g16)]},
    ]
    ds = save_records(records, tmp_path / "mixed")
    (tmp_path / "aug.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)  # 320×240 is above twice PIL's (scaled) limit
    rc = main(["augment", str(ds), "--config", str(tmp_path / "aug.yaml"), "--out", str(tmp_path / "o"),
               "--max-image-pixels", "100000", "--format", "json"])  # fmt: skip
    monkeypatch.undo()
    assert rc == 1  # one record skipped for its data; the others are written
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["records_out"] == 2 and report["chat_records"] == 1 and report["skipped"] == {"VD309": 1}
    assert report["skipped_examples"]["VD309"][0]["id"] == "gray16"
    lines = [json.loads(x) for x in (tmp_path / "o" / "data.jsonl").read_text().splitlines()]
    chat = lines[1]
    assert chat["id"] == "chat~aug0" and chat["messages"][1] == messages[1]
    assert chat["messages"][0]["content"][0]["image"] == chat["images"][0]  # the item points at the new file
    # the augmented pixels equal what online training sees for this record in epoch 0 (the trainer's
    # conversation step calls augment_record on the images load_image gives it)
    pipeline = AugmentPipeline.from_yaml(tmp_path / "aug.yaml")
    online = augment_record(load_dataset(ds)[1], [load_image(str(chat_img))], pipeline, epoch=0)
    with Image.open(tmp_path / "o" / chat["images"][0]) as im:
        assert np.array_equal(np.asarray(im), np.asarray(online.images[0]))
