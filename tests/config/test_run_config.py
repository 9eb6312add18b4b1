"""Run config: layering, path resolution, every problem reported at once with file + key path + fix."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.train.config import load_train_config

DUMMY = """
from pydantic import BaseModel, ConfigDict
from vlmdata.train.plugin import TrainerPlugin, TrainPlan, TrainResult


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beta: float = 0.5
    teacher: str | None = None


class Dummy(TrainerPlugin):
    name = "cfgdummy"
    config_model = Section
    path_fields = ("teacher",)

    def plan(self, config):
        return TrainPlan(self.name, config, config.training.output_dir, {})

    def run(self, plan):
        return TrainResult(plan.output_dir, 0)
"""


@pytest.fixture()
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A third-party plugin `cfgdummy` installed as a dist-info on sys.path."""
    site = tmp_path / "site"
    (site / "cfgdummy_pkg").mkdir(parents=True)
    (site / "cfgdummy_pkg" / "__init__.py").write_text(DUMMY, encoding="utf-8")
    info = site / "cfgdummy_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cfgdummy-pkg\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[vlmdata.trainers]\ncfgdummy = cfgdummy_pkg:Dummy\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("cfgdummy_pkg", None)


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "state.json").write_text("{}", encoding="utf-8")
    (tmp_path / "ds" / "dataset_info.json").write_text("{}", encoding="utf-8")  # what load_from_disk needs
    return tmp_path


def _problems(exc: pytest.ExceptionInfo[VlmdataError]) -> list[str]:
    return exc.value.details


def test_valid_config_resolves_paths_against_the_file_that_set_them(plugin_dir: Path, inputs: Path) -> None:
    _w(inputs / "presets" / "base.yaml", "model: {path: ../model, dtype: bf16}\n")
    run = _w(
        inputs / "run.yaml",
        """
        extends: presets/base.yaml
        plugin: cfgdummy
        data: {train: ds}
        rlhf: {teacher: model}
        training: {effective_batch_size: 8, per_device_train_batch_size: 2, nproc_per_node: 2, min_lr_ratio: 0.1}
    """,
    )
    config = load_train_config(run)
    assert config.model.path == str(inputs / "model")
    assert config.model.dtype == "bfloat16"
    assert config.data.train == [str(inputs / "ds")]
    assert config.rlhf.teacher == str(inputs / "model") and config.rlhf.beta == 0.5
    assert config.training.resolved_gradient_accumulation_steps() == 2
    assert config.training.backend_scheduler == ("cosine_with_min_lr", {"min_lr_rate": 0.1})
    assert config.files == [str(inputs / "presets" / "base.yaml"), str(run)]
    assert config.training.output_dir == str(Path.cwd() / "runs" / "run")
    assert config.to_dict()["rlhf"] == {"beta": 0.5, "teacher": str(inputs / "model")}


def test_plugin_flag_and_base_layer(plugin_dir: Path, inputs: Path) -> None:
    base = _w(inputs / "machine.yaml", f"model: {{path: {inputs / 'model'}}}\nglobal_max_length: 2048\n")
    run = _w(inputs / "run.yaml", "plugin: nonexistent\ndata: {train: [ds]}\nglobal_max_length: 1024\n")
    config = load_train_config(run, base=base, plugin="cfgdummy")
    assert config.plugin == "cfgdummy" and config.global_max_length == 1024
    assert config.model.path == str(inputs / "model")


def test_all_problems_reported_together_with_file_key_and_fix(plugin_dir: Path, inputs: Path) -> None:
    _w(inputs / "base.yaml", "training: {packing: true}\n")
    run = _w(
        inputs / "run.yaml",
        """
        extends: base.yaml
        plugin: cfgdummy
        model: {path: model, dtpye: bf16}
        data: {train: ds}
        template: {max_length: 10, min_pixels: 10}
        training: {padding_free: true, learning_rate: -1}
        custom: {hard_sample_mining: true}
        lora_rank: 4
        dataset: placeholder
        rlhf: {beta: x, extra: 1}
    """,
    )
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    lines = _problems(exc)
    joined = "\n".join(lines)
    assert len(lines) == 10, joined
    expect = {
        "training.packing": ("VD640", "base.yaml", "group_by_length"),
        "model.dtpye": ("VD606", "run.yaml", "did you mean `dtype`?"),
        "template.max_length": ("VD640", "run.yaml", "use global_max_length"),
        "training.padding_free": ("VD640", "run.yaml", "packing is not supported"),
        "training.learning_rate": ("VD605", "run.yaml", "greater than 0"),
        "custom.hard_sample_mining": ("VD640", "run.yaml", "fusion"),
        "lora_rank": ("VD641", "run.yaml", "tuner.lora_rank"),
        "dataset": ("VD641", "run.yaml", "data.train"),
        "rlhf.beta": ("VD605", "run.yaml", "valid number"),
        "rlhf.extra": ("VD606", "run.yaml", "unknown key"),
    }
    for key, (code, file, text) in expect.items():
        match = [line for line in lines if f": {key}:" in line]
        assert match, f"{key} not reported:\n{joined}"
        assert match[0].startswith(code) and file in match[0] and text in match[0], match[0]


