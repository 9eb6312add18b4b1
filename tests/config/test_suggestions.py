"""Every unknown-key error suggests the closest valid key: generated from every field of every config model."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from vlmdata.config.run import SECTION_MODELS, RunConfig
from vlmdata.errors import VlmdataError, closest, model_keys_at
from vlmdata.io.layered import problems_from_validation_error


def _typos(name: str) -> list[str]:
    """A dropped letter, two letters swapped, a doubled letter, and a dash for an underscore."""
    mid = len(name) // 2
    out = [name[:mid] + name[mid + 1 :], name[: mid - 1] + name[mid] + name[mid - 1] + name[mid + 1 :]]
    out.append(name[:mid] + name[mid] + name[mid:])
    if "_" in name:
        out.append(name.replace("_", "-", 1))
    return [t for t in out if t != name]


def _fields(model: type[BaseModel]) -> list[str]:
    return [f for f in model.model_fields if len(f) >= 4]


CASES = [(section, field) for section, model in SECTION_MODELS.items() for field in _fields(model)]


@pytest.mark.parametrize("section, field", CASES, ids=[f"{s}.{f}" for s, f in CASES])
def test_a_typo_of_every_run_config_key_suggests_it(section: str, field: str) -> None:
    for typo in _typos(field):
        if typo in SECTION_MODELS[section].model_fields:
            continue
        with pytest.raises(ValidationError) as exc:
            RunConfig.model_validate({"model": {"path": "x"}, section: {typo: 1}})
        (problem,) = [
            p for p in problems_from_validation_error(exc.value, None, model=RunConfig) if p.path[-1] == typo
        ]
        assert problem.code == "VD606"
        assert problem.fix is not None and problem.fix.startswith(f"did you mean `{field}`?"), (
            typo,
            problem.fix,
        )


def _plugin_models() -> list[tuple[str, type[BaseModel]]]:
    from vlmdata.train.registry import get_plugin

    out = []
    for name in ("gkd", "grpo"):
        model = get_plugin(name).config_model
        assert model is not None
        out.append((name, model))
    return out


def test_a_typo_of_every_plugin_section_key_suggests_it() -> None:
    checked = 0
    for _, model in _plugin_models():
        for field in _fields(model):
            for typo in _typos(field):
                if typo in model.model_fields or closest(typo, model.model_fields) != field:
                    # two valid keys equally close to this typo (e.g. sibling names): any of them is fine
                    assert closest(typo, model.model_fields) in model.model_fields
                    continue
                with pytest.raises(ValidationError) as exc:
                    model.model_validate({typo: 1})
                found = problems_from_validation_error(exc.value, None, prefix=("rlhf",), model=model)
                (problem,) = [p for p in found if p.path == ("rlhf", typo)]
                assert problem.fix is not None and problem.fix.startswith(f"did you mean `{field}`?")
                checked += 1
    assert checked > 20


def test_nested_keys_follow_the_models() -> None:
    from vlmdata.augment.config import AugmentationConfig

    assert model_keys_at(AugmentationConfig, ("ops", 3)) == ["name", "params"]
    assert "teacher_model" not in (model_keys_at(RunConfig, ("model",)) or [])
    assert model_keys_at(RunConfig, ("global_max_length",)) is None  # a scalar has no keys below it


def _w(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_files_name_the_key_the_layer_and_the_suggestion(tmp_path: Path) -> None:
    from vlmdata.config import load_run_config

    _w(tmp_path / "base.yaml", "tuner: {lora_rnak: 8}\n")
    run = _w(
        tmp_path / "run.yaml",
        """
        extend: base.yaml
        model: {path: m, dtpye: bf16}
        data: {train: d}
        """,
    )
    with pytest.raises(VlmdataError) as exc:
        load_run_config(run, check_paths=False)
    lines = exc.value.details
    assert any("model.dtpye" in x and "did you mean `dtype`" in x for x in lines), lines
    assert any(x.startswith("VD606") and ": extend:" in x and "did you mean `extends`" in x for x in lines), (
        lines
    )
    # the base layer is not read (its `extends` was misspelt), so its typo is not reported yet
    run.write_text(run.read_text().replace("extend:", "extends:"), encoding="utf-8")
    with pytest.raises(VlmdataError) as exc:
        load_run_config(run, check_paths=False)
    assert any(
        "base.yaml" in x and "tuner.lora_rnak" in x and "did you mean `lora_rank`" in x
        for x in exc.value.details
    )


def test_fusion_and_augmentation_configs_suggest_too(tmp_path: Path) -> None:
    from vlmdata.augment.config import parse_augmentation_config
    from vlmdata.fuse import load_fusion_config

    fusion = _w(
        tmp_path / "f.yaml",
        """
        seed: 0
        targets: [{name: a, dataset: a, ratoi: 1.0}]
        """,
    )
    with pytest.raises(VlmdataError) as exc:
        load_fusion_config(fusion, check_paths=False)
    lines = exc.value.details
    assert any("targets[0].ratoi" in x and "did you mean `ratio`" in x for x in lines), lines
    assert any("targets[0].dataset" in x and "did you mean `data`" in x for x in lines), lines
    with pytest.raises(VlmdataError) as exc:
        parse_augmentation_config({"ops": [{"name": "rotat", "params": {"angel_range": [1, 2]}}], "sed": 1})
    text = "\n".join(exc.value.details)
    assert "did you mean 'rotate'" in text and "did you mean 'seed'" in text


@pytest.mark.parametrize(
    "word, choices, want",
    [
        ("dtpye", ["dtype", "path"], "dtype"),
        ("LEARNING_RATE", ["learning_rate"], "learning_rate"),
        ("learning-rate", ["learning_rate"], "learning_rate"),
        ("zzzz", ["dtype", "path"], None),
        ("", ["dtype"], None),
        ("x" * 5000, ["dtype"], None),
        ("训练", ["training"], None),
    ],
)
def test_closest_edges(word: str, choices: list[str], want: Any) -> None:
    assert closest(word, choices) == want


def test_a_typo_of_every_template_file_key_suggests_it(tmp_path: Path) -> None:
    from vlmdata.render.user import TemplateFile, load_template_file

    checked = 0
    for field in _fields(TemplateFile):
        for typo in _typos(field):
            if typo in TemplateFile.model_fields or closest(typo, TemplateFile.model_fields) != field:
                continue
            path = tmp_path / f"{typo}.yaml"
            path.write_text(f"name: t\nuser: hi\n{typo}: 1\n", encoding="utf-8")
            with pytest.raises(VlmdataError) as exc:
                load_template_file(path)
            assert any(
                f": {typo}: unknown key" in x and f"did you mean `{field}`" in x for x in exc.value.details
            )
            checked += 1
    assert checked >= 8
