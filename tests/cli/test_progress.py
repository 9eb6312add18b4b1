"""The shared progress bar: only for a person at a terminal, never in `--format json` output, and the
library hooks it drives count exactly the work done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.cli._progress import progress_bar, progress_wanted


def test_when_a_bar_is_wanted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMDATA_PROGRESS", raising=False)
    assert not progress_wanted("table")  # pytest's captured stderr is not a terminal
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert progress_wanted("table", 10, min_total=5) and not progress_wanted("table", 4, min_total=5)
    assert not progress_wanted("json", 10)
    monkeypatch.setenv("VLMDATA_PROGRESS", "0")
    assert not progress_wanted("table", 10)
    monkeypatch.setenv("VLMDATA_PROGRESS", "1")
    assert progress_wanted("json", 0)


def test_bar_draws_on_stderr_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("VLMDATA_PROGRESS", "1")
    with progress_bar("working", 3) as advance:
        for _ in range(3):
            advance(1)
        advance(0, total=5)
    captured = capsys.readouterr()
    assert captured.out == ""
    monkeypatch.setenv("VLMDATA_PROGRESS", "0")
    with progress_bar("working", 3) as advance:
        advance(2)  # a no-op, never an error
    assert capsys.readouterr() == ("", "")


def _records(n: int) -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "images": [],
            "width": None,
            "height": None,
            "objects": [],
            "summary": None,
            "messages": json.dumps(
                [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]
            ),
            "metadata": "{}",
            "source_file": "d.jsonl",
            "source_line": i + 1,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("batch", [True, False])
def test_audit_reports_every_record_once(tmp_path: Path, batch: bool) -> None:
    from vlmdata.audit.audit import audit_dataset
    from vlmdata.io.dataset import save_records
    from vlmdata.models.tokenizer import build_backend_tokenizer

    build_backend_tokenizer().save(str(tmp_path / "tokenizer.json"))
    save_records(_records(700), tmp_path / "ds")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model: {{path: {tmp_path}}}\ndata: {{train: [x]}}\ntemplate: {{name: chat}}\n")
    seen: list[int] = []
    report = audit_dataset([str(tmp_path / "ds")], cfg, batch=batch, progress=seen.append)
    assert sum(seen) == report.count == 700 and all(n > 0 for n in seen)


def test_render_reports_every_record(tmp_path: Path) -> None:
    from PIL import Image

    from vlmdata.io.dataset import save_records
    from vlmdata.viz import render_dataset

    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    recs = _records(5)
    for r in recs:
        r.update(images=[str(tmp_path / "a.png")], width=40, height=30, messages=None, summary="无关图片")
    save_records(recs, tmp_path / "ds")
    seen: list[int] = []
    result = render_dataset(tmp_path / "ds", tmp_path / "out", n=4, progress=seen.append)
    assert seen == [1, 1, 1, 1] and result.records == 4


def test_json_output_stays_json_with_a_bar_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from vlmdata.cli import main

    monkeypatch.setenv("VLMDATA_PROGRESS", "1")
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"x{i}",
                    "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                }
            )
            + "\n"
            for i in range(50)
        )
    )
    assert main(["validate", str(data), "--out", str(tmp_path / "v"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == 50
