"""End to end on a synthetic set with every planted defect kind: exactly the planted records are rejected, each
with its code and field, planted warnings are reported, every clean record is kept, the output loads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.validate import validate_files


@pytest.mark.slow
def test_validate_rejects_exactly_the_planted_records(tmp_path: Path) -> None:
    synth = pytest.importorskip("vlmdata.synth")
    result = synth.generate(tmp_path / "s", n=40, seed=3, corrupt=1)
    manifest = json.loads(Path(result.manifest_path).read_text(encoding="utf-8"))
    entries = manifest["entries"]
    assert len({e["kind"] for e in entries}) >= 30  # the synthetic set plants every defect kind

    report = validate_files([result.data_path], tmp_path / "out")
    out = tmp_path / "out"
    rejects = {
        r["line"]: r
        for r in map(json.loads, (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines())
    }
    warnings = [json.loads(x) for x in (out / "warnings.jsonl").read_text(encoding="utf-8").splitlines()]

    errors = [e for e in entries if e["severity"] == "error"]
    assert set(rejects) == {e["line"] for e in errors}
    for e in errors:
        found = [(i["code"], i.get("field")) for i in rejects[e["line"]]["issues"]]
        assert e["code"] in [c for c, _ in found], (e, found)
        if e.get("field"):
            assert (e["code"], e["field"]) in found, (e, found)
    for e in entries:
        if e["severity"] == "warning":
            assert any(w["line"] == e["line"] and w["code"] == e["code"] for w in warnings), e

    import datasets

    ds = datasets.load_from_disk(str(out / "data"))
    lines_read = report.total("lines")
    assert len(ds) == report.total("valid") == lines_read - report.total("blank") - len(errors)
    assert report.invariant_holds
