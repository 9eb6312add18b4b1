"""`vlmdata config migrate`: a config written for the playbook's original trainer, with every key the
migration knows, becomes a vlmdata config that `vlmdata train --dry-run` accepts; refusals are named; the
output rule holds (never the input, never a file the command did not write)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from vlmdata.cli import main

PLAYBOOK = """\
extends: base.yaml
model:
  model: ../models/student
  torch_dtype: bfloat16
template:
  template: qwen3_vl
  max_length: 2048
  truncation_strategy: raise
data:
  dataset: ["dummy"]
  dataloader_num_workers: 2
tuner:
  train_type: lora
  target_modules: [all-linear]
  freeze_llm: false
  freeze_vit: true
  freeze_aligner: false
training:
  output_dir: ../runs/stage3_gkd
  per_device_train_batch_size: 2
  gradient_accumulation_steps: 4
  learning_rate: 1.0e-4
  optimizer: multimodal
  vit_lr: 1.0e-5
  aligner_lr: 5.0e-5
  lr_scheduler_type: cosine_warmup_with_min_lr
  lr_scheduler_kwargs: {min_lr: 1.0e-6}
  warmup_ratio: 0.1
  packing: true
  logging_dir: ./tb
  save_steps: 100
  eval_steps: 100
deepspeed:
  enabled: true
  config: zero2
rlhf:
  rlhf_type: gkd
  teacher_model: ../models/teacher
  beta: 0.1
  sft_alpha: 1.0
  seq_kd: false
  lmbda: 0.0
  max_completion_length: 256
  temperature: 0.9
  llm_kd_weight: 1.0
custom:
  train_jsonl: ../data/train.jsonl
  val_jsonl: ../data/val.jsonl
  fusion_config: ../data/fusion.yaml
  sample_limit: 32
  trainer_variant: gkd_monitor
  hard_sample_mining: {enabled: true, start_epoch: 0}
  augmentation:
    enabled: true
    bypass_prob: 0.1
    ops:
      - {name: hflip, params: {prob: 0.5}}
      - {name: rotate, params: {max_deg: 15.0, prob: 0.3}}
      - {name: scale, params: {lo: 0.9, hi: 1.1, prob: 0.25}}
      - {name: expand_to_fit_affine, params: {multiple: 32, max_pixels: 921600}}
      - {name: color_jitter, params: {brightness: [0.85, 1.15], contrast: 0.2, hue: 0.05, prob: 0.3}}
      - {name: gamma, params: {gamma: [0.8, 1.3], prob: 0.3}}
      - {name: pad_to_multiple, params: {multiple: 32}}
  visual_kd:
    enabled: true
    vit: {enabled: false}
    aligner: {enabled: true, weight: 0.1, distance: mse}
    deepstack: {enabled: true, weight: 0.1, distance: cosine}
