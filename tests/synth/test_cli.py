"""`vlmdata synth` on the command line, and its output through `vlmdata validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.cli import main

SMALL = ["--min-size", "64", "--max-size", "160", "--max-objects", "5"]


def test_synth_json_output_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert main(["synth", str(out), "--n", "12", "--seed", "2", "--format", "json", *SMALL]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 12 and summary["planted"] == 0
    assert len((out / "data.jsonl").read_text(encoding="utf-8").splitlines()) == 12
    assert summary["images"] == len([p for p in (out / "images").rglob("*") if p.is_file()]) > 0


@pytest.mark.parametrize(
    "args", [["--domain", "cats"], ["--n", "-3"], ["--format", "yaml"], ["--min-objects", "0"]]
)
def test_synth_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    assert main(["synth", str(tmp_path / "s"), *args]) == 2
    assert not (tmp_path / "s").exists()


def test_synth_then_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validate = pytest.importorskip("vlmdata.validate")
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    assert main(["synth", str(clean), "--n", "15", *SMALL]) == 0
    assert main(["synth", str(dirty), "--n", "15", "--corrupt", "1", *SMALL]) == 0
    capsys.readouterr()
    assert validate.validate_files([clean / "data.jsonl"], tmp_path / "v1").exit_code == 0
    report = validate.validate_files([dirty / "data.jsonl"], tmp_path / "v2")
    assert report.exit_code == 1
    manifest = json.loads((dirty / "corrupt_manifest.json").read_text(encoding="utf-8"))
    rejected = len((tmp_path / "v2/rejects.jsonl").read_text(encoding="utf-8").splitlines())
    assert rejected == manifest["errors"] == report.files[0].rejected
    assert report.files[0].valid == 15 + manifest["warnings"]


def test_synth_no_images_and_val_split_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    args = ["synth", str(out), "--n", "30", "--no-images", "--val-fraction", "0.2", "--domain", "rru"]
    assert main([*args, "--corrupt", "1"]) == 0
    text = capsys.readouterr().out
    assert "24 records" in text and "6 records" in text and "planted" in text
    assert not (out / "images").exists()
    val = [json.loads(x) for x in (out / "val.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(val) == 6 and all(r["metadata"]["domain"] == "rru" for r in val)
