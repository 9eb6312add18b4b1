"""Builders for importer tests: images, and annotation files written the way the real tools write them.

COCO files follow the official instances JSON (`info, licenses, images, annotations, categories`; annotation
keys in COCO's order `segmentation, area, iscrowd, image_id, bbox, category_id, id`; crowd regions as
uncompressed RLE with `counts` a list; compact `json.dump`). Compressed RLE strings come from pycocotools'
own `mask.encode`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


def make_image(
    path: Path, size: tuple[int, int], orientation: int | None = None, fmt: str | None = None
) -> Path:
    """A real image file whose *stored* pixels are `size`; EXIF orientation when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, (90, 140, 30))
    kwargs: dict[str, Any] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    im.save(path, format=fmt, **kwargs)
    return path


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's crowd encoding: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, np.uint8).reshape(-1, order="F")
    counts: list[int] = []
    current, run = 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = int(v), 1
    counts.append(run)
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _area(bbox: list[Any]) -> float:
    ok = len(bbox) == 4 and all(type(v) in (int, float) for v in bbox)
    return round(bbox[2] * bbox[3], 4) if ok else 0


class Coco:
    """An instances JSON under construction, in COCO's key order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.categories = [
            {"supercategory": "person", "id": 1, "name": "person"},
            {"supercategory": "vehicle", "id": 3, "name": "car"},
            {"supercategory": "animal", "id": 18, "name": "dog"},
        ]
        self._ann_id = 100

    def image(self, name: str, size: tuple[int, int], image_id: int, write: bool = True, **kw: Any) -> dict:
        if write:
            make_image(self.root / "images" / name, size, kw.pop("orientation", None))
        entry = {
            "license": 4,
            "file_name": name,
            "coco_url": f"http://images.cocodataset.org/val2017/{name}",
            "height": size[1],
            "width": size[0],
            "date_captured": "2013-11-14 17:02:52",
            "flickr_url": f"http://farm7.staticflickr.com/6116/{name}",
            "id": image_id,
        }
        entry.update(kw)
        self.images.append(entry)
        return entry

    def ann(
        self, image_id: int, category_id: int, *, bbox: list[float], segmentation: Any = None, **kw: Any
    ) -> dict:
        self._ann_id += 1
        entry: dict[str, Any] = {
            "segmentation": [] if segmentation is None else segmentation,
            "area": kw.pop("area", _area(bbox)),
            "iscrowd": kw.pop("iscrowd", 0),
            "image_id": image_id,
            "bbox": bbox,
            "category_id": category_id,
            "id": kw.pop("id", self._ann_id),
        }
        entry.update(kw)
        self.annotations.append(entry)
        return entry

    def data(self) -> dict[str, Any]:
        return {
            "info": {"description": "test", "version": "1.0", "year": 2017},
            "licenses": [
                {"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "Attribution"}
            ],
            "images": self.images,
            "annotations": self.annotations,
            "categories": self.categories,
        }

    def write(self, name: str = "instances.json", indent: int | None = None) -> Path:
        path = self.root / "annotations" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data(), indent=indent))
        return path


@pytest.fixture
def coco(tmp_path: Path) -> Coco:
    return Coco(tmp_path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def validate_jsonl(path: Path, image_root: Path, out: Path) -> Any:
    """Run `vlmdata validate` on an import's output; returns the report."""
    from vlmdata.validate import ValidateOptions, validate_files

    return validate_files([path], out, ValidateOptions(image_root=image_root))
