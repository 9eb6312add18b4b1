"""The record README's "Bring your own data" shows is the one `vlmdata import coco` writes for that image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.importers.conftest import Coco, read_jsonl
from vlmdata.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_record_is_what_import_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    section = README.read_text(encoding="utf-8").split("## Bring your own data", 1)[1]
    shown = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    monkeypatch.chdir(tmp_path)
    coco = Coco(Path("coco"))
    coco.image("000000397133.jpg", (640, 427), 397133)
    coco.ann(
        397133,
        1,
        bbox=[388.66, 69.92, 109.41, 277.62],
        area=21547.0,
        id=200887,
        segmentation=[[445.81, 69.92, 498.07, 103.31, 490.1, 347.54, 388.66, 326.1, 405.19, 128.26]],
    )
    coco.ann(397133, 18, bbox=[0.0, 262.81, 62.16, 36.77], id=1218137, area=1485.9)
    coco.categories = [coco.categories[0], coco.categories[2]]
    coco.write("instances_val2017.json")
    Path("coco/images").rename("coco/val2017")
    args = ["import", "coco", "coco/annotations/instances_val2017.json", "--image-root", "coco/val2017"]
    assert main([*args, "--out", "data/coco.jsonl"]) == 0
    assert read_jsonl(Path("data/coco.jsonl")) == [shown]
    commands = re.findall(r"^vlmdata (import|validate) .*$", section, re.M)
    assert commands == ["import", "validate"]
