"""Fixtures for the fusion tests: small Arrow datasets in the normalised schema and config writers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest


def make_records(prefix: str, n: int, objects: int = 3) -> list[dict]:
    records = []
    for i in range(n):
        k = (i % objects) + 1 if objects else 0
        records.append(
            {
                "id": f"{prefix}-{i}",
                "images": [f"/img/{prefix}/{i}.jpg"],
                "width": 640,
                "height": 480,
                "objects": [
                    {
                        "desc": f"{prefix} obj {j}",
                        "kind": "bbox_2d",
                        "points": [j, j, j + 10.0, j + 20.0],
                        "image_index": 0,
                    }
                    for j in range(k)
                ],
                "summary": None,
                "messages": None,
                "metadata": json.dumps({"row": i}) if i % 2 else "{}",
                "source_file": f"{prefix}.jsonl",
                "source_line": i + 1,
            }
        )
    return records


@pytest.fixture
def make_dataset() -> Callable[..., Path]:
    from vlmdata.io.dataset import save_records

    def _make(path: Path, n: int, prefix: str | None = None, objects: int = 3) -> Path:
        save_records(make_records(prefix or path.name, n, objects), path)
        return path

    return _make


@pytest.fixture
def write_yaml() -> Callable[[Path, str], Path]:
    def _write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
