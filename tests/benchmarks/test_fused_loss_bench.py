"""`benchmarks/fused_loss.py`: a tiny smoke run of the real script (not a timing): every figure line is printed
and the fused loss agrees with the logits path it is compared against."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.conftest import run_benchmark

pytestmark = pytest.mark.train


def test_fused_loss_benchmark_smoke(tmp_path: Path) -> None:
    lines = run_benchmark("fused_loss.py", ["--tokens", "8", "--hidden", "8", "--repeats", "1"], tmp_path)
    figures = {f["figure"]: f for f in lines}
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
