"""Exit codes mean one thing: 0 clean, 1 problems found, 2 usage, 70 internal error, 130 interrupted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vlmdata.cli import main
from vlmdata.errors import EXIT_INTERNAL, at


def test_unexpected_exception_is_an_internal_error_with_command_and_position(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import vlmdata.synth as synth

    def broken(*args, **kwargs):
        with at(file="scene.jsonl", line=12):
            raise TypeError("unsupported operand")

    monkeypatch.setattr(synth, "generate", broken)
    code = main(["synth", str(tmp_path / "s"), "--n", "3"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL == 70
    assert "VD009 internal error in `vlmdata synth" in err and "--n 3`" in err
    assert "at scene.jsonl:12" in err and "TypeError: unsupported operand" in err
    assert "this is a bug in vlmdata" in err and "VLMDATA_DEBUG=1" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch) -> None:
    import vlmdata.synth as synth

    monkeypatch.setattr(synth, "generate", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("VLMDATA_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["synth", str(tmp_path / "s")])


def test_interrupt_exits_130(tmp_path: Path, monkeypatch, capsys) -> None:
    import vlmdata.synth as synth

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synth, "generate", interrupted)
    assert main(["synth", str(tmp_path / "s")]) == 130


def test_usage_and_problems(tmp_path: Path, capsys) -> None:
    assert main(["synth", str(tmp_path / "s"), "--n", "nope"]) == 2
    assert main(["validate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "v")]) == 2
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "images": 3}\n')
    assert (
        main(["validate", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "v"), "--no-image-check"]) == 1
    )


@pytest.mark.parametrize(
    "args",
    [["tiny-model", "{tmp}/tiny"], ["train", "--config", "{tmp}/run.yaml"]],
    ids=["tiny-model", "train"],
)
def test_missing_optional_dependency_is_a_usage_error_with_the_install_hint(tmp_path: Path, args) -> None:
    from vlmdata.io.dataset import save_records

    save_records([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}], tmp_path / "ds")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "run.yaml").write_text(
        "plugin: sft\nmodel: {path: m}\ndata: {train: [ds]}\ntraining: {output_dir: run, max_steps: 1}\n"
    )
    argv = [a.format(tmp=tmp_path) for a in args]
    code = (
        "import sys\n"
        "for name in ('torch', 'swift'):\n"
        "    sys.modules[name] = None  # as if the `train` extra were not installed\n"
        "from vlmdata.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert ("VD006" in out.stderr or "VD730" in out.stderr) and "pip install 'vlmdata[train]'" in out.stderr
    assert "ModuleNotFoundError" not in out.stderr and "Traceback" not in out.stderr
