"""The `grpo` plugin on the tiny Qwen3-VL, in-process on the CPU: rewards logged, gradients flow, dumps written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vlmdata.config.run import RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import save_records

pytestmark = pytest.mark.train

SUMMARY = json.dumps({"统计": [{"类别": "天线", "品牌": {"华为": 1}}]}, ensure_ascii=False)


def _length_reward(completion: str, record: Any) -> float:
    """A reward that varies on random output: the completion's length in characters, scaled."""
    return len(completion) / 10.0


@pytest.fixture(scope="module")
def summary_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grpo-data")
    records = []
    for i in range(4):
        path = root / f"{i}.png"
        Image.new("RGB", (64, 64), (40 * i, 90, 140)).save(path)
        records.append(
            {
                "id": f"s{i}",
                "images": [str(path)],
                "width": 64,
                "height": 64,
                "objects": [],
                "summary": SUMMARY if i % 2 == 0 else "无关图片",
                "source_file": "s.jsonl",
                "source_line": i + 1,
            }
        )
    return save_records(records, root / "data")


def _config(model: Path, data: Path, out: Path, **rlhf: Any) -> dict[str, Any]:
    return {
        "plugin": "grpo",
        "model": {"path": str(model), "dtype": "float32"},
        "template": {"name": "summary_rru", "max_pixels": 64 * 64, "min_pixels": 32 * 32},
        "global_max_length": 512,
        "data": {"train": [str(data)]},
        "tuner": {"train_type": "lora", "lora_dropout": 0.0, "lora_rank": 4, "lora_alpha": 8},
        "training": {
            "output_dir": str(out),
            "max_steps": 2,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 1,
            "learning_rate": 1e-2,
            "logging_steps": 1,
            "save_steps": 2,
            "weight_decay": 0.0,
            "report_to": ["none"],
            "seed": 3,
            "gradient_checkpointing": False,
        },
        "rlhf": {
            "reward_funcs": ["summary_format", "summary_content_f1", "test_length"],
            "num_generations": 4,
            "generation_batch_size": 4,
            "max_completion_length": 8,
            "temperature": 1.0,
            "beta": 0.0,
            "rollout_dump_steps": 1,
            **rlhf,
        },
    }


def _load(tmp_path: Path, data: dict[str, Any]) -> RunConfig:
    import yaml

    from vlmdata.train.config import load_train_config

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_train_config(path)


@pytest.fixture(scope="module", autouse=True)
def _test_reward() -> Any:
    """A reward registered the way a user's package would, removed again after this module."""
    from vlmdata_plugins.rewards import REWARDS, register

    register("test_length")(_length_reward)
    yield
    del REWARDS["test_length"]


