"""`benchmarks/train_gpu.py`: the published Qwen3-VL-2B architecture, the FLOP arithmetic against the model's own
modules, the figure arithmetic, and CPU smoke runs of the `--quick` paths (tiny model, small images, two steps
per run) that check what the GPU runs rely on: every run finishes, the plain ms-swift peers read exactly the
batches / prompts `vlmdata train` reads, the fused runs' losses equal the peer's, length grouping never adds
padding, the GRPO step split adds up, and every figure line is there."""

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
        "--runs",
        "sft_random,swift,sft_grouped,sft_liger,sft_fit",
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
    assert set(runs) == {"sft_random_1", "swift_1", "sft_grouped_1", "sft_liger_1", "sft_fit_1"}
    for r in runs.values():
        assert r["steps_measured"] == 1 and r["step_seconds_median"] > 0 and r["real_tokens_per_second"] > 0
        assert r["device"] == "cpu" and r["peak_rss_gib"] > 0
        assert r["model_flops_per_step"] > 0 and r["mfu"] is None  # no peak rate for a CPU
        assert len(r["losses"]) == 2
    # the peer reads the same records in the same batches: identical token and padding counts
    assert runs["sft_random_1"]["real_tokens_all_steps"] == runs["swift_1"]["real_tokens_all_steps"]
    assert runs["sft_random_1"]["padding_tokens_all_steps"] == runs["swift_1"]["padding_tokens_all_steps"]
    (cmp_row,) = by["sft_vs_swift"]
    assert cmp_row["same_batches"] is True and cmp_row["step_time_ratio"] > 0
    (grouped,) = by["grouped_vs_random"]
    assert grouped["padding_tokens_grouped"] <= grouped["padding_tokens_random"]
    assert runs["sft_grouped_1"]["real_tokens_all_steps"] == runs["sft_random_1"]["real_tokens_all_steps"]
    assert {r["run"] for r in by["peak_memory_gib"]} == {
        "sft_random",
        "swift",
        "sft_grouped",
        "sft_liger",
        "sft_fit",
    }
    # the fused path (on a CPU vlmdata's chunked projection) on the peer's batches: the same losses
    (equal,) = by["loss_equality"]
    assert equal["fused"] == "sft_liger" and equal["steps_compared"] == 2 and equal["max_rel_diff"] < 1e-5
    # the fused run reads the peer's batches: the same model FLOPs (counted from the inputs, logits or not);
    # batch 1 x accumulation 2 covers the same records over the epoch
    assert runs["sft_liger_1"]["model_flops_per_step"] == pytest.approx(
        runs["swift_1"]["model_flops_per_step"]
    )
    assert runs["sft_fit_1"]["real_tokens_all_steps"] == runs["swift_1"]["real_tokens_all_steps"]
    speed = {r["run"] for r in by["speedup_over_swift_defaults"]}
    assert speed == {"sft_liger", "sft_fit", "sft_grouped"}
    assert "gkd_over_sft" not in by
    lengths = by["prepare_data_seconds"][0]["lengths"]
    assert lengths["count"] == 4 and lengths["max"] < 8192


