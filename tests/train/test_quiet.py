"""The quiet console: library output goes to the log file, vlmdata's own lines to the user's stream."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import pytest

from vlmdata.train.quiet import VERBOSE_ENV, progress_enabled, quiet_backend, user_stream


def _chatter() -> None:
    logging.getLogger("swift").warning("args: SftArguments(acc_strategy=token, ...)")
    logging.getLogger("transformers.modeling_utils").info("loading weights")
    warnings.warn("`torch_dtype` is deprecated! Use `dtype` instead!", FutureWarning, stacklevel=1)
    print("Writing model shards: 100%|██████████| 1/1")
    print("tqdm bar", file=sys.stderr)


def test_library_output_goes_to_the_log(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    swift = logging.getLogger("swift")
    stream = logging.StreamHandler(sys.stderr)  # what ms-swift installs: a handler on its own logger
    swift.addHandler(stream)
    logging.getLogger("transformers").setLevel(logging.INFO)
    try:
        with quiet_backend(tmp_path / "run" / "backend.log") as log:
            assert swift.handlers != [stream]
            _chatter()
            print("our line", file=user_stream())
        assert swift.handlers[-1] is stream  # the library's own handler is back
    finally:
        swift.removeHandler(stream)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "our line\n"
    text = (tmp_path / "run" / "backend.log").read_text(encoding="utf-8")
    for piece in ("SftArguments", "loading weights", "torch_dtype", "Writing model shards", "tqdm bar"):
        assert piece in text
    assert log == tmp_path / "run" / "backend.log"
    with pytest.warns(UserWarning):
        warnings.warn("visible again", UserWarning, stacklevel=1)


def test_verbose_leaves_the_console_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with quiet_backend(tmp_path / "backend.log") as log:
        print("Writing model shards")
    assert log is None and not (tmp_path / "backend.log").exists()
    assert "Writing model shards" in capfd.readouterr().out


def test_nested_blocks_restore_each_other(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    before = list(logging.getLogger("swift").handlers)
    with quiet_backend(tmp_path / "outer.log", progress=False):
        assert not progress_enabled()
        with quiet_backend(tmp_path / "inner.log"):
            print("inner chatter")
            print("stage line", file=user_stream())
            assert not progress_enabled()
        print("outer chatter")
    assert progress_enabled()
    assert logging.getLogger("swift").handlers == before
    assert "inner chatter" in (tmp_path / "inner.log").read_text(encoding="utf-8")
    assert "outer chatter" in (tmp_path / "outer.log").read_text(encoding="utf-8")
    assert capfd.readouterr().err == "stage line\n"


def test_an_error_inside_is_not_swallowed(tmp_path: Path) -> None:
    out, err = sys.stdout, sys.stderr
    with pytest.raises(RuntimeError, match="boom"), quiet_backend(tmp_path / "b.log"):
        raise RuntimeError("boom")
    assert (sys.stdout, sys.stderr) == (out, err)


def test_verbose_flag_lasts_one_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from vlmdata.cli import main
    from vlmdata.errors import VlmdataError

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    seen: list[str | None] = []

    def plan_run(*args: object, **kwargs: object) -> None:
        seen.append(os.environ.get(VERBOSE_ENV))  # what the run (and torchrun workers) would inherit
        raise VlmdataError("VD707", "stop before planning")

    monkeypatch.setattr("vlmdata.train.launch.plan_run", plan_run)
    (tmp_path / "run.yaml").write_text("plugin: sft\n", encoding="utf-8")
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--dry-run", "--verbose"]) == 1
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--dry-run"]) == 1
    assert seen == ["1", None] and VERBOSE_ENV not in os.environ
