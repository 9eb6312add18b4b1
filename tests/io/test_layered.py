from __future__ import annotations

from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.io.layered import load_layered


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_deep_merge_scalars_and_lists_replace(tmp_path: Path) -> None:
    _w(tmp_path / "base" / "a.yaml", "model: {path: m, dtype: bf16}\nlist: [1, 2]\nx: 1\n")
    top = _w(tmp_path / "run.yaml", "extends: base/a.yaml\nmodel: {dtype: fp32}\nlist: [3]\n")
    layered = load_layered(top)
    assert layered.data == {"model": {"path": "m", "dtype": "fp32"}, "list": [3], "x": 1}
    assert layered.origin_of(("model", "path")).endswith("a.yaml")
    assert layered.origin_of(("model", "dtype")).endswith("run.yaml")


def test_base_layer_is_below_everything(tmp_path: Path) -> None:
    base = _w(tmp_path / "b.yaml", "a: 1\nb: 1\n")
    top = _w(tmp_path / "t.yaml", "a: 2\n")
    assert load_layered(top, base=base).data == {"a": 2, "b": 1}


def test_named_lists_merge_by_name_and_empty_clears(tmp_path: Path) -> None:
    _w(
        tmp_path / "b.yaml",
        "targets:\n  - {name: x, ratio: 1.0, data: d1}\n  - {name: y, ratio: 0.5, data: d2}\nsources:\n  - {name: s, data: d3}\n",
    )
    top = _w(
        tmp_path / "t.yaml",
        "extends: b.yaml\ntargets:\n  - {name: y, ratio: 0.25}\n  - {name: z, data: d4}\nsources: []\n",
    )
    data = load_layered(top, merge_lists_by_name=("targets", "sources")).data
    assert data["targets"] == [
        {"name": "x", "ratio": 1.0, "data": "d1"},
        {"name": "y", "ratio": 0.25, "data": "d2"},
        {"name": "z", "data": "d4"},
    ]
    assert data["sources"] == []


def test_cycle_and_missing(tmp_path: Path) -> None:
    a = _w(tmp_path / "a.yaml", "extends: b.yaml\n")
    _w(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(VlmdataError) as err:
        load_layered(a)
    assert err.value.code_str == "VD601" and "b.yaml" in str(err.value)
    c = _w(tmp_path / "c.yaml", "extends: nope.yaml\n")
    with pytest.raises(VlmdataError) as err:
        load_layered(c)
    assert err.value.code_str == "VD602" and "c.yaml" in str(err.value)


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = _w(tmp_path / "bad.yaml", "a: 1\nb: [1, 2\n")
    with pytest.raises(VlmdataError) as err:
        load_layered(bad)
    assert err.value.code_str == "VD600" and "bad.yaml:" in str(err.value)
    obj = _w(tmp_path / "obj.yaml", "!!python/object:os.system {}\n")
    with pytest.raises(VlmdataError):
        load_layered(obj)


def test_duplicate_names_rejected(tmp_path: Path) -> None:
    top = _w(tmp_path / "t.yaml", "targets:\n  - {name: x}\n  - {name: x}\n")
    with pytest.raises(VlmdataError) as err:
        load_layered(top, merge_lists_by_name=("targets",))
    assert err.value.code_str == "VD604" and "targets[1].name" in str(err.value)
