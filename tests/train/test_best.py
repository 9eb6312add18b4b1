"""Best-checkpoint selection: the metric's spellings and direction, config-time checks against what each plugin
logs, the backend arguments, and one decision on every rank (two CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import save_records
from vlmdata.train.best import best_model_args, infer_greater_is_better


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("eval_loss", False),
        ("eval/loss", False),
        ("loss", False),
        ("eval_bbu_loss", False),
        ("eval_llm_kd_loss", False),
        ("eval_kl", False),
        ("eval_token_acc", True),
        ("eval/bbu_token_acc", True),
        ("eval_reward", True),
        ("eval_rewards/summary_format/mean", True),
        ("eval_reward_std", None),
        ("eval_rewards/summary_format/std", None),
        ("eval_completions/mean_length", None),
        ("eval_clip_ratio/low_mean", None),
    ],
)
def test_direction_is_inferred_from_the_name(name: str, expected: bool | None) -> None:
    assert infer_greater_is_better(name) is expected


def _records(root: Path, name: str, n: int) -> Path:
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        path = root / "img" / f"{name}{i}.png"
        Image.new("RGB", (64, 64), (30 * i, 90, 140)).save(path)
        rows.append(
            {
                "id": f"{name}-{i}",
                "images": [str(path)],
                "width": 64,
                "height": 64,
                "objects": [
                    {"desc": "类别=BBU设备,品牌=华为", "kind": "bbox_2d", "points": [2, 3, 20 + i, 40]}
                ],
                "summary": '{"统计": [{"类别": "BBU设备", "品牌": {"华为": 1}}]}',
                "source_file": f"{name}.jsonl",
                "source_line": i + 1,
            }
        )
    return save_records(rows, root / name / "data")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("best")
    model = root / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}), encoding="utf-8")
    bbu, val, coco = _records(root, "bbu", 4), _records(root / "v", "bbuval", 3), _records(root, "coco", 4)
    fusion = root / "fusion.yaml"
    fusion.write_text(
        yaml.safe_dump(
            {
                "seed": 1,
                "targets": [
                    {"name": "bbu", "data": str(bbu), "val": str(val), "template": "target_dense_bbu"}
                ],
                "sources": [{"name": "coco", "data": str(coco), "template": "source_dense", "ratio": 0.5}],
            }
        ),
        encoding="utf-8",
    )
    return {"root": root, "model": model, "bbu": bbu, "val": val, "fusion": fusion}


def _load(tmp_path: Path, data: dict[str, Any]) -> Any:
    from vlmdata.train.config import load_train_config

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_train_config(path)


def _config(inputs: dict[str, Path], tmp_path: Path, plugin: str = "sft", **training: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "plugin": plugin,
        "model": {"path": str(inputs["model"])},
        "template": {"name": "target_dense_bbu"},
        "data": {"fusion": str(inputs["fusion"])},
        "training": {"output_dir": str(tmp_path / "out"), **training},
    }
    if plugin == "grpo":
        data["rlhf"] = {
            "reward_funcs": ["summary_format", "summary_content_f1"],
            "num_generations": 2,
            "generation_batch_size": 2,
        }
        data["training"].setdefault("per_device_eval_batch_size", 2)
    return data


def _error(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, data)
    return str(err.value)


def test_metric_spellings_plan_and_direction(inputs: dict[str, Path], tmp_path: Path) -> None:
    from vlmdata.train.registry import get_plugin

    for spelling in ("eval/bbu_token_acc", "eval_bbu_token_acc", "bbu_token_acc"):
        config = _load(tmp_path, _config(inputs, tmp_path, metric_for_best_model=spelling))
        assert config.training.metric_for_best_model == "eval_bbu_token_acc"
    args = get_plugin("sft").plan(config).backend_args
    assert args["metric_for_best_model"] == "eval_bbu_token_acc" and args["greater_is_better"] is True
    assert args["save_strategy"] == "steps" and args["eval_strategy"] == "steps"
    assert args["load_best_model_at_end"] is False
    # overridden direction, epoch schedules, the default metric of load_best_model_at_end
    config = _load(
        tmp_path,
        _config(
            inputs,
            tmp_path,
            metric_for_best_model="eval_loss",
            greater_is_better=True,
            save_strategy="epoch",
            eval_strategy="epoch",
            load_best_model_at_end=True,
            save_total_limit=1,
        ),
    )
    args = get_plugin("sft").plan(config).backend_args
    assert (args["greater_is_better"], args["save_strategy"], args["eval_strategy"]) == (
        True,
        "epoch",
        "epoch",
    )
    assert "eval_steps" not in args and args["save_total_limit"] == 1 and args["load_best_model_at_end"]
    config = _load(tmp_path, _config(inputs, tmp_path, load_best_model_at_end=True))
    assert best_model_args(config, True)["metric_for_best_model"] == "eval_loss"
    assert best_model_args(config, True)["greater_is_better"] is False
    grpo = _load(tmp_path, _config(inputs, tmp_path, "grpo", metric_for_best_model="eval/reward"))
    args = get_plugin("grpo").plan(grpo).backend_args
    assert args["metric_for_best_model"] == "eval_reward" and args["greater_is_better"] is True
    assert "eval_metrics" not in args
    no_best = get_plugin("sft").plan(_load(tmp_path, _config(inputs, tmp_path))).backend_args
    assert "metric_for_best_model" not in no_best and no_best["eval_strategy"] == "steps"


def test_best_checkpoint_problems_are_reported_before_anything_loads(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    text = _error(tmp_path, _config(inputs, tmp_path, metric_for_best_model="eval_bbu_tokn_acc"))
    assert "VD663" in text and "logs no evaluation metric 'eval_bbu_tokn_acc'" in text
    assert "eval_bbu_token_acc" in text and "eval_coco_loss" not in text  # coco has no val set
    text = _error(tmp_path, _config(inputs, tmp_path, "grpo", metric_for_best_model="eval_token_acc"))
    assert "eval_reward" in text and "eval_rewards/summary_format/mean" in text
    text = _error(tmp_path, _config(inputs, tmp_path, "grpo", metric_for_best_model="eval_reward_std"))
    assert "training.greater_is_better" in text and "cannot tell" in text
    assert _load(
        tmp_path,
        _config(inputs, tmp_path, "grpo", metric_for_best_model="eval_reward_std", greater_is_better=False),
    )
    plain = _config(inputs, tmp_path, metric_for_best_model="eval_loss")
    plain["data"] = {"train": [str(inputs["bbu"])]}
    assert "no evaluation data" in _error(tmp_path, plain)
    text = _error(tmp_path, _config(inputs, tmp_path, metric_for_best_model="eval_loss", eval_strategy="no"))
    assert "eval_strategy is `no`" in text
    text = _error(tmp_path, _config(inputs, tmp_path, load_best_model_at_end=True, save_strategy="epoch"))
    assert "save_strategy epoch, eval_strategy steps" in text and "set eval_strategy: epoch" in text
    text = _error(
        tmp_path, _config(inputs, tmp_path, load_best_model_at_end=True, save_steps=5, eval_steps=2)
    )
    assert "save_steps (5) to be a multiple of eval_steps (2)" in text
    assert "without `metric_for_best_model`" in _error(
        tmp_path, _config(inputs, tmp_path, greater_is_better=True)
    )
    assert "name an evaluation metric" in _error(
        tmp_path, _config(inputs, tmp_path, metric_for_best_model="eval/")
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.train
def test_two_cpu_processes_take_one_decision(
    inputs: dict[str, Path], tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Two ranks (gloo) evaluate different halves of the val set; the per-dataset loss is reduced before the
    decision, both ranks see the same value and keep the same best checkpoint — here the *highest* loss, with
    the direction overridden, so the best is not simply the last checkpoint."""
    run = tmp_path / "run"
    data = {
        "plugin": "sft",
        "model": {"path": str(tiny_model_dir), "dtype": "float32"},
        "template": {"name": "target_dense_bbu", "max_pixels": 64 * 64, "min_pixels": 32 * 32},
        "global_max_length": 1024,
        "data": {"fusion": str(inputs["fusion"])},
        "tuner": {"train_type": "lora", "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0},
        "training": {
            "output_dir": str(run),
            "max_steps": 3,
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3,
            "logging_steps": 1,
            "save_steps": 1,
            "eval_steps": 1,
            "report_to": ["none"],
            "seed": 3,
            "gradient_checkpointing": False,
            "nproc_per_node": 2,
            "master_port": _free_port(),
            "metric_for_best_model": "eval/bbu_loss",
            "greater_is_better": True,
            "load_best_model_at_end": True,
            "save_total_limit": 1,
        },
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "vlmdata", "train", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(x) for x in (run / "logging.jsonl").read_text().splitlines() if x.strip()]
    evals = [r for r in rows if "eval/bbu_loss" in r]
    assert [r["step"] for r in evals] == [1, 2, 3]  # one row per evaluation: the ranks act as one run
    best = json.loads((run / "best_model.json").read_text(encoding="utf-8"))
    assert best["metric"] == "eval_bbu_loss" and best["greater_is_better"] is True
    for evaluation, row in zip(best["evaluations"], evals, strict=True):
        ranks = evaluation["ranks"]
        assert [r["rank"] for r in ranks] == [0, 1]
        assert ranks[0] == {**ranks[1], "rank": 0}  # same value, same best, same decision
        assert evaluation["value"] == pytest.approx(row["eval/bbu_loss"])
    values = [e["value"] for e in best["evaluations"]]
    top = 1 + values.index(max(values))
    assert best["best_global_step"] == top and best["best_checkpoint"] == f"checkpoint-{top}"
    result = json.loads((run / "train_result.json").read_text(encoding="utf-8"))
    assert result["best_model_checkpoint"].endswith(f"checkpoint-{top}")
    kept = sorted(p.name for p in run.glob("checkpoint-*"))
    assert f"checkpoint-{top}" in kept and len(kept) <= 2  # save_total_limit never deletes the best


def test_the_playbook_smoke_overlay_is_two_lines(inputs: dict[str, Path], tmp_path: Path) -> None:
    """`extends: run.yaml` + `data: {sample_limit: 32}` + `training: {save_steps: 5}` is the smoke test."""
    from vlmdata.train.config import load_train_config
    from vlmdata.train.registry import get_plugin

    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(_config(inputs, tmp_path, save_steps=500)), encoding="utf-8")
    smoke = tmp_path / "smoke.yaml"
    smoke.write_text(
        "extends: run.yaml\ndata: {sample_limit: 32}\ntraining: {save_steps: 5}\n", encoding="utf-8"
    )
    config = load_train_config(smoke)
    assert config.data.sample_limit == 32 and config.data.fusion == str(inputs["fusion"])
    args = get_plugin("sft").plan(config).backend_args
    assert args["save_steps"] == 5 and args["eval_steps"] == 5
