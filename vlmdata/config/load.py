"""`load_run_config`: layered YAML → one validated `RunConfig`, or every problem at once.

This is the one reader of a run config; every command that takes one goes through it. Order of work, all
before any model loads:
1. merge the layers (`--base-config`, the `extends` chain, the file) with per-key file origins;
2. scan the raw mapping for removed knobs (packing, `max_length`/`truncation_strategy`, hard-sample mining)
   and for ms-swift command-line keys written where vlmdata expects a section (`lora_rank` at the top level,
   `dataset:`, `model.model`, `torch_dtype`), each reported with what replaced it;
3. resolve relative paths against the directory of the file that set them (the same rule as `extends`), and
   load and register the template files it lists (`templates`) or names (`template.name` as a path);
4. validate with pydantic (all field errors of all sections together), then the semantic checks of each
   section that validated on its own, the cross-section checks and (optionally) that input paths exist.
Every problem carries its file, key path and a fix; they are raised together as one `VlmdataError`.

The trainer plugin's own section (`rlhf`) and the fusion config a run names are checked by the training
layer (`vlmdata.train.config.load_train_config`), which calls `check_run_config` and adds its problems to
the same list: this package imports nothing above it. The raw-mapping scan lives in `vlmdata.config.removed`,
path resolution and the path checks in `vlmdata.config.paths`. Commands that need only some sections (the audit needs
`model`, `template` and `global_max_length`; export only `template`) read them with `load_run_sections`,
through the same steps and the same field definitions.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from vlmdata.config import run_codes as rc
from vlmdata.config.checks import cross_checks, section_checks, template_problems
from vlmdata.config.paths import missing_paths, resolve_paths
from vlmdata.config.removed import is_silenced as _silenced
from vlmdata.config.removed import removed_and_backend_keys
from vlmdata.config.run import SECTION_MODELS, RunConfig, Section
from vlmdata.errors import VlmdataError, unknown_key_fix
from vlmdata.io import yaml_codes as codes
from vlmdata.io.layered import (
    ConfigProblem,
    KeyPath,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)

ConfigSource = str | Path | Mapping[str, Any]


@dataclass
class RunCheck:
    """What `check_run_config` found: the config (None when its fields do not validate), every problem, and
    the key paths whose own errors are silenced because a removed-knob or backend-key problem covers them."""

    layered: Layered
    config: RunConfig | None
    problems: list[ConfigProblem] = field(default_factory=list)
    silenced: list[KeyPath] = field(default_factory=list)

    def is_silenced(self, path: KeyPath) -> bool:
        return _silenced(path, self.silenced)


def layered_source(source: ConfigSource, base: str | Path | None = None) -> Layered:
    """A YAML file (with its `extends` chain and an optional base layer) or an in-memory mapping (whose
    relative paths resolve against the working directory)."""
    if isinstance(source, Mapping):
        if base is not None:
            raise ValueError("a base layer applies to config files, not to in-memory mappings")
        return Layered(data=copy.deepcopy(dict(source)))
    return load_layered(source, base=base)


def load_run_config(
    source: ConfigSource,
    base: str | Path | None = None,
    plugin: str | None = None,
    *,
    check_paths: bool = True,
) -> RunConfig:
    """Load, merge and validate a run config; `plugin` overrides its `plugin:` key (the `--plugin` flag).

    The plugin's `rlhf` section stays raw data here; `vlmdata.train.config.load_train_config` validates it.
    """
    checked = check_run_config(
        layered_source(source, base),
        plugin=plugin,
        check_paths=check_paths,
        top_file=None if isinstance(source, Mapping) else Path(source),
    )
    raise_problems(checked.problems, what="run config")
    assert checked.config is not None
    return checked.config


def check_run_config(
    layered: Layered, *, plugin: str | None = None, check_paths: bool = True, top_file: Path | None = None
) -> RunCheck:
    data = layered.data
    if plugin is not None:
        data["plugin"] = plugin
        layered.set_origin(("plugin",), "--plugin")
    problems, silenced = removed_and_backend_keys(data, layered)
    resolve_paths(data, layered)
    problems += _template_files(layered)
    training = data.setdefault("training", {})
    if top_file is not None and isinstance(training, dict) and training.get("output_dir") is None:
        training["output_dir"] = str((Path.cwd() / "runs" / top_file.stem).resolve())
    config: RunConfig | None = None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, model=RunConfig)
        problems += [_with_fix(p, layered) for p in found if not _silenced(p.path, silenced)]
    sections = _sections(config, data)
    problems += section_checks(sections, layered)
    if config is not None:
        config._files = list(layered.files)
        problems += cross_checks(config, layered)
        if check_paths:
            problems += missing_paths(config, layered)
    return RunCheck(layered, config, problems, silenced)


def load_run_sections(source: ConfigSource, names: Sequence[str], *, base: str | Path | None = None) -> Any:
    """Only the named top-level sections of a run config, validated by `RunConfig`'s own field definitions
    (removed knobs, backend keys, file-relative paths, template files and unknown top-level keys handled as by
    `load_run_config`); the other sections are not required. With `template`, the template files the config
    lists or names are registered (and `templates` is read too). Returns an object with one attribute per
    name."""
    layered = layered_source(source, base)
    data = layered.data
    problems, silenced = removed_and_backend_keys(data, layered)
    resolve_paths(data, layered)
    if "template" in names:
        problems += _template_files(layered)
        names = tuple(names) if "templates" in names else (*names, "templates")
    for key in data:
        if key not in RunConfig.model_fields and not _silenced((key,), silenced):
            problems.append(
                ConfigProblem(
                    (key,),
                    "unknown key",
                    layered.origin_of((key,)),
                    unknown_key_fix(str(key), [*RunConfig.model_fields, "extends"]),
                    codes.UNKNOWN_CONFIG_KEY.code,
                )
            )
    model = _sections_model(tuple(names))
    view = None
    try:
        view = model.model_validate({k: data[k] for k in names if k in data})
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, model=model)
        problems += [_with_fix(p, layered) for p in found if not _silenced(p.path, silenced)]
    if view is not None and "template" in names:
        problems += template_problems(view, layered)
    raise_problems(problems, what="run config")
    return view


@functools.cache
def _sections_model(names: tuple[str, ...]) -> type[BaseModel]:
    unknown = [n for n in names if n not in RunConfig.model_fields]
    if unknown:
        raise ValueError(f"not run config sections: {unknown}")
    fields: dict[str, Any] = {
        n: (RunConfig.model_fields[n].annotation, RunConfig.model_fields[n]) for n in names
    }
    return create_model("RunSections", __base__=Section, **fields)


def load_template_section(path: str | Path) -> Any:
    """Only the `template` section of a run config (and its `templates` files, registered) — for tools that
    render conversations (export, infer, eval) without needing the model, the data or the plugins."""
    file = Path(path)
    if not file.is_file():
        raise VlmdataError(
            rc.PATH_MISSING,
            f"config not found: {file}",
            hint="pass the run YAML (the one `vlmdata train` takes)",
        )
    return load_run_sections(file, ("template",)).template


def _template_files(layered: Layered) -> list[ConfigProblem]:
    """Register the template files the config lists (`templates`) or names (`template.name` as a path)."""
    from vlmdata.render.user import config_templates

    return config_templates(layered, ("templates",), [("template", "name")])


REQUIRED_FIXES = {
    (
        "model",
        "path",
    ): "add `model.path`: the local model folder (a Qwen3-VL checkpoint or `vlmdata tiny-model` output)",
    ("model",): "add a `model:` section with at least `path`",
}


def _with_fix(p: ConfigProblem, layered: Layered) -> ConfigProblem:
    """A missing key is added in the run file itself (the top layer), whichever base opened its section."""
    if p.fix is None and p.message.startswith("Field required"):
        p.file = layered.files[-1] if layered.files else p.file
        p.fix = REQUIRED_FIXES.get(
            tuple(p.path), "add this key; presets leave model and data to the run file"
        )
    return p


def _sections(config: RunConfig | None, data: dict[str, Any]) -> dict[str, Any]:
    if config is not None:
        return {name: getattr(config, name) for name in SECTION_MODELS}
    out = {}
    for name, model in SECTION_MODELS.items():
        try:
            out[name] = model.model_validate(data.get(name) or {})
        except ValidationError:
            continue
    return out
