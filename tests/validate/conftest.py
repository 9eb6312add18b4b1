"""Helpers for validate tests: write JSONL lines and small real images into a tmp dataset folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image


def make_image(path: Path, size: tuple[int, int] = (100, 80), orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, (120, 30, 200))
    kwargs: dict[str, Any] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    im.save(path, **kwargs)
    return path


def record(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "images": ["a.jpg"],
        "width": 100,
        "height": 80,
        "objects": [{"desc": "类别=BBU设备,品牌=华为", "bbox_2d": [10, 10, 50, 40]}],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def as_line(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    return json.dumps(item, ensure_ascii=False).encode()


@pytest.fixture
def dataset(tmp_path: Path) -> Callable[..., Path]:
    """Write `items` (dicts or raw bytes) as a JSONL file next to a valid 100×80 `a.jpg`; return its path."""
    make_image(tmp_path / "ds" / "a.jpg")

    def write(items: list[Any], name: str = "data.jsonl", sep: bytes = b"\n") -> Path:
        path = tmp_path / "ds" / name
        path.write_bytes(sep.join(as_line(i) for i in items) + (sep if items else b""))
        return path

    return write


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def rec() -> Callable[..., dict[str, Any]]:
    return record


@pytest.fixture
def img() -> Callable[..., Path]:
    return make_image


@pytest.fixture
def jsonl() -> Callable[[Path], list[dict[str, Any]]]:
    return read_jsonl
