"""The `--out` rule (`vlmdata.io.output`): refusals, markers, sidecars, locks, stale temporaries, umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.io.atomic import clean_stale_temps, lock_path, temp_name
from vlmdata.io.output import (
    MARKER,
    check_out,
    output_dir,
    output_file,
    sidecar_of,
    workspace,
    write_output,
    written_by,
)


def _code(excinfo: pytest.ExceptionInfo[VlmdataError]) -> str:
    assert excinfo.value.exit_code == 2, "every --out refusal is a usage error"
    return excinfo.value.code_str


def _fill(folder: Path, name: str = "a.txt", text: str = "one") -> None:
    (folder / name).write_text(text)


# -- inputs -------------------------------------------------------------------------------------------------
def test_out_may_not_be_hold_or_lie_inside_an_input(tmp_path: Path) -> None:
    data = tmp_path / "in" / "data.jsonl"
    data.parent.mkdir()
    data.write_text("{}\n")
    dataset = tmp_path / "ds"
    dataset.mkdir()
    cases = [
        (data, "file"),  # is the input file
        (tmp_path / "in", "folder"),  # holds it
        (tmp_path, "folder"),  # holds it, further up
        (dataset, "folder"),  # is the dataset folder
        (dataset / "aug", "folder"),  # lies inside it
        (dataset / "x.jsonl", "file"),  # a file inside it
        (tmp_path / "in" / "." / ".." / "in", "folder"),  # the same folder spelt differently
    ]
    for out, kind in cases:
        with pytest.raises(VlmdataError) as err:
            check_out(out, command="t", kind=kind, inputs=[data, dataset])  # type: ignore[arg-type]
        assert _code(err) == "VD001", out
    check_out(tmp_path / "new", command="t", inputs=[data, dataset])


def test_roots_may_hold_the_output_but_not_be_or_hold_it(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    check_out(root / "validated", command="validate", roots=[root])  # the documented usage
    for out in (root, tmp_path):
        with pytest.raises(VlmdataError) as err:
            check_out(out, command="validate", roots=[root])
        assert _code(err) == "VD001"
    with pytest.raises(VlmdataError) as err:  # an explicit image root is an input: no nesting either
        check_out(root / "validated", command="validate", inputs=[root])
    assert _code(err) == "VD001"


def test_symlinked_parent_and_hard_link_are_seen_through(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (tmp_path / "alias").symlink_to(dataset)
    with pytest.raises(VlmdataError) as err:
        check_out(tmp_path / "alias" / "out", command="t", inputs=[dataset])
    assert _code(err) == "VD001"
    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    os.link(data, tmp_path / "copy.jsonl")
    with pytest.raises(VlmdataError) as err:
        check_out(tmp_path / "copy.jsonl", command="t", kind="file", inputs=[data])
    assert _code(err) == "VD001"


# -- kinds --------------------------------------------------------------------------------------------------
def test_non_regular_targets_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    (tmp_path / "flink").symlink_to(tmp_path / "file")
    cases = [
        (fifo, "file"),
        (fifo, "folder"),
        (tmp_path / "dir", "file"),
        (tmp_path / "file", "folder"),
        (tmp_path / "link", "folder"),
        (tmp_path / "flink", "file"),
        (tmp_path / "file" / "below", "folder"),  # a parent is a file
        (Path("/dev/null"), "file"),  # a character device: refused before anything is opened
    ]
    for out, kind in cases:
        with pytest.raises(VlmdataError) as err:
            check_out(out, command="t", kind=kind)  # type: ignore[arg-type]
        assert _code(err) == "VD002", (out, kind)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and (tmp_path / "link").is_symlink()


def test_fifo_out_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    with pytest.raises(
        VlmdataError
    ) as err:  # opening a FIFO for writing would block: the refusal comes first
        write_output(fifo, b"{}", command="audit")
    assert _code(err) == "VD002" and stat.S_ISFIFO(os.lstat(fifo).st_mode)


# -- folders --------------------------------------------------------------------------------------------------
def test_foreign_folders_are_refused_and_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    only_report = tmp_path / "only_report"
    only_report.mkdir()
    (only_report / "report.json").write_text("{}")
    for out in (home, only_report):
        with pytest.raises(VlmdataError) as err, output_dir(out, command="validate") as tmp:
            _fill(tmp)
        assert _code(err) == "VD003"
    assert (home / ".ssh" / "id_ed25519").read_text() == "secret"
    assert sorted(os.listdir(only_report)) == ["report.json"]
    assert sorted(os.listdir(tmp_path)) == ["home", "only_report"]  # no temporaries, no lock files left


def test_marked_folder_is_replaced_but_not_with_user_files_in_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_dir(out, command="augment") as tmp:
        _fill(tmp, "a.txt")
        (tmp / "data").mkdir()
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "augment" and marker["entries"] == ["a.txt", "data"]
    assert marker["kind"] == "folder" and marker["time"].endswith("Z") and marker["version"]
    with output_dir(out, command="augment") as tmp:
        _fill(tmp, "b.txt")
    assert sorted(os.listdir(out)) == [MARKER, "b.txt"]
    _fill(out, "notes.md", "mine")
    with pytest.raises(VlmdataError) as err, output_dir(out, command="augment") as tmp:
        _fill(tmp, "c.txt")
    assert _code(err) == "VD003" and "notes.md" in str(err.value)
    assert (out / "notes.md").read_text() == "mine" and (out / "b.txt").exists()


def test_an_output_is_replaced_only_by_the_command_that_wrote_it(tmp_path: Path) -> None:
    with output_dir(tmp_path / "s", command="synth") as tmp:
        (tmp / "images").mkdir()
    with pytest.raises(VlmdataError) as err, output_dir(tmp_path / "s", command="tiny-model"):
        pass
    assert _code(err) == "VD003" and "vlmdata synth" in str(err.value)
    write_output(tmp_path / "r.json", b"{}", command="audit")
    with pytest.raises(VlmdataError) as err:
        write_output(tmp_path / "r.json", b"[]", command="eval")
    assert _code(err) == "VD004" and (tmp_path / "r.json").read_bytes() == b"{}"


def test_empty_folder_counts_as_new_and_failure_keeps_previous(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with output_dir(out, command="synth") as tmp:
        _fill(tmp)
    with pytest.raises(RuntimeError), output_dir(out, command="synth") as tmp:
        _fill(tmp, "partial.txt")
        raise RuntimeError("killed")
    assert sorted(os.listdir(out)) == [MARKER, "a.txt"]
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_workspace_is_reused_only_by_its_command(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with workspace(run, command="train") as folder:
        _fill(folder, "checkpoint")
    with workspace(run, command="train") as folder:
        assert (folder / "checkpoint").exists()
    with pytest.raises(VlmdataError) as err, workspace(run, command="demo"):
        pass
    assert _code(err) == "VD003"
    with pytest.raises(VlmdataError) as err, output_dir(run, command="train"):
        pass  # a workspace is never swapped away, whatever writes there
    assert _code(err) == "VD003"
    with output_dir(tmp_path / "v", command="validate") as tmp:
        _fill(tmp)
    with pytest.raises(VlmdataError) as err, workspace(tmp_path / "v", command="train"):
        pass
    assert _code(err) == "VD003"
    assert written_by(run)["kind"] == "workspace"  # type: ignore[index]


# -- files ----------------------------------------------------------------------------------------------------
def test_single_file_outputs(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    write_output(out, b'{"a": 1}\n', command="audit")
    side = json.loads(sidecar_of(out).read_text())
    assert side["command"] == "audit" and side["size"] == 9 and side["file"] == "report.json"
    write_output(out, b'{"a": 2}\n', command="audit")  # its own earlier output: replaced
    assert out.read_bytes() == b'{"a": 2}\n'
    os.utime(out, ns=(1, 1))  # touched (or copied with a new mtime), same content: still vlmdata's
    write_output(out, b'{"a": 3}\n', command="audit")
    out.write_text('{"a": "edited by hand"}\n')
    with pytest.raises(VlmdataError) as err:
        write_output(out, b"{}", command="audit")
    assert _code(err) == "VD004" and "changed" in str(err.value)
    assert out.read_text() == '{"a": "edited by hand"}\n'
    mine = tmp_path / "mine.jsonl"
    mine.write_text("keep\n")
    with pytest.raises(VlmdataError) as err:
        write_output(mine, b"{}", command="export")
    assert _code(err) == "VD004" and mine.read_text() == "keep\n"


def test_output_file_failure_keeps_previous(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    write_output(out, "one\n", command="export")
    with pytest.raises(RuntimeError), output_file(out, command="export") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert out.read_text() == "one\n"
    assert sorted(os.listdir(tmp_path)) == [sidecar_of(out).name, "x.jsonl"]


# -- umask ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077])
def test_outputs_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        with output_dir(tmp_path / "d", command="t") as tmp:
            (tmp / "sub").mkdir()
            _fill(tmp)
        write_output(tmp_path / "f.json", b"{}", command="t")
    finally:
        os.umask(old)

    def mode(p: Path) -> int:
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(tmp_path / "d") == 0o777 & ~mask
    assert mode(tmp_path / "d" / "sub") == 0o777 & ~mask
    assert mode(tmp_path / "d" / MARKER) == 0o666 & ~mask
    assert mode(tmp_path / "f.json") == 0o666 & ~mask


# -- stale temporaries ------------------------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp_like(target: Path, pid: int) -> Path:
    live = temp_name(target)  # this host and process; swap in the pid wanted
    host = live.name[len(f".tmp-{target.name}.") :].split("-")[0]
    path = target.parent / f".tmp-{target.name}.{host}-{pid}.0123abcd"
    path.mkdir()
    (path / "partial").write_text("x")
    return path


def test_stale_cleanup_removes_only_dead_owners_of_exactly_this_target(tmp_path: Path) -> None:
    target = tmp_path / "ou[t]*"  # glob characters in the name are plain characters
    dead = _temp_like(target, _dead_pid())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = _temp_like(target, sleeper.pid)
        other_target = _temp_like(tmp_path / "ou[t]*.v2", _dead_pid())  # a longer name's temporary
        unknown = tmp_path / f".tmp-{target.name}.legacy12"  # an old-style temporary: owner unknown
        unknown.mkdir()
        bystander = tmp_path / "outside"
        bystander.mkdir()
        removed = clean_stale_temps(target)
        assert removed == [dead]
        assert live.exists() and other_target.exists() and unknown.exists() and bystander.exists()
        with output_dir(target, command="t") as tmp:  # a write of the target does the same
            _fill(tmp)
        assert live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    clean_stale_temps(target)
    assert not live.exists()


# -- concurrency --------------------------------------------------------------------------------------------------
_HOLDER = """
import sys, time
from pathlib import Path
from vlmdata.io.output import output_dir
out, flag, tag = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with output_dir(out, command="t") as tmp:
    (tmp / "who").write_text(tag)
    flag.write_text(str(tmp))
    time.sleep(float(sys.argv[4]))
"""


def test_two_runs_on_one_out_are_serialised(tmp_path: Path) -> None:
    out = tmp_path / "out"
    flag_a, flag_b = tmp_path / "a.flag", tmp_path / "b.flag"
    a = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(flag_a), "A", "2"])
    deadline = time.monotonic() + 60
    while not flag_a.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flag_a.exists()
    a_tmp = Path(flag_a.read_text())
    b = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out), str(flag_b), "B", "0"], stderr=subprocess.PIPE, text=True
    )
    time.sleep(0.8)
    assert not flag_b.exists(), "the second run must wait for the first"
    assert a_tmp.exists(), "the second run must not touch the first run's live temporary"
    assert a.wait(60) == 0
    _, err = b.communicate(timeout=60)
    assert b.returncode == 0 and "waiting for" in err and "pid" in err
    assert (out / "who").read_text() == "B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flag", "b.flag", "out"]


def test_no_wait_refuses_a_busy_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    flag = tmp_path / "flag"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(flag), "A", "5"])
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(VlmdataError) as err, workspace(out, command="t", wait=False):
            pass
        assert _code(err) == "VD005" and f"pid {holder.pid}" in str(err.value)
        assert lock_path(out).exists()
    finally:
        holder.kill()
        holder.wait()
