"""A record with tens of thousands of bad objects: memory in proportion to its line, a readable reject entry.

Memory is measured with tracemalloc (Python and numpy allocations; deterministic, unlike RSS) around a whole
`validate_files` run on one such line, after a warm-up run has paid for imports and caches. Figures against a
valid line of the same size: `benchmarks/validate_memory.py` (docs/performance.md).
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from vlmdata.validate import ValidateOptions, validate_files
from vlmdata.validate.slow import MAX_LISTED_ISSUES

N = 20_000
BAD = {
    "inverted": {"desc": "类别=BBU设备,品牌=华为", "bbox_2d": [100, 100, 50, 50]},  # object rule
    "out_of_bounds": {"desc": "x", "poly": [1e6, 1, 2, 2, 3, 1]},  # record rule
    "mistyped": {"desc": 5, "bbox_2d": ["a", 1, 2, 3]},  # pydantic's own type errors
}


def _line(obj: dict) -> bytes:
    return json.dumps(
        {"images": ["a.jpg"], "width": 640, "height": 480, "objects": [obj] * N}, ensure_ascii=False
    ).encode()


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("warm")
    (d / "w.jsonl").write_text(
        json.dumps({"images": ["a"], "width": 5, "height": 5, "objects": [BAD["inverted"]]})
    )
    validate_files([d / "w.jsonl"], d / "out", ValidateOptions(image_check=False))
    return d


@pytest.mark.parametrize("kind", sorted(BAD))
def test_memory_is_a_small_multiple_of_the_line(kind: str, warm: Path, tmp_path: Path) -> None:
    line = _line(BAD[kind])
    (tmp_path / "in.jsonl").write_bytes(line + b"\n")
    tracemalloc.start()
    try:
        report = validate_files([tmp_path / "in.jsonl"], tmp_path / "out", ValidateOptions(image_check=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.total("rejected") == 1
    assert peak < 28 * len(line), f"{kind}: peak {peak / len(line):.1f}× the line"
    entry = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert entry["raw"].encode() == line  # nothing lost
    listed, more = entry["issues"], entry.get("more_issues", {})
    assert 0 < len(listed) <= MAX_LISTED_ISSUES
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    if kind == "mistyped":  # validation of the objects stopped at the first mistyped one, and says so
        assert "objects[0]" in entry["note"] and not more
        assert {i["field"] for i in listed} == {"objects[0].desc", "objects[0].bbox_2d[0]"}
    else:  # every issue is accounted for: listed + counted == one per object
        code = listed[0]["code"]
        assert sum(i["code"] == code for i in listed) + more.get(code, 0) == N
        assert summary["codes"][code]["occurrences"] == N and summary["codes"][code]["records"] == 1


def test_small_records_are_explained_in_full(tmp_path: Path) -> None:
    objs = [BAD["inverted"]] * (MAX_LISTED_ISSUES + 5)
    line = json.dumps({"images": ["a.jpg"], "width": 640, "height": 480, "objects": objs}).encode()
    (tmp_path / "in.jsonl").write_bytes(line + b"\n")
    validate_files([tmp_path / "in.jsonl"], tmp_path / "out", ValidateOptions(image_check=False))
    entry = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert len(entry["issues"]) == MAX_LISTED_ISSUES and entry["more_issues"] == {"VD200": 5}
    assert entry["issues"][-1]["field"] == f"objects[{MAX_LISTED_ISSUES - 1}].bbox_2d"
