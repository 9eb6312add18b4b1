"""`vlmdata import lvis`: LVIS v1 (no `file_name`; neg / not-exhaustive ids kept)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importers.conftest import compressed_rle, make_image, read_jsonl, validate_jsonl
from vlmdata.importers import ImportOptions, import_source


def _lvis(root: Path) -> Path:
    import numpy as np

    make_image(root / "coco" / "val2017" / "000000397133.jpg", (64, 48))
    make_image(root / "coco" / "train2017" / "000000000009.jpg", (32, 32))
    blob = np.zeros((32, 32), np.uint8)
    blob[4:9, 2:30] = 1
    data = {
        "info": {"year": 2020},
        "images": [
            {
                "date_captured": "2013-11-14 17:02:52",
                "neg_category_ids": [3, 7],
                "id": 397133,
                "license": 4,
                "height": 48,
                "width": 64,
                "flickr_url": "http://farm7.staticflickr.com/x.jpg",
                "coco_url": "http://images.cocodataset.org/val2017/000000397133.jpg",
                "not_exhaustive_category_ids": [1],
            },
            {
                "date_captured": "2013-11-14 17:02:52",
                "neg_category_ids": [],
                "id": 9,
                "license": 4,
                "height": 32,
                "width": 32,
                "flickr_url": "http://f",
                "coco_url": "http://images.cocodataset.org/train2017/000000000009.jpg",
                "not_exhaustive_category_ids": [],
            },
        ],
        "annotations": [
            {
                "area": 100.5,
                "id": 1,
                "segmentation": [[1.5, 2.5, 20.0, 2.5, 20.0, 12.0, 1.5, 12.0]],
                "image_id": 397133,
                "bbox": [1.5, 2.5, 18.5, 9.5],
                "category_id": 1,
            },
            {
                "area": 140,
                "id": 2,
                "segmentation": compressed_rle(blob),
                "image_id": 9,
                "bbox": [2, 4, 28, 5],
                "category_id": 2,
            },
        ],
        "categories": [
            {
                "frequency": "f",
                "synonyms": ["aerosol_can", "spray_can"],
                "synset": "aerosol.n.02",
                "image_count": 64,
                "id": 1,
                "def": "a dispenser that holds a substance under pressure",
                "instance_count": 109,
                "name": "aerosol_can",
            },
            {
                "frequency": "r",
                "synonyms": ["alarm_clock"],
                "synset": "alarm_clock.n.01",
                "image_count": 4,
                "id": 2,
                "def": "a clock that wakes a sleeper at some preset time",
                "instance_count": 5,
                "name": "alarm_clock",
            },
        ],
    }
    path = root / "lvis_v1_val.json"
    path.write_text(json.dumps(data))
    return path


def test_lvis_names_files_by_coco_url_and_keeps_category_ids(tmp_path: Path) -> None:
    src = _lvis(tmp_path)
    out = tmp_path / "o.jsonl"
    report = import_source("lvis", src, out, ImportOptions(image_root=str(tmp_path / "coco")))
    d = report.as_dict()
    assert d["totals"]["annotations"] == {"total": 2, "imported": 2, "skipped": {}} and report.exit_code == 0
    a, b = read_jsonl(out)
    assert a["images"] == ["val2017/000000397133.jpg"] and b["images"] == ["train2017/000000000009.jpg"]
    assert a["metadata"]["lvis"]["image"]["neg_category_ids"] == [3, 7]
    assert a["metadata"]["lvis"]["image"]["not_exhaustive_category_ids"] == [1]
    assert a["metadata"]["lvis"]["categories"] == [{"id": 1, "name": "aerosol_can"}]
    assert a["objects"][0]["desc"] == "aerosol_can" and b["objects"][0]["poly"] == [30, 4, 30, 9, 2, 9, 2, 4]
    assert validate_jsonl(out, tmp_path / "coco", tmp_path / "v").total("rejected") == 0
    opts = ImportOptions(image_root=str(tmp_path / "coco"), desc_template="{category} ({synset})")
    import_source("lvis", src, tmp_path / "p.jsonl", opts)
    assert read_jsonl(tmp_path / "p.jsonl")[0]["objects"][0]["desc"] == "aerosol_can (aerosol.n.02)"
