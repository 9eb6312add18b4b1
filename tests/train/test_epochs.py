"""Every epoch is its own epoch in `gkd` and `grpo`: 2-epoch runs on the tiny model over a fusion config read
a new plan and new augmentation draws in epoch 1, the curriculum follows the global step, a rerun reads the
same, and a run killed at step k and resumed reproduces the uninterrupted run (draw log, losses, completions).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from vlmdata.io.dataset import save_records

pytestmark = pytest.mark.train


def _dataset(root: Path, name: str, n: int, desc: str) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        path = root / "images" / f"{name}_{i}.png"
        Image.new("RGB", (64, 64), ((i * 53) % 255, 90, 140)).save(path)
        records.append(
            {
                "id": f"{name}-{i}",
                "images": [str(path)],
                "width": 64,
                "height": 64,
                "objects": [{"desc": desc, "kind": "bbox_2d", "points": [2, 3, 20 + 3 * i, 40]}],
                "source_file": f"{name}.jsonl",
                "source_line": i + 1,
            }
        )
    return save_records(records, root / name / "data")


@pytest.fixture(scope="module")
def fusion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bbu (4 records, augmented, a val set) + coco (6 records, half the target count drawn per epoch)."""
    root = tmp_path_factory.mktemp("epochs")
    bbu = _dataset(root, "bbu", 4, "类别=BBU设备,品牌=华为")
    val = _dataset(root / "v", "bbuval", 2, "类别=BBU设备,品牌=华为")
    coco = _dataset(root, "coco", 6, "螺丝")
    path = root / "fusion.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "seed": 11,
                "targets": [
                    {
                        "name": "bbu",
                        "data": str(bbu),
                        "val": str(val),
                        "template": "target_dense_bbu",
                        "ratio": 1.0,
                        "augment": True,
                    }
                ],
                "sources": [{"name": "coco", "data": str(coco), "template": "source_dense", "ratio": 0.5}],
            }
        ),
        encoding="utf-8",
    )
    return path


def _run(tmp_path: Path, data: dict[str, Any], extra_callbacks: list[Any] | None = None) -> Any:
    from vlmdata.train.config import load_train_config
    from vlmdata.train.registry import get_plugin

    path = tmp_path / f"{Path(data['training']['output_dir']).name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_train_config(path)
    plugin = get_plugin(config.plugin)
    return plugin.run(plugin.plan(config), extra_callbacks=extra_callbacks)