"""


@pytest.fixture()
def old(tmp_path: Path, tiny_model_dir: Path, tiny_teacher_dir: Path) -> Path:
    """A playbook-style layout: configs/ (the config and its base), models/, data/ (JSONL and a fusion config)."""
    configs, models, data = tmp_path / "configs", tmp_path / "models", tmp_path / "data"
    for folder in (configs, models, data):
        folder.mkdir()
    (models / "student").symlink_to(tiny_model_dir)
    (models / "teacher").symlink_to(tiny_teacher_dir)
    (data / "train.jsonl").write_text("", encoding="utf-8")
    (data / "val.jsonl").write_text("", encoding="utf-8")
    fusion = {
        "targets": [
            {"name": "bbu", "data": "train.jsonl", "val": "val.jsonl", "template": "target_dense_bbu"}
        ]
    }
    (data / "fusion.yaml").write_text(yaml.safe_dump(fusion), encoding="utf-8")
    (configs / "base.yaml").write_text("training:\n  num_train_epochs: 3\n  seed: 7\n", encoding="utf-8")
    (configs / "stage3_gkd.yaml").write_text(PLAYBOOK, encoding="utf-8")
    return configs / "stage3_gkd.yaml"


def _lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("moved", "rewritten", "dropped", "refused"):
            out[parts[1]] = f"{parts[0]} {parts[2]}"
    return out


def test_playbook_config_becomes_a_config_train_accepts(
    old: Path, tmp_path: Path, tiny_teacher_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "vlmdata" / "stage3_gkd.yaml"
    capsys.readouterr()
    assert main(["config", "migrate", str(old), "--out", str(new)]) == 1  # two keys refused
    out = capsys.readouterr().out
    lines = _lines(out)
    assert lines["model.model"] == "moved → model.path"
    assert lines["model.torch_dtype"] == "moved → model.dtype"
    assert lines["template.template"].startswith("dropped") and "qwen3_vl" in lines["template.template"]
    assert lines["template.max_length"] == "moved → global_max_length"
    assert lines["template.truncation_strategy"].startswith("dropped")
    assert lines["data.dataset"].startswith("dropped")
    assert lines["custom.fusion_config"] == "moved → data.fusion"
    assert lines["custom.train_jsonl"].startswith("dropped") and lines["custom.val_jsonl"].startswith(
        "dropped"
    )
    assert lines["custom.sample_limit"] == "moved → data.sample_limit"
    assert lines["custom.trainer_variant"].startswith("dropped")
    assert lines["custom.augmentation.ops"] == "rewritten → augmentation.ops"
    assert lines["custom.visual_kd.aligner"] == "moved → rlhf.visual_kd.aligner"
    assert lines["training.optimizer"].startswith("dropped") and "vit_lr" in lines["training.optimizer"]
    assert lines["training.lr_scheduler_type"] == "rewritten → training.lr_scheduler_type: cosine"
    assert lines["training.lr_scheduler_kwargs.min_lr"] == "moved → training.min_lr"
    assert lines["deepspeed.config"] == "rewritten → deepspeed: zero2"
    assert lines["rlhf.rlhf_type"] == "dropped — selects `plugin: gkd`"
    assert lines["training.packing"].startswith("refused") and "packing is not supported" in out
    assert lines["custom.hard_sample_mining"].startswith("refused") and "fusion source" in out
    assert "2 key(s) refused" in out and "it loads as a vlmdata run config" in out

    text = new.read_text(encoding="utf-8")
    assert text.startswith("# Written by `vlmdata config migrate`") and "# refused: training.packing" in text
    cfg = yaml.safe_load(text)
    assert cfg["plugin"] == "gkd" and cfg["global_max_length"] == 2048
    assert cfg["model"] == {"path": "../models/student", "dtype": "bfloat16"}  # relative to the new file
    assert cfg["data"] == {"fusion": "../data/fusion.yaml", "sample_limit": 32}
    assert cfg["training"]["num_train_epochs"] == 3 and cfg["training"]["seed"] == 7  # `extends` merged
    assert cfg["training"]["lr_scheduler_type"] == "cosine" and cfg["training"]["min_lr"] == 1e-6
    assert cfg["training"]["output_dir"] == "../runs/stage3_gkd" and "logging_dir" not in cfg["training"]
    assert cfg["deepspeed"] == "zero2"
    assert cfg["rlhf"]["visual_kd"] == {
        "vit": {"enabled": False},
        "aligner": {"enabled": True, "weight": 0.1, "distance": "mse"},
        "deepstack": {"enabled": True, "weight": 0.1, "distance": "cosine"},
    }
    ops = {op["name"]: op["params"] for op in cfg["augmentation"]["ops"]}
    assert ops == {
        "hflip": {"p": 0.5},
        "rotate": {"angle_range": [-15.0, 15.0], "p": 0.3},
        "scale": {"scale_range": [0.9, 1.1], "p": 0.25},
        "expand_to_fit": {"multiple": 32, "max_pixels": 921600},
        "color_jitter": {
            "brightness_range": [0.85, 1.15],
            "contrast_range": [0.8, 1.2],
            "hue_range": [-0.05, 0.05],
            "p": 0.3,
        },
        "gamma": {"gamma_range": [0.8, 1.3], "p": 0.3},
        "pad_to_multiple": {"multiple": 32},
    }
    assert cfg["augmentation"]["bypass_prob"] == 0.1

    capsys.readouterr()
    from importlib.util import find_spec

    # the dry run is the run's preflight: without DeepSpeed on this machine it refuses as the run would
    # (VD734, exit 2) and still shows the plan
    expected = 0 if find_spec("deepspeed") is not None else 2
    assert main(["train", "--config", str(new), "--dry-run"]) == expected
    captured = capsys.readouterr()
    assert expected == 0 or "VD734" in captured.err
    plan = yaml.safe_load(captured.out)
    args = plan["backend_args"]
    assert args["rlhf_type"] == "gkd" and args["teacher_model"] == str(tiny_teacher_dir.resolve())
    assert args["lr_scheduler_type"] == "cosine_with_min_lr" and args["lr_scheduler_kwargs"] == {
        "min_lr": 1e-6
    }
    assert (
        args["vit_lr"] == 1e-5
        and args["aligner_lr"] == 5e-5
        and args["deepspeed"]["zero_optimization"]["stage"] == 2
    )
    # the command may replace its own output, nothing else
    capsys.readouterr()
    assert main(["config", "migrate", str(old), "--out", str(new)]) == 1


def test_jsonl_sets_grpo_vllm_and_refusals(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "val.jsonl").write_text("", encoding="utf-8")
    old = tmp_path / "grpo.yaml"
    old.write_text(
        yaml.safe_dump(
            {
                "model": {"model": str(tiny_model_dir)},
                "global_max_length": 4096,
                "template": {"max_length": 8192},
                "custom": {
                    "train_jsonl": "train.jsonl",
                    "val_jsonl": "val.jsonl",
                    "augmentation": {"enabled": False, "ops": [{"name": "hflip"}]},
                    "user_prompt": "describe",
                    "visual_kd": {"enabled": True, "aligner": {"enabled": True}},
                },
                "training": {
                    "per_device_train_batch_size": 2,
                    "per_device_eval_batch_size": 2,
                    "ddp_backend": "nccl",
                },
                "rlhf": {
                    "rlhf_type": "grpo",
                    "reward_funcs": ["summary.format", "summary_parse"],
                    "num_generations": 2,
                    "use_vllm": True,
                    "vllm_mode": "server",
                    "vllm_server_host": ["10.0.0.2"],
                    "vllm_server_port": [8001],
                    "seq_kd": True,
                },
            }
        ),
        encoding="utf-8",
    )
    new = tmp_path / "grpo.vlmdata.yaml"
    capsys.readouterr()
    assert main(["config", "migrate", str(old), "--out", str(new)]) == 1
    out = capsys.readouterr().out
    lines = _lines(out)
    assert lines["template.max_length"].startswith("dropped")  # global_max_length is already the knob
    assert (
        lines["custom.train_jsonl"] == "moved → data.train"
        and lines["custom.val_jsonl"] == "moved → data.val"
    )
    assert lines["custom.augmentation"] == "dropped — augmentation is disabled"
    for key in ("custom.user_prompt", "custom.visual_kd", "training.ddp_backend", "rlhf.seq_kd"):
        assert lines[key].startswith("refused"), key
    assert "the written config does not load yet" in out  # vLLM is not installed here: VD750 named
    assert "VD750" in out
    cfg = yaml.safe_load(new.read_text(encoding="utf-8"))
    assert cfg["plugin"] == "grpo" and cfg["data"] == {"train": ["train.jsonl"], "val": ["val.jsonl"]}
    assert cfg["rlhf"]["rollout"] == "vllm_server"
    assert cfg["rlhf"]["vllm"] == {"server_host": "10.0.0.2", "server_port": 8001}
    assert cfg["rlhf"]["reward_funcs"] == ["summary_format", "summary_parse"]


def test_the_output_rule(old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "mine.yaml"
    foreign.write_text("plugin: sft\n", encoding="utf-8")
    assert main(["config", "migrate", str(old), "--out", str(foreign)]) == 2
    assert foreign.read_text(encoding="utf-8") == "plugin: sft\n"  # untouched
    before = old.read_text(encoding="utf-8")
    assert main(["config", "migrate", str(old), "--out", str(old)]) == 2
    assert old.read_text(encoding="utf-8") == before
    assert main(["config", "migrate", str(old), "--out", str(tmp_path)]) == 2  # holds the input
    (tmp_path / "folder").mkdir()
    assert main(["config", "migrate", str(old), "--out", str(tmp_path / "folder")]) == 2
    assert main(["config", "migrate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert "VD004" in err and "VD001" in err and "VD002" in err  # the --out rule of every writing command
    assert not (tmp_path / "x.yaml").exists()


def test_migration_is_pure_and_reports_each_old_key_once(old: Path, tmp_path: Path) -> None:
    from vlmdata.train.migrate import migrate_config

    first = migrate_config(old, tmp_path / "a.yaml")
    again = migrate_config(old, tmp_path / "a.yaml")
    assert first.config == again.config and [c.render() for c in first.changes] == [
        c.render() for c in again.changes
    ]
    seen = [c.old for c in first.changes]
    assert len(seen) == len(set(seen))
    assert not (tmp_path / "a.yaml").exists()
    assert json.loads(json.dumps(first.config)) == first.config  # plain data, ready for YAML
    assert isinstance(first.files, list) and len(first.files) == 2
    assert all(isinstance(c.detail, str) and c.detail for c in first.changes)
