"""A `vlmdata validate` killed with SIGKILL mid-run leaves the previous output intact, never a half-written one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _records(n: int) -> bytes:
    line = {"images": ["a.jpg"], "width": 100, "height": 80,
            "objects": [{"desc": f"类别=BBU设备,编号={i}", "bbox_2d": [1, 1, 50 + i % 40, 60]} for i in range(30)]}
    out = []
    for i in range(n):
        line["id"] = f"r{i}"
        out.append(json.dumps(line, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode()


def test_sigkill_leaves_previous_output_or_none(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(_records(12_000))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vlmdata", "validate", str(data), "--out", str(out), "--no-image-check", "--format", "json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    # first, a complete previous output to protect
    small = tmp_path / "small.jsonl"
    small.write_bytes(_records(3))
    subprocess.run([*cmd[:4], str(small), *cmd[5:]], check=True, env=env, capture_output=True)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert json.loads((out / "report.json").read_text())["valid"] == 3

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

    # the next run cleans the stale temporary folder and completes
    subprocess.run([*cmd[:4], str(small), *cmd[5:]], check=True, env=env, capture_output=True)
    assert not list(tmp_path.glob(".tmp-out.*"))
    assert json.loads((out / "report.json").read_text())["invariant_holds"]