def _rows(run: Path) -> list[dict[str, Any]]:
    return [
        json.loads(x) for x in (run / "logging.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()
    ]


def _draws(run: Path) -> list[dict[str, Any]]:
    text = (run / "draws" / "rank-0.jsonl").read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _crash_at(step: int) -> Any:
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == step:
                raise KeyboardInterrupt(f"simulated kill after step {step}")

    return Crash()


def _base(model: Path, fusion: Path, out: Path, plugin: str, **training: Any) -> dict[str, Any]:
    return {
        "plugin": plugin,
        "model": {"path": str(model), "dtype": "float32"},
        "template": {"name": "target_dense_bbu", "max_pixels": 64 * 64, "min_pixels": 32 * 32},
        "global_max_length": 1024,
        "data": {"fusion": str(fusion)},
        "tuner": {"train_type": "lora", "lora_dropout": 0.0, "lora_rank": 4, "lora_alpha": 8},
        "training": {
            "output_dir": str(out),
            "num_train_epochs": 2,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3,
            "lr_scheduler_type": "constant",
            "logging_steps": 1,
            "weight_decay": 0.0,
            "report_to": ["none"],
            "seed": 5,
            "gradient_checkpointing": False,
            **training,
        },
    }


THROUGHPUT = ("runtime", "samples_per_second", "steps_per_second")


def _check_eval_names(run: Path, config: dict[str, Any], channels: list[str]) -> None:
    """Every evaluation metric the run logged is one the plugin lists (what metric_for_best_model is checked
    against), and every listed one was logged."""
    from vlmdata.config.run import RunConfig
    from vlmdata.train.registry import get_plugin

    plugin = get_plugin(config["plugin"])
    parsed = RunConfig.model_validate({**config, "rlhf": None})
    parsed.rlhf = plugin.config_model.model_validate(config["rlhf"])
    listed = set(plugin.eval_metrics(parsed)) | {f"{c}_{m}" for c in channels for m in ("loss", "token_acc")}
    logged = {
        k[len("eval/") :]
        for r in _rows(run)
        for k in r
        if k.startswith("eval/") and k[len("eval/") :] not in THROUGHPUT
    }
    assert logged == listed, (sorted(logged - listed), sorted(listed - logged))


def _by_epoch(draws: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for d in draws:
        out.setdefault(d["epoch"], []).append(d)
    return out


def test_gkd_two_epochs_new_plan_curriculum_telemetry_and_exact_resume(
    tmp_path: Path, tiny_model_dir: Path, tiny_teacher_dir: Path, fusion: Path
) -> None:
    def config(out: Path, **training: Any) -> dict[str, Any]:
        data = _base(tiny_model_dir, fusion, out, "gkd", save_steps=2, eval_steps=2, **training)
        data["data"]["sample_limit"] = 2  # smoke-run cut: bbu 2 + coco 2 per epoch → 2 steps per epoch
        data["training"]["metric_for_best_model"] = (
            "eval/bbu_token_acc"  # per-dataset, logging.jsonl spelling
        )
        # the curriculum on the global step: every record bypassed at step 0, none from step 2 (epoch 1) on
        data["augmentation"] = {
            "seed": 1,
            "bypass_prob": 1.0,
            "ops": [{"name": "rotate", "params": {"p": 1.0, "angle_range": [-10, 10]}}],
            "curriculum": {"phases": [{"until_step": 2, "bypass_prob": 0.0}]},
        }
        data["rlhf"] = {
            "teacher_model": str(tiny_teacher_dir),
            "sft_alpha": 0.5,
            "eval_teacher": True,
            "visual_kd": {"aligner": {"enabled": True}},
        }
        return data

    full = tmp_path / "full"
    _run(tmp_path, config(full))
    draws = _draws(full)
    epochs = _by_epoch(draws)
    assert sorted(epochs) == [0, 1] and [len(epochs[0]), len(epochs[1])] == [4, 4]  # 2 rounds of 2 rows
    assert {d["step"] for d in epochs[0]} == {0, 1} and {d["step"] for d in epochs[1]} == {2, 3}
    seq = {e: [(d["source"], d["id"]) for d in rows] for e, rows in epochs.items()}
    assert seq[0] != seq[1]  # the fusion plan is drawn again for epoch 1
    bbu = [d for d in draws if d["source"] == "bbu"]
    assert all(d["augment"] == "bypassed" for d in bbu if d["step"] == 0)
    assert all(d["augment"] not in (None, "bypassed") for d in bbu if d["step"] >= 2)
    assert all(d["augment"] is None for d in draws if d["source"] == "coco")  # sources are not augmented
    rows = _rows(full)
    steps = [r for r in rows if "train/loss" in r]
    assert len(steps) == 4
    for key in ("train/bbu_loss", "train/bbu_token_acc", "train/coco_loss", "train/coco_token_acc"):
        assert any(key in r and math.isfinite(r[key]) for r in steps), key
    evals = [r for r in rows if "eval/loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    for key in ("eval/llm_kd_loss", "eval/vision_kd_loss", "eval/bbu_loss", "eval/bbu_token_acc"):
        assert all(key in r and math.isfinite(r[key]) for r in evals), key
    assert all(
        r["eval/loss"] == pytest.approx(r["eval/sft_loss"], rel=1e-5) for r in evals
    )  # eval/loss is CE
    _check_eval_names(full, config(full), ["bbu"])
    best = json.loads((full / "best_model.json").read_text(encoding="utf-8"))
    values = [e["value"] for e in best["evaluations"]]
    assert best["metric"] == "eval_bbu_token_acc" and best["greater_is_better"] is True
    assert values == [r["eval/bbu_token_acc"] for r in evals]
    assert best["best_metric"] == max(values)
    manifest = json.loads((full / "data_manifest.json").read_text(encoding="utf-8"))
    assert manifest["train"]["sample_limit"] == 2 and manifest["train"]["epoch_0"]["length"] == 4
    fusion_manifest = json.loads((full / "fusion_manifest.json").read_text(encoding="utf-8"))
    assert fusion_manifest["epochs"]["1"]["sample_limit"]["counts"] == {"bbu": 2, "coco": 2}
    assert fusion_manifest["epochs"]["1"]["counts"] == {"bbu": 4, "coco": 2}  # the plan before the cut

    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, config(killed), extra_callbacks=[_crash_at(3)])
    assert (killed / "checkpoint-2").is_dir() and not (killed / "checkpoint-4").exists()
    _run(tmp_path, config(killed, resume_from_checkpoint=str(killed / "checkpoint-2")))
    assert _draws(killed) == draws  # a rerun reads the same; the resume continues with epoch 1
    a = {r["step"]: r for r in steps}
    b = {r["step"]: r for r in _rows(killed) if "train/loss" in r}
    assert sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        keys = [k for k in a[step] if k.endswith("_loss") or k == "train/loss"]  # the datasets of that step
        assert "train/llm_kd_loss" in keys
        assert sorted(keys) == sorted(k for k in b[step] if k.endswith("_loss") or k == "train/loss")
        for key in keys:
            assert b[step][key] == pytest.approx(a[step][key], rel=1e-5, abs=1e-6), (step, key)


@pytest.fixture(scope="module", autouse=True)
def _length_reward() -> Any:
    """A reward that varies on a random model's output, so the policy moves and the resume checks weights."""
    from vlmdata_plugins.rewards import REWARDS, register

    register("test_epoch_length")(lambda completion, record: len(completion) / 10.0)
    yield
    del REWARDS["test_epoch_length"]


def test_grpo_two_epochs_new_draws_and_exact_resume(
    tmp_path: Path, tiny_model_dir: Path, fusion: Path
) -> None:
    def config(out: Path, **training: Any) -> dict[str, Any]:
        data = _base(tiny_model_dir, fusion, out, "grpo", save_steps=3, eval_steps=3, **training)
        data["data"]["sample_limit"] = 2  # 2 bbu + 2 coco prompts per epoch, one prompt per step
        data["training"].update(per_device_eval_batch_size=2, metric_for_best_model="eval_reward")
        data["augmentation"] = {
            "seed": 1,
            "ops": [{"name": "rotate", "params": {"p": 1.0, "angle_range": [-10, 10]}}],
        }
        data["rlhf"] = {
            "reward_funcs": ["dense_format", "test_epoch_length"],
            "num_generations": 2,
            "generation_batch_size": 2,
            "max_completion_length": 8,
            "temperature": 1.0,
            "beta": 0.0,
            "rollout_dump_steps": 1,
        }
        return data

    full = tmp_path / "full"
    _run(tmp_path, config(full))
    draws = _draws(full)
    epochs = _by_epoch(draws)
    assert [len(epochs[0]), len(epochs[1])] == [4, 4]
    assert [d["step"] for d in draws] == list(range(8))
    assert [(d["source"], d["id"]) for d in epochs[0]] != [(d["source"], d["id"]) for d in epochs[1]]
    angles = {
        e: {d["id"]: d["augment"][0]["params"]["angle"] for d in rows if d["source"] == "bbu"}
        for e, rows in epochs.items()
    }
    both = set(angles[0]) & set(angles[1])
    assert all(angles[0][i] != angles[1][i] for i in both)  # augmentation drawn per (seed, epoch, record)
    for step in range(8):  # one prompt per step, num_generations completions (named by the step before it)
        dump = [json.loads(x) for x in (full / "rollouts" / f"step-{step}.jsonl").read_text().splitlines()]
        assert len(dump) == 2 and dump[0]["reference"] == dump[1]["reference"]
    _check_eval_names(full, config(full), [])
    best = json.loads((full / "best_model.json").read_text(encoding="utf-8"))
    evals = [r for r in _rows(full) if "eval/reward" in r]
    assert best["metric"] == "eval_reward" and [e["value"] for e in best["evaluations"]] == [
        r["eval/reward"] for r in evals
    ]

    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, config(killed), extra_callbacks=[_crash_at(5)])
    _run(tmp_path, config(killed, resume_from_checkpoint=str(killed / "checkpoint-3")))
    assert _draws(killed) == draws
    for step in range(3, 8):  # the resumed run samples the same completions and scores the same rewards
        a = (full / "rollouts" / f"step-{step}.jsonl").read_text()
        b = (killed / "rollouts" / f"step-{step}.jsonl").read_text()
        assert a == b, step
    la = {r["step"]: r for r in _rows(full) if "train/loss" in r}
    lb = {r["step"]: r for r in _rows(killed) if "train/loss" in r}
    for step in range(4, 9):
        assert lb[step]["train/loss"] == pytest.approx(la[step]["train/loss"], rel=1e-5, abs=1e-6), step