def test_grpo_logs_every_reward_and_updates(tmp_path: Path, tiny_model_dir: Path, summary_data: Path) -> None:
    from vlmdata.train.registry import get_plugin

    plugin = get_plugin("grpo")
    config = _load(tmp_path, _config(tiny_model_dir, summary_data, tmp_path / "run"))
    result = plugin.run(plugin.plan(config))
    rows = [
        json.loads(line)
        for line in (tmp_path / "run" / "logging.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    steps = [r for r in rows if "train/loss" in r]
    assert len(steps) == 2
    for name in ("summary_format", "summary_content_f1", "test_length"):
        key = f"train/rewards/{name}/mean"
        assert all(key in r for r in steps), f"{key} missing from {sorted(steps[0])}"
    assert any(r["train/grad_norm"] > 0 for r in steps), "a varying reward must move the policy"
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_config.json").is_file()
    dump = [
        json.loads(line)
        for line in (tmp_path / "run" / "rollouts" / "step-1.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(dump) == 4 and set(dump[0]["rewards"]) >= {"summary_format", "test_length"}
    assert dump[0]["reference"] in (f"<DOMAIN=RRU>, <TASK=SUMMARY>\n{SUMMARY}", "无关图片")


def test_grpo_config_errors(tmp_path: Path, tiny_model_dir: Path, summary_data: Path) -> None:
    mismatch = _config(
        tiny_model_dir,
        summary_data,
        tmp_path / "bad",
        reward_funcs=["summary_format"],
        reward_weights=[1.0, 2.0],
    )
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, mismatch)
    assert "reward_weights has 2 entries but reward_funcs has 1" in str(err.value)
    several = _config(
        tiny_model_dir,
        summary_data,
        tmp_path / "bad",
        generation_batch_size=6,
        reward_funcs=["summary_fromat"],
    )
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, several)
    text = str(err.value)
    assert "3 problem(s)" in text and "run.yaml" in text
    assert "unknown reward(s) ['summary_fromat']" in text and "summary_format" in text
    assert "generation_batch_size 6 is not divisible by num_generations 4" in text


def test_full_grpo_with_kl_loads_a_reference_model(
    tmp_path: Path, tiny_model_dir: Path, summary_data: Path
) -> None:
    from vlmdata.train.registry import get_plugin

    data = _config(
        tiny_model_dir,
        summary_data,
        tmp_path / "full",
        beta=0.04,
        reward_funcs=["test_length"],
        rollout_dump_steps=None,
    )
    data["tuner"] = {"train_type": "full", "freeze_vit": True}
    data["training"]["max_steps"] = 1
    plugin = get_plugin("grpo")
    result = plugin.run(plugin.plan(_load(tmp_path, data)))
    rows = [
        json.loads(line)
        for line in (tmp_path / "full" / "logging.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    step = next(r for r in rows if "train/loss" in r)
    assert "train/kl" in step and math.isfinite(step["train/kl"])
    assert result.checkpoint_dir is not None and not (result.checkpoint_dir / "adapter_config.json").exists()


def test_rollout_maps_to_ms_swift_vllm_arguments(
    tmp_path: Path, tiny_model_dir: Path, summary_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rlhf.rollout` → ms-swift 4.6.0's arguments, which its own argument class accepts; vLLM itself cannot
    be installed here, so the package's presence is simulated for the mapping and its absence is the error."""
    import importlib.util
    import inspect

    from swift.arguments import RLHFArguments

    from vlmdata.train.registry import get_plugin

    plugin = get_plugin("grpo")
    hf = plugin.plan(_load(tmp_path, _config(tiny_model_dir, summary_data, tmp_path / "o")))
    assert hf.backend_args["use_vllm"] is False and "vllm_mode" not in hf.backend_args
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, _config(tiny_model_dir, summary_data, tmp_path / "o", rollout="vllm_colocate"))
    assert "VD750" in str(err.value) and "pip install vllm" in str(err.value)

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a)
    )
    colocate = _config(
        tiny_model_dir,
        summary_data,
        tmp_path / "o",
        rollout="vllm_colocate",
        vllm={"gpu_memory_utilization": 0.5, "tensor_parallel_size": 2},
    )
    args = plugin.plan(_load(tmp_path, colocate)).backend_args
    assert {k: args[k] for k in args if k.startswith(("use_vllm", "vllm_"))} == {
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": 0.5,
        "vllm_tensor_parallel_size": 2,
        "vllm_max_model_len": 512,
    }
    server = _config(
        tiny_model_dir,
        summary_data,
        tmp_path / "o",
        rollout="vllm_server",
        vllm={"server_host": "10.1.2.3", "server_port": 8001, "server_timeout": 60},
    )
    args = plugin.plan(_load(tmp_path, server)).backend_args
    assert {k: args[k] for k in args if k.startswith(("use_vllm", "vllm_"))} == {
        "use_vllm": True,
        "vllm_mode": "server",
        "vllm_server_host": ["10.1.2.3"],
        "vllm_server_port": [8001],
        "vllm_server_timeout": 60.0,
    }
    fields = set(inspect.signature(RLHFArguments).parameters)
    assert {k for k in args if k.startswith(("use_vllm", "vllm_"))} <= fields  # ms-swift's own names
    wrong = _config(
        tiny_model_dir, summary_data, tmp_path / "o", rollout="vllm_server", vllm={"tensor_parallel_size": 2}
    )
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, wrong)
    assert "VD751" in str(err.value) and "rlhf.vllm.tensor_parallel_size" in str(err.value)
    with pytest.raises(VlmdataError) as err:
        _load(tmp_path, _config(tiny_model_dir, summary_data, tmp_path / "o", vllm={"server_port": 9}))
    assert "has no effect with `rollout: hf`" in str(err.value)
