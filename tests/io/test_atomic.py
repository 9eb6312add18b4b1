from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.io.atomic import atomic_dir, atomic_write_json


def test_atomic_dir_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_keeps_previous_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "partial.txt").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_write_json(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / "x" / "r.json", {"类别": 1})
    assert json.loads(path.read_text(encoding="utf-8")) == {"类别": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
