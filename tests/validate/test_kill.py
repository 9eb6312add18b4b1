"""A `vlmdata validate` killed with SIGKILL mid-run leaves the previous output intact, never a half-written one;
reruns in other processes (other PYTHONHASHSEED) write byte-identical outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vlmdata.io.output import MARKER


def _records(n: int) -> bytes:
    line = {
        "images": ["a.jpg"],
        "width": 100,
        "height": 80,
        "objects": [
            {"desc": f"类别=BBU设备,编号={i}", "bbox_2d": [1, 1, 50 + i % 40, 60]} for i in range(30)
        ],
    }
    out = []
    for i in range(n):
        line["id"] = f"r{i}"
        text = json.dumps(line, ensure_ascii=False)
        out.append(text if i % 2 else text[:-1] + ', "typo_key": 1}')  # half go through the explaining path
    return ("\n".join(out) + "\n").encode()


def test_sigkill_leaves_previous_output_or_none(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(_records(8_000))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "vlmdata",
        "validate",
        str(data),
        "--out",
        str(out),
        "--no-image-check",
        "--format",
        "json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    # first, a complete previous output to protect
    small = tmp_path / "small.jsonl"
    small.write_bytes(_records(3))
    first = subprocess.run(
        [*cmd[:4], str(small), *cmd[5:]], env={**env, "PYTHONHASHSEED": "1"}, capture_output=True
    )
    assert first.returncode == 1
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert json.loads((out / "report.json").read_text())["lines_read"] == 3

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob(".tmp-out.*")):
        time.sleep(0.01)
    assert list(tmp_path.glob(".tmp-out.*")), "the run never started writing"
    time.sleep(0.3)
    assert proc.poll() is None, "the run finished before it could be killed; make the input larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the previous output, byte for byte

    # the next run (another hash seed) cleans the stale temporary folder and writes the same output again
    again = subprocess.run(
        [*cmd[:4], str(small), *cmd[5:]], env={**env, "PYTHONHASHSEED": "987"}, capture_output=True
    )
    assert again.returncode == 1
    assert not list(tmp_path.glob(".tmp-out.*"))
    rerun = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    reports = [json.loads(tree.pop(Path("report.json"))) for tree in (before, rerun)]
    markers = [json.loads(tree.pop(Path(MARKER))) for tree in (before, rerun)]
    assert [m["command"] for m in markers] == ["validate", "validate"]  # only its time differs
    for r in reports:
        r.pop("seconds")
    assert (
        rerun == before and reports[0] == reports[1]
    )  # byte-identical outputs across processes and hash seeds
    assert reports[1]["invariant_holds"] and reports[1]["rejected"] == 2
