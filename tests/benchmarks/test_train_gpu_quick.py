"""`benchmarks/train_gpu.py`: the published Qwen3-VL-2B architecture, the figure arithmetic, and a CPU smoke
run of the `--quick` path (tiny model, small images, two steps per run) that checks what the GPU run relies on:
every run finishes, the plain ms-swift peer reads exactly the batches `vlmdata train` reads, length grouping
never adds padding, and every figure line is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


@pytest.mark.train
def test_model_config_is_the_published_qwen3_vl_2b() -> None:
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from benchmarks.train_gpu.model import qwen3_vl_2b_config

    cfg = qwen3_vl_2b_config()
    t, v = cfg.text_config, cfg.vision_config
    assert (
        t.hidden_size,
        t.num_hidden_layers,
        t.num_attention_heads,
        t.num_key_value_heads,
        t.head_dim,
        t.intermediate_size,
        t.vocab_size,
    ) == (2048, 28, 16, 8, 128, 6144, 151936)
    assert t.rope_parameters["mrope_section"] == [24, 20, 20] and t.rope_parameters["mrope_interleaved"]
    assert t.rope_parameters["rope_theta"] == 5000000.0 and cfg.tie_word_embeddings
    assert (
        v.depth,
        v.hidden_size,
        v.intermediate_size,
        v.num_heads,
        v.patch_size,
        v.spatial_merge_size,
        v.temporal_patch_size,
        v.out_hidden_size,
        v.num_position_embeddings,
    ) == (24, 1024, 4096, 16, 16, 2, 2, 2048, 2304)
    assert list(v.deepstack_visual_indexes) == [5, 11, 17]
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(cfg)
    params = sum(p.numel() for p in model.parameters())
    assert 2.0e9 < params < 2.3e9, params  # about 2.1B with the tied embedding counted once


def test_summaries_drop_warmup_and_pool_repeats() -> None:
    from benchmarks.train_gpu.runs import pooled, ratio, summarise

    run = {
        "step_seconds": [9.0, 2.0, 2.0, 4.0],
        "real_tokens": [100, 80, 60, 120],
        "padded_tokens": [100, 100, 100, 160],
    }
    s = summarise(run, warmup=1)
    assert s["steps_measured"] == 3 and s["step_seconds_median"] == 2.0
    assert s["real_tokens_per_second"] == pytest.approx(260 / 8.0)
    assert s["padding_tokens_all_steps"] == 100 and s["padding_share_all_steps"] == pytest.approx(100 / 460)
    both = pooled([run, dict(run, step_seconds=[9.0, 4.0, 4.0, 8.0])], warmup=1)
    assert both["steps_measured"] == 6 and both["runs"] == 2
    assert both["real_tokens_per_second"] == pytest.approx(520 / 24.0)
    assert both["padding_tokens_all_steps"] == 100
    assert ratio(3.0, 2.0) == 1.5 and ratio(None, 2.0) is None and ratio(1.0, 0.0) is None


@pytest.mark.slow
@pytest.mark.train
def test_quick_run_on_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "student").symlink_to(tiny_model_dir, target_is_directory=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_gpu.py"),
        "--quick",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--skip-gkd",
        "--runs",
        "sft_random,swift,sft_grouped",
        "--out",
        str(tmp_path / "out"),
        "--work",
        str(work),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    saved = json.loads((tmp_path / "out" / "train_gpu.json").read_text(encoding="utf-8"))["figures"]
    assert lines == saved
    by = {}
    for row in lines:
        by.setdefault(row["figure"], []).append(row)
    assert "run_failed" not in by
    runs = {r["run"]: r for r in by["run"]}
    assert set(runs) == {"sft_random_1", "swift_1", "sft_grouped_1"}
    for r in runs.values():
        assert r["steps_measured"] == 1 and r["step_seconds_median"] > 0 and r["real_tokens_per_second"] > 0
        assert r["device"] == "cpu" and r["peak_rss_gib"] > 0
    # the peer reads the same records in the same batches: identical token and padding counts
    assert runs["sft_random_1"]["real_tokens_all_steps"] == runs["swift_1"]["real_tokens_all_steps"]
    assert runs["sft_random_1"]["padding_tokens_all_steps"] == runs["swift_1"]["padding_tokens_all_steps"]
    (cmp_row,) = by["sft_vs_swift"]
    assert cmp_row["same_batches"] is True and cmp_row["step_time_ratio"] > 0
    (grouped,) = by["grouped_vs_random"]
    assert grouped["padding_tokens_grouped"] <= grouped["padding_tokens_random"]
    assert runs["sft_grouped_1"]["real_tokens_all_steps"] == runs["sft_random_1"]["real_tokens_all_steps"]
    assert {r["run"] for r in by["peak_memory_gib"]} == {"sft_random", "swift", "sft_grouped"}
    assert by["gkd_over_sft"] == [{"bench": "train_gpu", "figure": "gkd_over_sft", "skipped": True}]
    lengths = by["prepare_data_seconds"][0]["lengths"]
    assert lengths["count"] == 4 and lengths["max"] < 8192
