"""The format table drives the cross-cutting checks: every format is documented, wired and fails cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vlmdata.cli import main
from vlmdata.importers import FORMATS
from vlmdata.importers.codes import REASONS
from vlmdata.importers.report import FileTally

DOC = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_is_documented_and_wired(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = FORMATS[fmt]
    assert f"### {fmt}\n" in DOC and f"| `{fmt}` |" in DOC
    assert "category" in spec.fields
    assert callable(spec.plan) and callable(spec.convert)
    assert main(["import", fmt, str(tmp_path / "missing"), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "VD160" in err and "Traceback" not in err


def test_every_skip_reason_is_documented() -> None:
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (VD\d{3}) \|", DOC, flags=re.M))
    assert set(rows) == set(REASONS)
    for name, reason in REASONS.items():
        assert rows[name] == reason.code, name


def test_unknown_format_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "pascal", str(tmp_path), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown import format" in capsys.readouterr().err
    assert main(["import", "--help"]) == 0
    help_text = capsys.readouterr().out
    for fmt in FORMATS:
        assert fmt in help_text


def test_examples_are_capped_and_merge_in_order() -> None:
    a, b = FileTally("f"), FileTally("f")
    for i in range(4):
        a.skip_annotation("bad_box", {"index": i}, "x")
    for i in range(4, 8):
        b.skip_annotation("bad_box", {"index": i}, "x")
    a.merge(b)
    assert [e["index"] for e in a.examples["bad_box"]] == [0, 1, 2, 3, 4]
    assert a.annotations.skipped == {"bad_box": 8} and a.annotations.balanced()
