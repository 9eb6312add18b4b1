"""`benchmarks/fused_loss.py`: a tiny smoke run of the real script (not a timing): every figure line is printed
and the fused loss agrees with the logits path it is compared against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.train


def test_fused_loss_benchmark_smoke(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "fused_loss.py"),
            "--tokens",
            "8",
            "--hidden",
            "8",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = {f["figure"]: f for f in (json.loads(line) for line in proc.stdout.splitlines())}
    assert set(figures) == {
        "shape",
        "fused_seconds_median",
        "logits_path_seconds_median",
        "fused_over_logits_path",
        "agreement",
    }
    assert figures["shape"]["vocab"] == 151936 and figures["fused_seconds_median"]["runs"] == 2
    assert figures["agreement"]["loss_rel_diff"] < 1e-5
    assert figures["agreement"]["grad_max_abs_diff"] < 1e-5
