"""The `sft` plugin end to end on the tiny Qwen3-VL, in-process on the CPU (a few steps per run)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vlmdata.config.run import RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import save_records

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.train


def sft_plugin() -> Any:
    """The plugin through the entry point when installed, else the same module imported from `plugins/`."""
    try:
        from vlmdata.train.registry import get_plugin

        return get_plugin("sft")
    except Exception:
        pass
    if "vlmdata_plugins" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "vlmdata_plugins",
            ROOT / "plugins" / "__init__.py",
            submodule_search_locations=[str(ROOT / "plugins")],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["vlmdata_plugins"] = module
        spec.loader.exec_module(module)
    return importlib.import_module("vlmdata_plugins.sft").SftPlugin()


def make_dataset(root: Path, name: str, n: int, domain: str = "BBU", lengths: bool = False) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        w, h = 64 + 32 * (i % 2), 64
        path = root / "images" / f"{name}_{i}.png"
        Image.new("RGB", (w, h), ((i * 53) % 255, 90, 140)).save(path)
        objects = [
            {"desc": "螺丝", "kind": "bbox_2d", "points": [2.0, 3.0, 20.0 + i, 30.0]},
            {"desc": "标签", "kind": "poly", "points": [5.0, 5.0, 30.0, 5.0, 30.0, 20.0, 5.0, 20.0]},
        ]
        records.append(
            {
                "id": f"{name}-{i}",
                "images": [str(path)],
                "width": w,
                "height": h,
                "objects": objects[: 1 + i % 2],
                "metadata": {"domain": domain},
                "source_file": f"{name}.jsonl",
                "source_line": i + 1,
            }
        )
        if lengths:  # stand-ins for audited lengths: enough to drive the grouping, all under the limit
            records[-1]["length"] = 100 + 37 * ((i * 5) % n)
    return save_records(records, root / name / "data")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("sft-data"), "bbu", 8, lengths=True)


def config(model: Path, out: Path, train: list[Path] | None = None, **sections: Any) -> RunConfig:
    data: dict[str, Any] = {
        "model": {"path": str(model), "dtype": "float32"},
        "template": {"name": "target_dense_bbu", "max_pixels": 64 * 64, "min_pixels": 32 * 32},
        "global_max_length": 1024,
        "data": {"train": [str(p) for p in train or []]},
        "tuner": {"train_type": "lora", "lora_dropout": 0.0},
        "training": {
            "output_dir": str(out),
            "max_steps": 3,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "learning_rate": 2e-3,
            "logging_steps": 1,
            "save_steps": 3,
            "weight_decay": 0.0,
            "warmup_ratio": 0.0,
            "report_to": ["tensorboard"],
            "seed": 11,
        },
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return RunConfig.model_validate(data)


class Snapshot:
    """Parameters at the start and the end of training, and the optimizer's LR groups."""

    def __new__(cls) -> Any:
        from transformers import TrainerCallback

        class _Snap(TrainerCallback):
            def on_train_begin(
                self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kw: Any
            ) -> None:
                self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
                self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}
                self.groups = [
                    (g.get("vlmdata_group"), g["lr"], len(g["params"])) for g in optimizer.param_groups
                ]

            def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
                self.after = {n: p.detach().clone() for n, p in model.named_parameters()}

        return _Snap()


def changed(snap: Any) -> tuple[set[str], set[str]]:
    import torch

    moved = {n for n in snap.before if not torch.equal(snap.before[n], snap.after[n])}
    return moved, set(snap.before) - moved


def dead_mergers(model_dir: Path) -> tuple[str, ...]:
    """Deepstack mergers with no gradient path: merger k is added to the image positions after decoder layer
    k, so one added after the *last* layer only reaches image-position logits, which carry no labels."""
    cfg = json.loads((model_dir / "config.json").read_text())
    layers, n = cfg["text_config"]["num_hidden_layers"], len(cfg["vision_config"]["deepstack_visual_indexes"])
    return tuple(f"deepstack_merger_list.{k}." for k in range(n) if k >= layers - 1)


