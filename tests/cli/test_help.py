"""One CLI skin: every command's help is readable and kept in golden files; `--format` is the same everywhere.

Regenerate after an intended change with `VLMDATA_UPDATE_GOLDEN=1 pytest tests/cli`, then review the diff of
tests/cli/golden/ like any other code change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from vlmdata.cli import app, main

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VLMDATA_UPDATE_GOLDEN") == "1"


def _commands() -> list[list[str]]:
    found = [[info.name] for info in app.registered_commands if info.name]
    for group in app.registered_groups:
        found += [[group.name, info.name] for info in group.typer_instance.registered_commands if info.name]
    return sorted(found)


COMMANDS = _commands()


def _help(argv: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", COMMANDS, ids=["-".join(c) for c in COMMANDS])
def test_help_is_readable_and_golden(argv: list[str], capsys, monkeypatch) -> None:
    text = _help(argv, capsys, monkeypatch)
    assert not re.search(r"<[a-z][^>]*>", text), f"a Python type name in the help:\n{text}"
    usage = next(line for line in text.splitlines() if line.strip().startswith("Usage:"))
    assert not re.search(r"\{[a-z_]+\}", usage), f"a raw parameter name in the usage line:\n{text}"
    assert "list[" not in text and "<str>" not in text
    if "--format" in text and argv != ["export"]:  # export's --format is the file format it writes
        assert re.search(r"--format \[table\|json\]", text), text
    path = GOLDEN / ("-".join(argv) + ".txt")
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; create it with VLMDATA_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the command's help"


def test_every_table_command_offers_json() -> None:
    table_commands = {
        "validate",
        "import",
        "augment",
        "fuse",
        "audit",
        "eval",
        "plugins",
        "demo",
        "prompts-list",
    }
    text_commands = {"render", "synth", "summarize", "prompts-show", "report", "infer", "config-show"}
    names = {"-".join(c) for c in COMMANDS}
    assert table_commands | text_commands <= names
    for name in table_commands | text_commands:
        assert "--format [table|json]" in (GOLDEN / f"{name}.txt").read_text(encoding="utf-8"), name


def test_export_format_names_the_file_format_and_json_prints_the_result() -> None:
    text = (GOLDEN / "export.txt").read_text(encoding="utf-8")
    assert "--format [swift|coco|llamafactory]" in text and "--json" in text


def test_no_golden_file_is_stale() -> None:
    names = {"-".join(c) + ".txt" for c in COMMANDS}
    assert {p.name for p in GOLDEN.glob("*.txt")} == names


def test_bad_format_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["prompts", "list", "--format", "yaml"]) == 2
    assert "'--format'" in capsys.readouterr().err


def test_commands_still_run_on_a_typer_without_the_internals_the_skin_reads(capsys, monkeypatch) -> None:
    """A typer whose options lack what the skin reads (older releases: `'TyperOption' object has no attribute
    'display_type'`, which made every command exit with VD009): the skin leaves typer's own metavars and every
    command builds and runs."""
    from vlmdata.cli import _skin

    def older_typer(param, ctx):
        raise AttributeError("'TyperOption' object has no attribute 'display_type'")

    monkeypatch.setattr(_skin, "_tidy", older_typer)
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["plugins"]) == 0
    assert "sft" in capsys.readouterr().out
    assert main(["validate", "--help"]) == 0
    assert "--out" in capsys.readouterr().out