@pytest.mark.slow
@pytest.mark.train
def test_quick_grpo_run_on_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "student").symlink_to(tiny_model_dir, target_is_directory=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_gpu.py"),
        "--quick",
        "--grpo",
        "--grpo-runs",
        "swift_grpo,grpo",
        "--out",
        str(tmp_path / "out"),
        "--work",
        str(work),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    by: dict[str, list[dict]] = {}
    for row in (json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")):
        by.setdefault(row["figure"], []).append(row)
    assert "run_failed" not in by
    runs = {r["run"]: r for r in by["grpo_run"]}
    assert set(runs) == {"swift_grpo_1", "grpo_1"}
    rewards = {
        f"rewards/{n}/mean"
        for n in (
            "summary_format",
            "summary_header",
            "summary_parse",
            "summary_dataset",
            "summary_objects_total",
            "summary_content_f1",
        )
    }
    for r in runs.values():
        b = r["breakdown"]
        assert len(r["step_seconds"]) == 4 and b["steps_measured"] == 2
        split = b["split_seconds"]
        assert split["generation"] > 0 and split["ref_old_forward"] > 0 and split["training"] > 0
        assert sum(split.values()) == pytest.approx(b["seconds"])
        # one generation round in the measured window: 4 completions of exactly 8 tokens (no end token)
        assert b["generated_tokens"] == 4 * 8 and b["generated_tokens_per_second"] > 0
        assert set(b["rewards_logged_every_step"]) == rewards
    # the peer reads the same prompts: the same tokens in its training forwards
    assert runs["grpo_1"]["real_tokens_all_steps"] == runs["swift_grpo_1"]["real_tokens_all_steps"]
    (cmp_row,) = by["grpo_vs_swift"]
    assert cmp_row["mean_step_time_ratio"] > 0
    probe = by["generation_probe"]
    assert {(p["batch"], p["kv_cache"]) for p in probe} == {(4, True), (2, True), (2, False)}


def test_flop_counts_match_the_model_modules() -> None:
    """N of the MFU formula equals the weights of the model's own matmul modules (Linear and the patch Conv3d)."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from benchmarks.train_gpu.flops import TextDims, VisionDims
    from benchmarks.train_gpu.model import qwen3_vl_2b_config

    cfg = qwen3_vl_2b_config()
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(cfg)
    text = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and (n.startswith("model.language_model") or n == "lm_head")
    )
    assert TextDims.of(cfg.text_config).matmul_params == text
    vision = VisionDims.of(cfg.vision_config)
    blocks = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv3d))
        and n.startswith("model.visual")
        and "merger" not in n
    )
    mergers = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and n.startswith("model.visual") and "merger" in n
    )
    assert vision.block_params == blocks and vision.merger_params == mergers


def test_flop_formula_by_hand() -> None:
    """A hand-computed table: one 1,000-token training sequence and one decoding step of the 2B text model, and
    one 32x32-patch image through the vision tower."""
    from benchmarks.train_gpu.flops import TextDims, VisionDims, peak_flops

    text = TextDims(
        layers=28, hidden=2048, heads=16, kv_heads=8, head_dim=128, intermediate=6144, vocab=151936
    )
    per_layer = 2048 * 2048 + 2 * 2048 * 1024 + 2048 * 2048 + 3 * 2048 * 6144  # q, k+v, o, gate/up/down
    n = 28 * per_layer + 151936 * 2048
    assert n == 1_720_451_072
    assert text.forward(1000, 1000) == 2 * n * 1000 + 4 * 28 * 2048 * 1000 * 1000
    assert 3 * text.forward(1000, 1000) == 6 * n * 1000 + 12 * 28 * 2048 * 1000**2  # 6N + attention, trained
    assert text.forward(1, 2200) == 2 * n + 4 * 28 * 2048 * 2200  # one decoded token against 2,200 cached
    vision = VisionDims(
        depth=24, hidden=1024, intermediate=4096, patch_inputs=1536, merge=2, out=2048, mergers=4
    )
    blocks = 1536 * 1024 + 24 * (4 * 1024 * 1024 + 2 * 1024 * 4096)
    mergers = 4 * (4096 * 4096 + 4096 * 2048)
    p = 32 * 32
    assert vision.forward(p) == 2 * blocks * p + 2 * mergers * p / 4 + 4 * 24 * 1024 * p * p
    assert peak_flops("NVIDIA H200") == 989.4e12 and peak_flops("cpu") is None


def test_flop_meter_counts_trained_and_forward_passes(tiny_model_dir: Path) -> None:
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from benchmarks.train_gpu.flops import FlopMeter, TextDims

    model = Qwen3VLForConditionalGeneration.from_pretrained(str(tiny_model_dir))
    meter = FlopMeter()
    meter.attach()
    try:
        dims = TextDims.of(model.config.text_config)
        ids = torch.randint(0, 1000, (2, 10))
        mask = torch.ones(2, 10, dtype=torch.long)
        mask[1, :3] = 0  # left padding: 7 real tokens
        model(input_ids=ids, attention_mask=mask)
        expected = dims.forward(10, 10) + dims.forward(7, 7)
        assert meter.take() == {"train": pytest.approx(3 * expected), "forward": 0.0}
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3, do_sample=False)
        decode = sum(dims.forward(1, 10 + k) + dims.forward(1, 7 + k) for k in (1, 2))
        assert meter.take() == {"train": 0.0, "forward": pytest.approx(expected + decode)}
    finally:
        meter.detach()
