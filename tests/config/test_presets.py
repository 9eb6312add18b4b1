"""Every preset under configs/ opens with a comment saying what it is for and how to launch it, and
validates: run configs through `vlmdata train --dry-run` (on the tiny model and a tiny dataset), fusion and
augmentation configs through their own loaders. Layers that other presets extend are covered by those."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"


def _all_presets() -> list[Path]:
    return sorted(CONFIGS.rglob("*.yaml"))


def _extends(path: Path) -> list[Path]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parents = data.get("extends") or []
    parents = [parents] if isinstance(parents, str) else parents
    return [(path.parent / p).resolve() for p in parents]


def _layers() -> set[Path]:
    """Files some preset extends: validated through the presets extending them."""
    return {parent for p in _all_presets() for parent in _extends(p)}


def _kind(path: Path) -> str:
    area = path.relative_to(CONFIGS).parts[0]
    return area if area in ("fusion", "augment") else "run"


LEAVES = [p for p in _all_presets() if p.resolve() not in _layers()]


def test_presets_exist() -> None:
    names = {str(p.relative_to(CONFIGS)) for p in _all_presets()}
    for required in (
        "base.yaml",
        "sft/lora.yaml",
        "sft/full.yaml",
        "sft/stage1_aligner.yaml",
        "sft/stage2_llm.yaml",
        "gkd/forward_only.yaml",
        "gkd/on_policy.yaml",
        "gkd/visual_kd.yaml",
        "gkd/full.yaml",
        "grpo/summary.yaml",
        "grpo/dense.yaml",
        "demo/sft.yaml",
        "demo/gkd.yaml",
        "demo/grpo.yaml",
    ):
        assert required in names


@pytest.mark.parametrize("preset", _all_presets(), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_preset_opens_with_purpose_and_launch_comment(preset: Path) -> None:
    lines = preset.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 2, f"{preset} must open with a comment block (purpose + how to launch)"
    text = " ".join(header)
    assert "vlmdata " in text or "extend" in text, (
        f"{preset}: the opening comment should say how to launch or use it"
    )


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlmdata.synth import generate
    from vlmdata.validate import validate_files

    root = tmp_path_factory.mktemp("preset-data")
    synth = generate(root / "synth", 6, seed=0, min_size=64, max_size=96)
    validate_files([synth.data_path], root / "validated")
    return root / "validated" / "data"


def _overlay(
    preset: Path, tmp: Path, model: Path, data: Path, teacher: Path | None, path_fields: tuple[str, ...]
) -> Path:
    """A run file that extends the preset and points its inputs (the plugin's `path_fields` included, e.g.
    a GKD teacher) at the tiny models and data."""
    from vlmdata.io.layered import load_layered

    merged = load_layered(preset).data
    overlay: dict = {"extends": str(preset), "model": {"path": str(model)}}
    training: dict = {"output_dir": str(tmp / "run")}
    if (merged.get("data") or {}).get("fusion"):
        fusion = tmp / "fusion.yaml"
        fusion.write_text(
            yaml.safe_dump({"targets": [{"name": "tiny", "data": str(data), "ratio": 1.0}]}), encoding="utf-8"
        )
        overlay["data"] = {"fusion": str(fusion)}
    else:
        overlay["data"] = {
            "train": [str(data)],
            **({"val": [str(data)]} if (merged.get("data") or {}).get("val") else {}),
        }
    for key in ("resume_from_checkpoint", "init_from_checkpoint"):
        if (merged.get("training") or {}).get(key):
            checkpoint = tmp / "earlier" / "checkpoint-1"
            if not checkpoint.exists():
                import shutil

                shutil.copytree(model, checkpoint)
            training[key] = str(checkpoint.parent)
    if teacher is not None:
        overlay["rlhf"] = {key: str(teacher) for key in path_fields}
    overlay["training"] = training
    run = tmp / "run.yaml"
    run.write_text(yaml.safe_dump(overlay, sort_keys=False), encoding="utf-8")
    return run


@pytest.mark.train
@pytest.mark.parametrize("preset", LEAVES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_preset_validates(
    preset: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kind = _kind(preset)
    if kind == "fusion":
        from vlmdata.fuse import load_fusion_config

        assert load_fusion_config(preset, check_paths=False).targets
        return
    if kind == "augment":
        from vlmdata.augment import load_augmentation_config

        load_augmentation_config(preset)
        return
    from vlmdata.cli import main

    model = request.getfixturevalue("tiny_model_dir")
    data = request.getfixturevalue("tiny_data")
    from vlmdata.io.layered import load_layered
    from vlmdata.train.registry import get_plugin

    path_fields = get_plugin(load_layered(preset).data.get("plugin", "sft")).path_fields
    teacher = request.getfixturevalue("tiny_teacher_dir") if path_fields else None
    run = _overlay(preset, tmp_path, model, data, teacher, path_fields)
    capsys.readouterr()
    code = main(["train", "--config", str(run), "--dry-run"])
    captured = capsys.readouterr()
    from importlib.util import find_spec

    if load_layered(run).data.get("deepspeed") and find_spec("deepspeed") is None:
        # the dry run is the run's preflight: on a machine without DeepSpeed it refuses as the run would
        assert code == 2 and "VD734" in captured.err, captured.err
        with run.open("a", encoding="utf-8") as fh:
            fh.write("\ndeepspeed: null\n")  # …and the rest of the preset is checked without it
        code = main(["train", "--config", str(run), "--dry-run"])
        captured = capsys.readouterr()
    assert code == 0, captured.err
    shown = yaml.safe_load(captured.out)
    assert shown["plugin"] == shown["config"]["plugin"]
    assert shown["backend_args"], "the plan must show the backend arguments"
    assert not (tmp_path / "run").exists(), "--dry-run must not write the run folder"
    training = shown["config"]["training"]
    if training["effective_batch_size"] is not None:
        per_step = training["per_device_train_batch_size"] * shown["world_size"]
        assert shown["gradient_accumulation_steps"] == training["effective_batch_size"] // per_step


def test_base_holds_runtime_defaults_only() -> None:
    base = yaml.safe_load((CONFIGS / "base.yaml").read_text(encoding="utf-8"))
    assert set(base) <= {"model", "template", "global_max_length"}, "no hyperparameters in base.yaml"
    assert set(base["model"]) <= {"dtype", "attn_impl"}, "base.yaml names no model: a run file does"
    for preset in ("sft/lora.yaml", "sft/full.yaml", "sft/stage1_aligner.yaml", "sft/stage2_llm.yaml"):
        assert _extends(CONFIGS / preset) == [(CONFIGS / "base.yaml").resolve()], preset


def _merged(name: str) -> dict:
    from vlmdata.io.layered import load_layered

    return load_layered(CONFIGS / name).data


def test_presets_follow_the_playbook() -> None:
    """The numbers the playbook gives for each recipe (docs/config.md, Presets)."""
    stage1, stage2 = _merged("sft/stage1_aligner.yaml"), _merged("sft/stage2_llm.yaml")
    assert (stage1["tuner"]["train_type"], stage1["tuner"]["target_modules"]) == ("lora", ["all-linear"])
    assert (
        stage1["tuner"]["freeze_llm"],
        stage1["tuner"]["freeze_vit"],
        stage1["tuner"]["freeze_aligner"],
    ) == (
        True,
        True,
        False,
    )
    assert (stage1["training"]["num_train_epochs"], stage1["training"]["learning_rate"]) == (3, 1e-4)
    assert stage2["training"]["learning_rate"] == 5e-5 and "aligner_lr" not in stage2["training"]
    assert stage2["training"]["init_from_checkpoint"] == "../../runs/stage1_aligner"
    assert (stage2["tuner"]["freeze_llm"], stage2["tuner"]["freeze_aligner"]) == (False, False)
    summary = _merged("grpo/summary.yaml")["rlhf"]
    assert (summary["temperature"], summary["max_completion_length"]) == (0.3, 2048)
    full = _merged("gkd/full.yaml")
    assert full["plugin"] == "gkd" and full["tuner"]["train_type"] == "full"
    assert full["rlhf"]["llm_kd_weight"] > 0 and full["rlhf"]["lmbda"] == 0
    assert {t for t, v in full["rlhf"]["visual_kd"].items() if v["enabled"]} == {"aligner", "deepstack"}
    forward = _merged("gkd/forward_only.yaml")["rlhf"]
    assert (forward["sft_alpha"], forward["beta"], forward["lmbda"]) == (1.0, 0.1, 0.0)
    for demo in ("demo/gkd.yaml", "demo/grpo.yaml"):
        data = _merged(demo)
        assert data["training"]["num_train_epochs"] == 2 and "max_steps" not in data["training"], demo
        assert data["data"]["fusion"] and data["data"]["sample_limit"] and data["augmentation"]["ops"], demo
