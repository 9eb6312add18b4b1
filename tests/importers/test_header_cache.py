"""Imports read image headers through validate's one cache: each image once, bounded, empty in a new process."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import vlmdata.importers.images as images
from tests.importers.conftest import Coco, make_image, read_jsonl
from vlmdata.importers import ImportOptions, import_source
from vlmdata.importers.images import ImageRef, ImageSkip, Sizer
from vlmdata.io.engine import EngineOptions


def test_a_coco_import_reads_each_image_once(tmp_path: Path, header_reads: list[str]) -> None:
    coco = Coco(tmp_path)
    for i, size in enumerate([(64, 48), (80, 60), (30, 90)]):
        coco.image(f"i{i}.jpg", size, i + 1)
        for _ in range(6):
            coco.ann(i + 1, 1, bbox=[1.0, 2.0, 10.0, 8.0])
    out = tmp_path / "o.jsonl"
    opts = ImportOptions(image_root=str(tmp_path / "images"))
    import_source("coco", coco.write(), out, opts, EngineOptions(workers=1))
    assert len(read_jsonl(out)) == 3
    assert sorted(header_reads) == sorted(str(tmp_path / "images" / f"i{i}.jpg") for i in range(3))


def test_an_odvg_import_of_one_image_on_many_lines_reads_it_once(
    tmp_path: Path, header_reads: list[str]
) -> None:
    make_image(tmp_path / "img" / "a.jpg", (100, 80), orientation=6)  # displayed 80×100
    lines = [
        {
            "filename": "a.jpg",
            "width": 80,
            "height": 100,
            "detection": {"instances": [{"bbox": [1, 1, 20 + k, 30], "label": 0, "category": "box"}]},
        }
        for k in range(40)
    ]
    src = tmp_path / "odvg.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "o.jsonl"
    report = import_source("odvg", src, out, ImportOptions(image_root=str(tmp_path / "img")))
    records = read_jsonl(out)
    assert len(records) == 40 and {(r["width"], r["height"]) for r in records} == {(80, 100)}
    assert header_reads == [str(tmp_path / "img" / "a.jpg")]
    assert report.as_dict()["balanced"]


def test_the_sizer_keeps_the_last_paths_only(
    tmp_path: Path, header_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "IMPORT_ENTRIES", 2)
    for k in range(3):
        make_image(tmp_path / f"{k}.png", (10 + k, 10))
    sizer = Sizer(str(tmp_path))
    got = [sizer.resolve(f"{k}.png") for k in (0, 1, 2, 2, 1, 0)]
    assert [g.width for g in got if isinstance(g, ImageRef)] == [10, 11, 12, 12, 11, 10]
    assert [Path(p).name for p in header_reads] == ["0.png", "1.png", "2.png", "0.png"]


def test_a_sizer_sent_to_a_worker_keeps_its_limit_and_starts_empty(
    tmp_path: Path, header_reads: list[str]
) -> None:
    make_image(tmp_path / "a.png", (100, 80))
    sizer = Sizer(str(tmp_path), max_pixels=7999)
    first = sizer.resolve("a.png")
    copy = pickle.loads(pickle.dumps(sizer))
    second = copy.resolve("a.png")
    assert isinstance(first, ImageSkip) and first.code == "VD306"
    assert second == first
    assert len(header_reads) == 2  # the copy read the header again: its cache arrived empty
    assert copy.root == sizer.root and copy.max_pixels == 7999