def test_removed_knob_inside_rlhf_and_unknown_rlhf_key(plugin_dir: Path, inputs: Path) -> None:
    run = _w(
        inputs / "run.yaml",
        "plugin: cfgdummy\nmodel: {path: model}\ndata: {train: ds}\nrlhf: {truncation_strategy: raise, gamma: 1}\n",
    )
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    lines = _problems(exc)
    assert any(line.startswith("VD640") and "rlhf.truncation_strategy" in line for line in lines)
    assert any(line.startswith("VD606") and "rlhf.gamma" in line for line in lines)
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("body", "code", "key"),
    [
        ("data: {train: ds, fusion: ds}", "VD643", "data.fusion"),
        ("data: {val: ds}", "VD643", "data"),
        (
            "data: {train: ds}\ntraining: {effective_batch_size: 7, per_device_train_batch_size: 2}",
            "VD642",
            "training.effective_batch_size",
        ),
        (
            "data: {train: ds}\ntraining: {effective_batch_size: 8, gradient_accumulation_steps: 2}",
            "VD642",
            "training.effective_batch_size",
        ),
        (
            "data: {train: ds}\ntraining: {min_lr: 0.00001, lr_scheduler_type: linear}",
            "VD647",
            "training.lr_scheduler_type",
        ),
        (
            "data: {train: ds}\ntraining: {lr_scheduler_type: cosine_with_min_lr}",
            "VD647",
            "training.lr_scheduler_type",
        ),
        (
            "data: {train: ds}\ntraining: {nnodes: 2, node_rank: 2, master_addr: 10.0.0.1}",
            "VD648",
            "training.node_rank",
        ),
        ("data: {train: ds}\ntraining: {nnodes: 2, node_rank: 1}", "VD648", "training.master_addr"),
        (
            "data: {train: ds}\ntuner: {freeze_llm: true, freeze_vit: true, freeze_aligner: true}",
            "VD646",
            "tuner",
        ),
        ("data: {train: ds}\ntuner: {train_type: full, lora_rank: 16}", "VD660", "tuner.lora_rank"),
        (
            "data: {train: ds}\ntuner: {target_modules: [q_proj], target_regex: '.*q_proj'}",
            "VD660",
            "tuner.target_regex",
        ),
        ("data: {train: ds}\ntuner: {target_regex: '(['}", "VD605", "tuner.target_regex"),
        (
            "data: {train: ds}\ntraining: {bf16: true}\nmodel: {path: model, dtype: float32}",
            "VD661",
            "training.bf16",
        ),
        ("data: {train: [ds, nope]}", "VD644", "data.train[1]"),
        ("data: {train: ds}\ndeepspeed: zero4", "VD605", "deepspeed"),
        ("data: {train: model}", "VD644", "data.train[0]"),
        ("data: {train: ds}\nmodel: {path: ds}", "VD644", "model.path"),
        ("data: {train: ds}\ndeepspeed: ds.json", "VD644", "deepspeed"),
        ("data: {train: ds}\ntemplate: {min_pixels: 100, max_pixels: 10}", "VD605", "template"),
        ("data: {train: ds}\ntemplate: {system: 'be brief<|im_end|>'}", "VD605", "template.system"),
        ("data: {train: ds}\ntemplate: {system: 'use <bbox>'}", "VD605", "template.system"),
        ("data: {train: ds}\ntraining: {report_to: [mlflow]}", "VD605", "training.report_to"),
        ("data: {train: ds}\nmodel: {model: Qwen/Qwen3-VL-4B}", "VD641", "model.model"),
        ("data: {train: ds}\nmodel: Qwen/Qwen3-VL-4B", "VD641", "model"),
        ("data: {train: ds}\ntemplate: {name: nope}", "VD649", "template.name"),
        (
            "data: {train: ds}\ntraining: {resume_from_checkpoint: ds, init_from_checkpoint: ds}",
            "VD662",
            "training.init_from_checkpoint",
        ),
        (
            "data: {train: ds}\naugmentation: {ops: [{name: hflip, params: {p: 2}}]}",
            "VD605",
            "augmentation.ops[0]",
        ),
        ("data: {train: ds}\naugmentation: {bypass: 0.5}", "VD606", "augmentation.bypass"),
    ],
)
def test_each_rule_has_its_code_and_key(
    plugin_dir: Path, inputs: Path, body: str, code: str, key: str
) -> None:
    text = (
        "plugin: cfgdummy\n"
        + ("" if body.startswith("model") or "\nmodel:" in body else "model: {path: model}\n")
        + body
        + "\n"
    )
    run = _w(inputs / "run.yaml", text)
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    lines = _problems(exc)
    assert len(lines) == 1, lines
    assert lines[0].startswith(code) and f": {key}:" in lines[0] and "run.yaml" in lines[0], lines[0]