def assert_trained_exactly(snap: Any, model_dir: Path) -> None:
    """Every trainable parameter changed and every frozen one did not (structurally dead mergers excepted)."""
    moved, _ = changed(snap)
    dead = dead_mergers(model_dir)
    expected = {n for n in snap.trainable if not any(d in n for d in dead)}
    assert expected and moved == expected


def log_rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "logging.jsonl").read_text().splitlines() if line.strip()]


def step_losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["train/loss"] for r in log_rows(run) if "train/loss" in r}


def test_lora_saves_an_adapter_and_trains_exactly_the_adapters(tiny_model_dir: Path, tmp_path: Path) -> None:
    plugin = sft_plugin()
    run = tmp_path / "lora"
    snap = Snapshot()
    grouped = make_dataset(tmp_path, "bbu", 16, lengths=True)  # 16 records: mega-batches of 2 batches
    result = plugin.run(plugin.plan(config(tiny_model_dir, run, [grouped])), extra_callbacks=[snap])
    assert snap.trainable and all("lora_" in n and "language_model" in n for n in snap.trainable)
    assert_trained_exactly(snap, tiny_model_dir)
    ckpt = run / "checkpoint-3"
    assert result.adapter_dir == ckpt.resolve() and result.global_step == 3
    assert (ckpt / "adapter_model.safetensors").is_file() and (ckpt / "adapter_config.json").is_file()
    assert not (ckpt / "model.safetensors").exists()
    assert (ckpt / "adapter_model.safetensors").stat().st_size < 0.05 * (
        tiny_model_dir / "model.safetensors"
    ).stat().st_size
    rows = [r for r in log_rows(run) if "train/loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert math.isfinite(r["train/loss"]) and "train/learning_rate" in r and "train/grad_norm" in r
        assert "train/token_acc" in r and r["memory_gib"] > 0 and "train/samples_per_second" in r
    for name in ("config.yaml", "run.json", "data_manifest.json", "train_result.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "run.json").read_text())["versions"]["ms-swift"] == "4.6.0"
    padding = json.loads((run / "train_result.json").read_text())["padding"]  # grouped by the `length` column
    assert padding["padding_tokens_grouped"] < padding["padding_tokens_plain"]
    assert any((run / "runs").rglob("events.out.tfevents*"))


def test_stage1_aligner_full_then_stage2_lora_from_its_checkpoint(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    plugin = sft_plugin()
    from safetensors.torch import load_file

    aligner = ("model.visual.merger", "model.visual.deepstack_merger_list")
    stage1 = tmp_path / "stage1"
    snap1 = Snapshot()
    tuner1 = {"train_type": "full", "freeze_llm": True, "freeze_vit": True, "freeze_aligner": False}
    res1 = plugin.run(
        plugin.plan(
            config(
                tiny_model_dir, stage1, [data_dir], tuner=tuner1, training={"max_steps": 2, "save_steps": 2}
            )
        ),
        extra_callbacks=[snap1],
    )
    assert snap1.trainable and all(n.startswith(aligner) for n in snap1.trainable)
    assert_trained_exactly(snap1, tiny_model_dir)
    ckpt1 = res1.checkpoint_dir
    assert ckpt1 is not None and (ckpt1 / "model.safetensors").is_file() and res1.adapter_dir is None

    stage2 = tmp_path / "stage2"
    snap2 = Snapshot()
    tuner2 = {
        "train_type": "lora",
        "lora_dropout": 0.0,
        "freeze_llm": False,
        "freeze_vit": True,
        "freeze_aligner": True,
        "target_modules": ["all-linear", "lm_head"],
        "modules_to_save": ["model.visual.merger", "model.visual.deepstack_merger_list.*"],
    }
    cfg2 = config(
        tiny_model_dir,
        stage2,
        [data_dir],
        tuner=tuner2,
        training={"max_steps": 2, "save_steps": 2, "init_from_checkpoint": str(stage1), "aligner_lr": 5e-3},
    )
    plan2 = plugin.plan(cfg2)
    assert plan2.backend_args["model"] == str(ckpt1)  # a run folder resolves to its highest checkpoint-N
    res2 = plugin.run(plan2, extra_callbacks=[snap2])
    from vlmdata_plugins.common.trainer import clean_param_name

    base = load_file(str(tiny_model_dir / "model.safetensors"))
    start = {clean_param_name(n): v for n, v in snap2.before.items()}
    for name, value in snap1.after.items():
        if name.startswith(aligner):
            assert start[name].equal(value), name  # stage 2 starts from stage 1's aligner
    vit = [
        n for n in start if n.startswith("model.visual.") and not n.startswith(aligner) and "lora_" not in n
    ]
    assert vit and all(start[n].equal(base[n]) for n in vit)  # the ViT is the base model's
    assert_trained_exactly(snap2, tiny_model_dir)
    assert any("modules_to_save" in n and "merger" in n for n in snap2.trainable)
    assert any("deepstack_merger_list" in n and "modules_to_save" in n for n in snap2.trainable)
    assert any("lm_head" in n and "lora_" in n for n in snap2.trainable)  # named explicitly → targeted
    assert all(
        ("lora_" in n and ("language_model" in n or "lm_head" in n)) or "modules_to_save" in n
        for n in snap2.trainable
    )
    assert {(g, lr) for g, lr, _ in snap2.groups if g == "aligner"} == {("aligner", 5e-3)}
    assert res2.adapter_dir is not None


def test_kill_and_resume_gives_the_same_losses(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    plugin = sft_plugin()
    aug = {"seed": 1, "bypass_prob": 0.0, "ops": [{"name": "hflip", "params": {"p": 0.5}}]}
    overrides = {"training": {"max_steps": 6, "save_steps": 3}, "augmentation": aug}
    full = tmp_path / "full"
    plugin.run(plugin.plan(config(tiny_model_dir, full, [data_dir], **overrides)))

    class Crash(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 4:
                raise KeyboardInterrupt("simulated kill after step 4")

    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        plugin.run(
            plugin.plan(config(tiny_model_dir, killed, [data_dir], **overrides)), extra_callbacks=[Crash()]
        )
    assert (killed / "checkpoint-3").is_dir() and not (killed / "checkpoint-6").exists()
    resumed = config(
        tiny_model_dir,
        killed,
        [data_dir],
        training={"max_steps": 6, "save_steps": 3, "resume_from_checkpoint": str(killed / "checkpoint-3")},
        augmentation=aug,
    )
    plugin.run(plugin.plan(resumed))
    a, b = step_losses(full), step_losses(killed)
    assert sorted(b) == [1, 2, 3, 4, 5, 6]  # the killed run's step-4 row was dropped, then re-logged once
    for step in (4, 5, 6):  # steps 5-6 cross into epoch 1 (8 records, batch 2)
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), step
    from safetensors.torch import load_file

    wa = load_file(str(full / "checkpoint-6" / "adapter_model.safetensors"))
    wb = load_file(str(killed / "checkpoint-6" / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:  # the resumed run ends on the same adapter weights
        assert (wa[key] - wb[key]).abs().max().item() < 1e-5, key
    with pytest.raises(VlmdataError, match="VD735"):  # a finished run's folder is not silently reused
        plugin.run(plugin.plan(config(tiny_model_dir, full, [data_dir], **overrides)))


@pytest.mark.parametrize("workers", [0, 1])
def test_over_length_sample_stops_the_run(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path, workers: int
) -> None:
    plugin = sft_plugin()  # with a worker process the error crosses torch's re-raise and is recovered
    unaudited = make_dataset(tmp_path, "bbu", 4)  # no `length` column: only the run-time check can see it
    cfg = config(
        tiny_model_dir,
        tmp_path / "long",
        [unaudited],
        global_max_length=40,
        training={"dataloader_num_workers": workers},
    )
    with pytest.raises(VlmdataError) as err:
        plugin.run(plugin.plan(cfg))
    e = err.value
    assert e.code_str == "VD550"
    text = str(e)
    assert "bbu-" in text and "global_max_length=40" in text and "tokens" in text


def test_fusion_run_logs_per_dataset_metrics(tiny_model_dir: Path, tmp_path: Path) -> None:
    plugin = sft_plugin()
    tgt = make_dataset(tmp_path, "bbu", 4)
    val = make_dataset(tmp_path, "bbuval", 2)
    src = make_dataset(tmp_path, "coco", 4)
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(
        json.dumps(
            {
                "seed": 0,
                "targets": [{"name": "bbu", "data": str(tgt), "val": str(val)}],
                "sources": [{"name": "coco", "data": str(src), "ratio": 1.0}],
            }
        )
    )
    run = tmp_path / "fused"
    regex = r"^model\.language_model\.layers\.\d+\.self_attn\.(q_proj|v_proj)$"
    cfg = config(
        tiny_model_dir,
        run,
        data={"train": [], "fusion": str(fusion)},
        tuner={"target_regex": regex},
        training={"max_steps": 2, "save_steps": 2, "eval_steps": 2},
    )
    snap = Snapshot()
    plugin.run(plugin.plan(cfg), extra_callbacks=[snap])
    assert snap.trainable and all(
        re.search(r"self_attn\.(q_proj|v_proj)\.lora_[AB]\.", n) for n in snap.trainable
    )
    rows = log_rows(run)
    train_keys = set().union(*(r.keys() for r in rows if "train/loss" in r))
    for key in ("train/bbu_loss", "train/bbu_token_acc", "train/coco_loss", "train/coco_token_acc"):
        assert key in train_keys, key
    eval_rows = [r for r in rows if "eval/loss" in r]
    assert eval_rows and "eval/bbu_loss" in eval_rows[-1] and "eval/coco_loss" not in eval_rows[-1]
    assert not any(k.startswith(("train/train/", "train/eval", "eval/eval")) for r in rows for k in r)
    manifest = json.loads((run / "fusion_manifest.json").read_text())
    assert manifest["epochs"]["0"]["counts"] == {"bbu": 4, "coco": 4}


def test_run_folder_keeps_the_manifest_of_a_fused_dataset(tmp_path: Path) -> None:
    sft_plugin()
    from vlmdata_plugins.common.runfolder import written_fusion_manifest

    fused = tmp_path / "fused"
    (fused / "data").mkdir(parents=True)
    (fused / "manifest.json").write_text(json.dumps({"plan_digest": "abc", "total": 3}))
    assert written_fusion_manifest(fused / "data") == {"plan_digest": "abc", "total": 3}
    (tmp_path / "plain" / "data").mkdir(parents=True)
    assert written_fusion_manifest(tmp_path / "plain" / "data") is None


def test_dora_vit_and_separate_lrs(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    plugin = sft_plugin()
    snap = Snapshot()
    tuner = {
        "train_type": "lora",
        "use_dora": True,
        "lora_dropout": 0.0,
        "freeze_vit": False,
        "modules_to_save": ["model.visual.merger"],
    }
    training = {
        "max_steps": 3,
        "save_steps": 3,
        "vit_lr": 1e-3,
        "aligner_lr": 3e-3,
        "learning_rate": 2e-3,
        "lr_scheduler_type": "cosine",
        "min_lr_ratio": 0.1,
        "warmup_ratio": 0.0,
    }
    plugin.run(
        plugin.plan(config(tiny_model_dir, tmp_path / "dora", [data_dir], tuner=tuner, training=training)),
        extra_callbacks=[snap],
    )
    names = snap.trainable
    assert not any("lm_head" in n for n in names)  # all-linear never includes lm_head by itself
    assert any("lora_magnitude_vector" in n for n in names)  # DoRA
    assert any(n.startswith("base_model.model.model.visual.blocks") and "lora_" in n for n in names)
    assert any("merger.modules_to_save" in n for n in names)
    assert_trained_exactly(snap, tiny_model_dir)
    lrs = {g: lr for g, lr, _ in snap.groups}
    assert lrs == {"vit": 1e-3, "aligner": 3e-3, "llm": 2e-3}
    last = [r for r in log_rows(tmp_path / "dora") if "train/loss" in r][-1]
    assert last["train/learning_rate"] == pytest.approx(
        0.1 * 3e-3
    )  # cosine ends on the min-LR floor (group 0)


def test_plan_is_pure_and_complete(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    plugin = sft_plugin()
    out = tmp_path / "planned"
    training = {
        "effective_batch_size": 16,
        "per_device_train_batch_size": 2,
        "nproc_per_node": 2,
        "lr_scheduler_type": "cosine",
        "min_lr": 1e-6,
        "warmup_ratio": 0.05,
        "gradient_checkpointing": True,
    }
    plan = plugin.plan(config(tiny_model_dir, out, [data_dir], training=training, deepspeed="zero3"))
    args = plan.backend_args
    assert not out.exists()  # nothing written
    assert (
        plan.world_size == 2 and plan.gradient_accumulation_steps == 4 == args["gradient_accumulation_steps"]
    )
    assert args["lr_scheduler_type"] == "cosine_with_min_lr" and args["lr_scheduler_kwargs"] == {
        "min_lr": 1e-6
    }
    assert args["deepspeed"]["zero_optimization"]["stage"] == 3
    assert args["model_type"] == "qwen3_vl" and args["check_model"] is False and args["max_length"] == 1024
    assert args["dataset"] == ["vlmdata"] and args["group_by_length"] is False
    assert plan.env["IMAGE_MAX_TOKEN_NUM"] == "4" and plan.env["IMAGE_MIN_TOKEN_NUM"] == "1"
    z2 = plugin.plan(config(tiny_model_dir, out, [data_dir], deepspeed="zero2")).backend_args["deepspeed"]
    assert z2["zero_optimization"]["stage"] == 2
    json.dumps(plan.to_dict())  # --dry-run prints it
    empty = tmp_path / "no-checkpoints"
    empty.mkdir()
    with pytest.raises(VlmdataError, match="VD731"):
        plugin.plan(config(tiny_model_dir, out, [data_dir], training={"init_from_checkpoint": str(empty)}))


def test_debug_decodes_one_sample(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    plugin = sft_plugin()
    sample = plugin.debug(plugin.plan(config(tiny_model_dir, tmp_path / "dbg", [data_dir])))
    assert sample.ok and sample.image_tokens == sample.grid_tokens > 0
    assert f"<|image_pad|>*{sample.image_tokens}" in sample.text
    assert "<DOMAIN=BBU>, <TASK=DETECTION>" in (sample.labels_text or "")
    assert sample.tensor_shapes["image_grid_thw"][1] == 3


def test_resume_refuses_a_different_data_stream(tmp_path: Path) -> None:
    sft_plugin()
    from vlmdata_plugins.common.runfolder import prepare_run_dir

    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    source = {"name": "bbu", "size": 8, "fingerprint": "f1", "template": "target_dense_bbu", "augment": True}
    manifest = {"train": {"seed": 1, "fusion": None, "sources": [source]}}
    (run / "data_manifest.json").write_text(json.dumps(manifest))
    rows = [{"step": s, "train/loss": 1.0} for s in (1, 2, 3)]
    (run / "logging.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert prepare_run_dir(run, str(run / "checkpoint-2"), manifest) == 2
    assert [json.loads(x)["step"] for x in (run / "logging.jsonl").read_text().splitlines()] == [1, 2]
    changed_data = {"train": {"seed": 1, "fusion": None, "sources": [{**source, "size": 9}]}}
    with pytest.raises(VlmdataError, match="VD732"):
        prepare_run_dir(tmp_path / "elsewhere", str(run / "checkpoint-2"), changed_data)
    with pytest.raises(VlmdataError, match="VD735"):
        prepare_run_dir(run, None, manifest)
    with pytest.raises(VlmdataError, match="VD731"):
        prepare_run_dir(run, str(tmp_path), manifest)


def test_metric_keys_are_prefixed_exactly_once() -> None:
    sft_plugin()
    from vlmdata_plugins.common.callbacks import metric_key

    cases = {
        "loss": "train/loss",
        "bbu_token_acc": "train/bbu_token_acc",
        "eval_loss": "eval/loss",
        "eval_bbu_loss": "eval/bbu_loss",
        "train/sft_loss": "train/sft_loss",
        "eval/token_acc": "eval/token_acc",
        "train_runtime": "train/runtime",
        "train_loss": "train/average_loss",
        "step": "step",
        "epoch": "epoch",
        "completions/mean_length": "train/completions/mean_length",
    }
    assert {k: metric_key(k) for k in cases} == cases


def test_two_stage_presets_lora_aligner_then_merged_into_stage2(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The playbook's two-stage recipe from the presets themselves: stage 1 puts LoRA on the aligner only (LLM
    and ViT frozen); stage 2 starts from the base weights with stage 1's adapter merged in, at lr 5e-5."""
    import yaml
    from safetensors.torch import load_file
    from vlmdata_plugins.common.trainer import clean_param_name

    from vlmdata.train.config import load_train_config

    plugin = sft_plugin()
    small = {
        "max_steps": 2,
        "save_steps": 2,
        "per_device_train_batch_size": 1,  # the presets' micro-batch of 4 would not divide the effective batch
        "effective_batch_size": 2,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        "report_to": ["none"],
    }

    def stage(preset: str, out: Path, **training: Any) -> tuple[Any, Any]:
        run = {
            "extends": str(ROOT / "configs" / "sft" / preset),
            "model": {"path": str(tiny_model_dir), "dtype": "float32"},
            "template": {"max_pixels": 64 * 64, "min_pixels": 32 * 32},
            "global_max_length": 1024,
            "data": {"train": [str(data_dir)]},
            "tuner": {"lora_dropout": 0.0},
            "training": {"output_dir": str(out), **small, **training},
        }
        path = tmp_path / f"{out.name}.yaml"
        path.write_text(yaml.safe_dump(run), encoding="utf-8")
        snap = Snapshot()
        return plugin.run(plugin.plan(load_train_config(path)), extra_callbacks=[snap]), snap

    aligner = ("model.visual.merger", "model.visual.deepstack_merger_list")
    res1, snap1 = stage("stage1_aligner.yaml", tmp_path / "stage1")
    trainable1 = {clean_param_name(n) for n in snap1.trainable}
    assert trainable1 and all(n.startswith(aligner) and "lora_" in n for n in trainable1)
    assert res1.adapter_dir is not None  # stage 1 saves an adapter
    res2, snap2 = stage("stage2_llm.yaml", tmp_path / "stage2", init_from_checkpoint=str(tmp_path / "stage1"))
    assert json.loads((tmp_path / "stage2" / "args.json").read_text())["learning_rate"] == 5e-5
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    start = {clean_param_name(n): v for n, v in snap2.before.items() if "lora_" not in n}
    merged = [n for n in start if n.startswith(aligner) and n.endswith(".weight") and n in base]
    moved = [n for n in merged if not start[n].equal(base[n])]
    assert moved, "stage 2 must start from the aligner weights stage 1 trained"
    llm = [n for n in start if "language_model" in n and n in base]
    assert llm and all(start[n].equal(base[n]) for n in llm)  # stage 1 never touched the LLM
    assert res2.adapter_dir is not None
