"""Package-level guarantees: light import, CLI entry, error-code docs kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_pull_torch() -> None:
    code = (
        "import sys, vlmdata, vlmdata.cli, vlmdata.errors, vlmdata.io.features, vlmdata.io.atomic;"
        "bad=[m for m in ('torch','swift','transformers') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing vlmdata pulled in: {out.stdout.strip()}"


def test_cli_version() -> None:
    from vlmdata import __version__
    from vlmdata.cli import main

    assert main(["--version"]) == 0
    out = subprocess.run(
        [sys.executable, "-m", "vlmdata", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"vlmdata {__version__}"


def test_errors_doc_is_current() -> None:
    from vlmdata.errors import render_errors_markdown

    doc = ROOT / "docs" / "errors.md"
    assert doc.read_text(encoding="utf-8") == render_errors_markdown(), (
        "docs/errors.md is stale: run `python -m vlmdata.errors > docs/errors.md`"
    )


def test_error_codes_are_well_formed() -> None:
    from vlmdata.errors import load_all_codes

    codes = load_all_codes()
    for code, entry in codes.items():
        assert entry.title and entry.fix, f"{code} lacks a meaning or a fix"
        assert entry.severity in ("error", "warning")


def test_cli_exit_codes(tmp_path: Path) -> None:
    from vlmdata.cli import main

    assert main(["synth", str(tmp_path / "s"), "--n", "nope"]) == 2  # bad flag value: usage error
    assert main(["no-such-command"]) == 2
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "images": 3}\n', encoding="utf-8")
    assert (
        main(["validate", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "v"), "--no-image-check"]) == 1
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "vlmdata",
            "validate",
            str(tmp_path / "bad.jsonl"),
            "--out",
            str(tmp_path / "v2"),
            "--no-image-check",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1


def test_every_code_used_in_the_source_is_defined() -> None:
    import re

    from vlmdata.errors import load_all_codes

    defined = set(load_all_codes())
    used: dict[str, str] = {}
    for folder in ("vlmdata", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            text = re.sub(r"\bretire\(\s*['\"]VD\d{3}['\"]", "", path.read_text(encoding="utf-8"))
            for code in re.findall(r"['\"](VD\d{3})['\"]", text):
                used.setdefault(code, str(path.relative_to(ROOT)))
    missing = {code: where for code, where in used.items() if code not in defined}
    assert not missing, f"codes used but never defined: {missing}"


def test_error_messages_print_brackets_verbatim(capsys) -> None:
    from vlmdata.cli import main

    code = main(["train", "--config", "/nonexistent/[train]/run.yaml", "--dry-run"])
    err = capsys.readouterr().err
    assert code in (1, 2) and "[train]" in err


def test_ruff_clean() -> None:
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run(
        [ruff, "check", "vlmdata", "plugins", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_format_clean() -> None:
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run(
        [ruff, "format", "--check", "vlmdata", "plugins", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:]