def test_unknown_plugin_lists_installed(plugin_dir: Path, inputs: Path) -> None:
    run = _w(inputs / "run.yaml", "plugin: nope\nmodel: {path: model}\ndata: {train: ds}\n")
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    (line,) = _problems(exc)
    assert line.startswith("VD700") and "plugin" in line and "cfgdummy" in line


def test_effective_batch_size_from_world_size(plugin_dir: Path, inputs: Path) -> None:
    run = _w(
        inputs / "run.yaml",
        """
        plugin: cfgdummy
        model: {path: model}
        data: {train: ds}
        training: {effective_batch_size: 32, per_device_train_batch_size: 2, nproc_per_node: 4, nnodes: 2, master_addr: 10.0.0.1}
    """,
    )
    training = load_train_config(run).training
    assert training.world_size == 8
    assert training.resolved_gradient_accumulation_steps() == 2
    assert training.resolved_gradient_accumulation_steps(world_size=1) == 16


def test_output_dir_relative_to_its_file_and_augmentation_embedded(plugin_dir: Path, inputs: Path) -> None:
    run = _w(
        inputs / "cfg" / "run.yaml",
        """
        plugin: cfgdummy
        model: {path: ../model}
        data: {train: ../ds}
        training: {output_dir: ../runs/a}
        augmentation: {seed: 3, ops: [{name: hflip, params: {p: 0.5}}]}
    """,
    )
    config = load_train_config(run)
    assert config.training.output_dir == str(inputs / "runs" / "a")
    assert config.augmentation.seed == 3 and config.augmentation.ops[0].name == "hflip"
    assert config.to_dict()["augmentation"]["ops"][0]["params"] == {"p": 0.5}


def test_latest_checkpoint(tmp_path: Path) -> None:
    from vlmdata.train.plugin import latest_checkpoint

    assert latest_checkpoint(tmp_path) == tmp_path
    for step in (5, 40, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-x").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-40"
    assert latest_checkpoint(tmp_path / "checkpoint-5") == tmp_path / "checkpoint-5"


def test_check_paths_can_be_skipped(plugin_dir: Path, tmp_path: Path) -> None:
    run = _w(tmp_path / "run.yaml", "plugin: cfgdummy\nmodel: {path: missing}\ndata: {train: missing}\n")
    assert load_train_config(run, check_paths=False).model.path == str(tmp_path / "missing")


def test_missing_model_path_is_reported_in_the_run_file(plugin_dir: Path, inputs: Path) -> None:
    _w(inputs / "base.yaml", "model: {dtype: bf16}\n")
    run = _w(inputs / "run.yaml", "extends: base.yaml\nplugin: cfgdummy\ndata: {train: ds}\n")
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    (line,) = _problems(exc)
    assert line.startswith(f"VD605 {run}: model.path: Field required") and "vlmdata tiny-model" in line


def test_validate_output_folder_is_accepted_like_everywhere_else(plugin_dir: Path, inputs: Path) -> None:
    from vlmdata.io.dataset import save_records

    save_records([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}], inputs / "out" / "data")
    save_records([{"id": "b", "messages": [{"role": "user", "content": "hi"}]}], inputs / "out" / "val")
    (inputs / "model").mkdir(exist_ok=True)
    run = _w(inputs / "run.yaml", "plugin: cfgdummy\nmodel: {path: model}\ndata: {train: out, val: out}\n")
    config = load_train_config(run)
    assert config.data.train == [str(inputs / "out")] and config.data.val == [str(inputs / "out")]
    (inputs / "empty").mkdir()
    (inputs / "fused" / "data").mkdir(parents=True)  # a damaged folder: no dataset files
    run = _w(
        inputs / "run.yaml", "plugin: cfgdummy\nmodel: {path: model}\ndata: {train: empty, val: out/data}\n"
    )
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    (line,) = _problems(exc)
    assert line.startswith("VD644") and "data.train[0]" in line and "not a vlmdata Arrow dataset" in line
