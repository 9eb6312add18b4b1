"""The `vlmdata validate` command: exit codes 0/1/2, the table, `--format json`."""

from __future__ import annotations

import json
from pathlib import Path

from vlmdata.cli import main


def test_clean_data_exits_0_with_table(dataset, rec, tmp_path: Path, capsys) -> None:
    path = dataset([rec(), rec(id="b")])
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "valid 2 + rejected 0 + blank 0 == lines read 2" in text and "holds" in text


def test_rejects_exit_1_and_json_report(dataset, rec, tmp_path: Path, capsys) -> None:
    path = dataset([rec(), b"{oops", b"", rec(width=0)])
    code = main(["validate", str(path), "--out", str(tmp_path / "out"), "--format", "json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["rejected"], report["blank"], report["lines_read"]) == (1, 2, 1, 4)
    assert report["invariant_holds"] and set(report["codes"]) == {"VD101", "VD117"}
    assert report == json.loads((tmp_path / "out" / "report.json").read_text())


def test_usage_errors_exit_2(dataset, rec, tmp_path: Path, capsys) -> None:
    path = dataset([rec()])
    assert main(["validate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert main(["validate", str(path)]) == 2  # --out is required
    assert main(["validate", str(path), "--out", str(tmp_path / "o"), "--format", "xml"]) == 2
    assert main(["validate", str(path), "--out", str(tmp_path / "o"), "--max-image-pixels", "0"]) == 2
    assert (
        main(["validate", str(path), "--out", str(tmp_path / "o"), "--image-root", str(tmp_path / "nope")])
        == 2
    )
    assert not (tmp_path / "o").exists()
    err = capsys.readouterr().err
    assert "missing.jsonl" in err and "Traceback" not in err


def test_image_root_and_flags(tmp_path: Path, img, capsys) -> None:
    root = tmp_path / "imgs"
    img(root / "sub" / "a.jpg")
    data = tmp_path / "meta" / "data.jsonl"
    data.parent.mkdir()
    data.write_text(
        json.dumps({"images": ["sub/a.jpg"], "width": 100, "height": 80, "summary": "无关图片", "note": 1})
        + "\n"
    )
    out = tmp_path / "out"
    assert main(["validate", str(data), "--out", str(out), "--image-root", str(root)]) == 1  # unknown key
    assert main(["validate", str(data), "--out", str(out), "--image-root", str(root), "--allow-extra"]) == 0
    assert (
        main(["validate", str(data), "--out", str(out), "--allow-extra"]) == 1
    )  # relative to the JSONL's folder: missing
    assert main(["validate", str(data), "--out", str(out), "--allow-extra", "--no-image-check"]) == 0


def test_progress_bar_for_large_inputs_on_a_terminal(
    dataset, rec, tmp_path: Path, monkeypatch, capsys
) -> None:
    import sys

    import vlmdata.cli.cmd_validate as cmd

    monkeypatch.setattr(cmd, "PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    seen: list[int] = []
    import vlmdata.validate as validate_pkg

    real = validate_pkg.validate_files

    def spy(paths, out, options):  # noqa: ANN001, ANN202
        assert options.progress is not None
        report = real(paths, out, options)
        seen.append(1)
        return report

    monkeypatch.setattr(validate_pkg, "validate_files", spy)
    path = dataset([rec(), rec(id="b")])
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0
    assert seen == [1] and "holds" in capsys.readouterr().out


def test_out_never_replaces_inputs_or_foreign_folders(dataset, rec, tmp_path: Path) -> None:
    path = dataset([rec()])
    assert main(["validate", str(path), "--out", str(path.parent)]) == 2  # would delete the input
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    assert main(["validate", str(path), "--out", str(foreign)]) == 2
    assert (foreign / "todo.txt").read_text() == "keep me" and path.exists()
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0  # a previous output is replaced


def test_summary_lists_the_first_rejects_with_file_line_code_and_message(
    dataset, rec, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bad = [b"{oops", rec(width=0), rec(objects=[{"desc": "x", "bbox_2d": [5, 5, 1, 1]}])]
    items = [rec(id=f"ok{i}") for i in range(3)] + bad * 5  # 15 rejects, 3 good lines first
    path = dataset(items)
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 1
    text = capsys.readouterr().out
    assert "first rejects (10 of 15" in text
    rows = [line for line in text.splitlines() if "data.jsonl:" in line]
    assert len(rows) == 10
    # oracle: the rejects file itself, in its order
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()][:10]
    for row, entry in zip(rows, rejects, strict=True):
        issue = entry["issues"][0]
        assert f"data.jsonl:{entry['line']}" in row and issue["code"] in row
        assert issue["message"][:30] in row
    assert [entry["line"] for entry in rejects[:3]] == [4, 5, 6]


def test_clean_run_lists_no_rejects(dataset, rec, tmp_path: Path, capsys) -> None:
    path = dataset([rec()])
    assert main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0
    assert "first rejects" not in capsys.readouterr().out
