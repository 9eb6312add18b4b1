"""`load_train_config`: a run config checked for training — the config's own rules plus those of the areas
training brings together, every problem reported at once.

`vlmdata.config` reads and checks the run YAML itself (`check_run_config`); this module adds, to the same list
of problems with the same files and key paths:
- the trainer plugin: `plugin` names an installed plugin, `rlhf` validates against its `config_model` (its
  `path_fields` resolved against the file that set them and, with `check_paths`, required to exist);
- the `augmentation` section, validated by the augment area's `AugmentationConfig` (the schema `vlmdata
  augment` reads);
- the fusion config named by `data.fusion`, loaded by the fusion area's own loader;
- the plugin's own cross-section `validate(config)` and the best-checkpoint metric against what the plugin
  logs, run last and only on an otherwise clean config (a plugin that raises is named as the culprit).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from vlmdata.config import run_codes as rc
from vlmdata.config.checks import problem
from vlmdata.config.load import RunCheck, check_run_config, layered_source
from vlmdata.config.paths import missing_path_problem, resolve_model_path, resolve_path
from vlmdata.config.run import RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.layered import ConfigProblem, Layered, problems_from_validation_error, raise_problems
from vlmdata.train import codes


def load_train_config(
    source: str | Path | Mapping[str, Any],
    base: str | Path | None = None,
    plugin: str | None = None,
    *,
    check_paths: bool = True,
) -> RunConfig:
    """Load a run config for training; `plugin` overrides its `plugin:` key (the `--plugin` flag)."""
    checked = check_run_config(
        layered_source(source, base),
        plugin=plugin,
        check_paths=check_paths,
        top_file=None if isinstance(source, Mapping) else Path(source),
    )
    problems = checked.problems + train_problems(checked, check_paths=check_paths)
    raise_problems(problems, what="run config")
    assert checked.config is not None
    return checked.config


def train_problems(checked: RunCheck, *, check_paths: bool = True) -> list[ConfigProblem]:
    """The training-layer problems of a checked run config; fills `config.rlhf` / `config.augmentation` with
    their validated models."""
    layered, config = checked.layered, checked.config
    problems: list[ConfigProblem] = []
    trainer, rlhf = _plugin_section(layered, checked, problems)
    augmentation = _augmentation_section(layered, checked, problems)
    if config is None:
        return problems
    if rlhf is not None:
        config.rlhf = rlhf
    if augmentation is not None:
        config.augmentation = augmentation
    if check_paths:
        if trainer is not None and isinstance(config.rlhf, BaseModel):
            for key in trainer.path_fields:
                value = getattr(config.rlhf, key)
                if isinstance(value, str) and not Path(value).exists():
                    problems.append(missing_path_problem(layered, ("rlhf", key), value))
        if config.data.fusion is not None and Path(config.data.fusion).is_file():
            problems += _fusion_problems(config.data.fusion, layered)
    if trainer is not None and not checked.problems and not problems:
        problems += _plugin_validate(trainer, config, layered)
    return problems


def _plugin_section(
    layered: Layered, checked: RunCheck, problems: list[ConfigProblem]
) -> tuple[Any, BaseModel | None]:
    from vlmdata.train.registry import get_plugin

    name = layered.data.get("plugin", "sft")
    if not isinstance(name, str):
        return None, None
    try:
        trainer = get_plugin(name)
    except VlmdataError as exc:
        problems.append(
            ConfigProblem(
                ("plugin",),
                exc.message + (f" ({exc.hint})" if exc.hint else ""),
                layered.origin_of(("plugin",)),
                None,
                exc.code_str,
            )
        )
        return None, None
    raw = layered.data.get("rlhf")
    model = trainer.config_model
    if model is None:
        if raw is not None:
            problems.append(
                problem(layered, ("rlhf",), f"plugin {name!r} takes no `rlhf` section", rc.PLUGIN_SECTION)
            )
        return trainer, None
    section = dict(raw) if isinstance(raw, dict) else ({} if raw is None else raw)
    if isinstance(section, dict):
        for key in trainer.path_fields:
            resolve = (
                resolve_model_path if "model" in key else resolve_path
            )  # a teacher: a folder or a hub id
            section[key] = resolve(section.get(key), ("rlhf", key), layered)
    try:
        return trainer, model.model_validate(section)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, prefix=("rlhf",), model=model)
        problems.extend(p for p in found if not checked.is_silenced(p.path))
        return trainer, None


def _augmentation_section(
    layered: Layered, checked: RunCheck, problems: list[ConfigProblem]
) -> BaseModel | None:
    raw = layered.data.get("augmentation")
    if raw is None:
        return None
    from vlmdata.augment.config import AugmentationConfig

    try:
        return AugmentationConfig.model_validate(raw)
    except ValidationError as exc:
        found = problems_from_validation_error(
            exc, layered, prefix=("augmentation",), model=AugmentationConfig
        )
        problems.extend(p for p in found if not checked.is_silenced(p.path))
        return None


def _plugin_validate(trainer: Any, config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    """The plugin's cross-section checks (their file filled in from the key path when the plugin left it
    out); a plugin that raises instead of returning problems is named."""
    try:
        found = list(trainer.validate(config))
        found += _best_checkpoint_problems(trainer, config, layered)
        for p in found:
            if p.file is None and p.path:
                p.file = layered.origin_of(p.path)
        return found
    except VlmdataError as exc:
        return [ConfigProblem((), str(exc).splitlines()[0], None, exc.hint, exc.code_str)]
    except Exception as exc:  # a plugin bug: report it as such, with the plugin's name
        message = f"plugin {trainer.name!r} failed in validate(): {type(exc).__name__}: {exc}"
        return [ConfigProblem((), message, None, None, codes.PLAN_FAILED.code)]


def _best_checkpoint_problems(trainer: Any, config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    """The best-checkpoint metric against what the plugin logs and the run's evaluation data."""
    from vlmdata.train.best import best_model_problems
    from vlmdata.train.dataset import has_val_data

    return [
        problem(layered, path, message, rc.BEST_CHECKPOINT, fix)
        for path, message, fix in best_model_problems(trainer, config, has_val_data(config))
    ]


def _fusion_problems(path: str, layered: Layered) -> list[ConfigProblem]:
    from vlmdata.fuse import load_fusion_config

    try:
        load_fusion_config(path)
    except VlmdataError as exc:
        lines = exc.details or [str(exc).splitlines()[0]]
        return [
            problem(layered, ("data", "fusion"), f"fusion config: {line}", rc.DATA_SOURCES) for line in lines
        ]
    return []
