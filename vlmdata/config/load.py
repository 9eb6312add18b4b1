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
the same list: this package imports nothing above it. Commands that need only some sections (the audit needs
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
from vlmdata.config.checks import cross_checks, problem, section_checks, template_problems
from vlmdata.config.run import DEEPSPEED_PRESETS, SECTION_MODELS, RunConfig, Section
from vlmdata.errors import VlmdataError, unknown_key_fix
from vlmdata.io import yaml_codes as codes
from vlmdata.io.dataset import is_jsonl_name, locate_dataset
from vlmdata.io.layered import (
    ConfigProblem,
    KeyPath,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)

PACKING_KEYS = (
    "packing",
    "padding_free",
    "packing_cache",
    "packing_length",
    "packing_num_proc",
    "streaming_packing",
)
PACKING_FIX = "packing is not supported: batches are padded and length-grouped (`training.group_by_length` uses the audited `length` column); delete the key"
LENGTH_KEYS = ("max_length", "truncation_strategy", "max_model_len", "model_max_length")
LENGTH_FIX = "use global_max_length; over-length records are reported by `vlmdata audit`, never truncated"
MINING_FIX = "hard-sample mining was removed; to weight difficult data, give it its own fusion source with a quota (`data.fusion`)"
BACKEND_KEYS = {
    "dataset": "data.train (an Arrow dataset folder; no placeholder dataset is ever needed)",
    "val_dataset": "data.val",
    "torch_dtype": "model.dtype",
    "model_type": "nothing: the model type is read from model.path",
}
MODEL_PATH_ALIASES = ("model", "model_id_or_path", "model_name_or_path")
INPUT_PATHS: tuple[KeyPath, ...] = (
    ("model", "path"),
    ("data", "fusion"),
    ("training", "resume_from_checkpoint"),
    ("training", "init_from_checkpoint"),
    ("training", "output_dir"),
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
    problems, silenced = _removed_and_backend_keys(data, layered)
    _resolve_paths(data, layered)
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
            problems += _missing_paths(config, layered)
    return RunCheck(layered, config, problems, silenced)


def load_run_sections(source: ConfigSource, names: Sequence[str], *, base: str | Path | None = None) -> Any:
    """Only the named top-level sections of a run config, validated by `RunConfig`'s own field definitions
    (removed knobs, backend keys, file-relative paths, template files and unknown top-level keys handled as by
    `load_run_config`); the other sections are not required. With `template`, the template files the config
    lists or names are registered (and `templates` is read too). Returns an object with one attribute per
    name."""
    layered = layered_source(source, base)
    data = layered.data
    problems, silenced = _removed_and_backend_keys(data, layered)
    _resolve_paths(data, layered)
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


def _silenced(path: KeyPath, silenced: list[KeyPath]) -> bool:
    return any(path[: len(s)] == s or s[: len(path)] == path for s in silenced)


def _removed_and_backend_keys(
    data: dict[str, Any], layered: Layered
) -> tuple[list[ConfigProblem], list[KeyPath]]:
    problems: list[ConfigProblem] = []
    silenced: list[KeyPath] = []

    def walk(node: Any, path: KeyPath) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = (*path, key)
            if key in PACKING_KEYS:
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, PACKING_FIX))
                silenced.append(here)
            elif key in LENGTH_KEYS:
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, LENGTH_FIX))
                silenced.append(here)
            elif key == "hard_sample_mining":
                problems.append(problem(layered, here, "removed knob", rc.REMOVED_KNOB, MINING_FIX))
                silenced.append(here)
            elif key in BACKEND_KEYS:
                problems.append(
                    problem(layered, here, "ms-swift argument", rc.BACKEND_KEY, f"use {BACKEND_KEYS[key]}")
                )
                silenced.append(here)
            elif key != "augmentation":
                walk(value, here)

    walk(data, ())
    custom = data.get("custom")
    if isinstance(custom, dict) and set(custom) <= {"hard_sample_mining"}:
        silenced.append(("custom",))
    model = data.get("model")
    if isinstance(model, str):
        problems.append(
            problem(
                layered,
                ("model",),
                "`model` is a section, not a path",
                rc.BACKEND_KEY,
                f"write `model: {{path: {model}}}`",
            )
        )
        silenced.append(("model",))
    elif isinstance(model, dict):
        for alias in MODEL_PATH_ALIASES:
            if alias in model:
                problems.append(
                    problem(layered, ("model", alias), "ms-swift argument", rc.BACKEND_KEY, "use model.path")
                )
                silenced.append(("model", alias))
                if "path" not in model:
                    silenced.append(("model", "path"))
    for key in list(data):
        if key in SECTION_MODELS or key in RunConfig.model_fields:
            continue
        section = next((s for s, m in SECTION_MODELS.items() if key in m.model_fields), None)
        if section is not None and (key,) not in silenced:
            problems.append(
                problem(
                    layered,
                    (key,),
                    "ms-swift argument at the top level",
                    rc.BACKEND_KEY,
                    f"put it under `{section}.{key}`",
                )
            )
            silenced.append((key,))
    return problems, silenced


def resolve_path(value: Any, path: KeyPath, layered: Layered) -> Any:
    """A relative path string resolved against the folder of the file that set `path` (else the cwd)."""
    if not isinstance(value, str) or not value or Path(value).is_absolute():
        return value
    origin = layered.origin_of(path)
    if origin is None or origin.startswith("--"):
        return str(Path(value).resolve())
    return str((Path(origin).parent / value).resolve())


def resolve_model_path(value: Any, path: KeyPath, layered: Layered) -> Any:
    """A model reference: a path (relative to the file that set it), or a hub id found in the local cache
    (its snapshot folder; the id is kept in `layered.notes`). An uncached id stays as written and is
    reported by the path checks with its download command."""
    from vlmdata.io.model_ref import ModelNotCached, looks_like_hub_id, resolve_model_ref

    resolved = resolve_path(value, path, layered)
    if not isinstance(value, str) or Path(resolved).exists() or not looks_like_hub_id(value):
        return resolved
    try:
        ref = resolve_model_ref(value)
    except (ModelNotCached, FileNotFoundError):
        return value
    layered.notes[path] = f"{ref.source} cache: {value}"
    return ref.path


def _resolve_paths(data: dict[str, Any], layered: Layered) -> None:
    for path in INPUT_PATHS:
        section = data.get(path[0])
        if isinstance(section, dict) and path[1] in section:
            resolve = resolve_model_path if path == ("model", "path") else resolve_path
            section[path[1]] = resolve(section[path[1]], path, layered)
    data_section = data.get("data")
    if isinstance(data_section, dict):
        for split in ("train", "val"):
            value = data_section.get(split)
            if isinstance(value, str):
                data_section[split] = resolve_path(value, ("data", split), layered)
            elif isinstance(value, list):
                data_section[split] = [
                    resolve_path(v, ("data", split, i), layered) for i, v in enumerate(value)
                ]
    ds = data.get("deepspeed")
    if isinstance(ds, str) and ds not in DEEPSPEED_PRESETS:
        data["deepspeed"] = resolve_path(ds, ("deepspeed",), layered)


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


def _missing_paths(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    checks: list[tuple[KeyPath, str | None]] = [
        (("model", "path"), config.model.path),
        (("data", "fusion"), config.data.fusion),
        (("training", "resume_from_checkpoint"), config.training.resume_from_checkpoint),
        (("training", "init_from_checkpoint"), config.training.init_from_checkpoint),
    ]
    checks += [(("data", "train", i), p) for i, p in enumerate(config.data.train)]
    checks += [(("data", "val", i), p) for i, p in enumerate(config.data.val)]
    if config.deepspeed is not None and config.deepspeed not in DEEPSPEED_PRESETS:
        checks.append((("deepspeed",), config.deepspeed))
    problems = []
    for path, value in checks:
        if isinstance(value, str) and not Path(value).exists():
            problems.append(missing_path_problem(layered, path, value))
    problems += _shape_problems(config, layered)
    return problems


def missing_path_problem(layered: Layered, path: KeyPath, value: str) -> ConfigProblem:
    from vlmdata.io.model_ref import ModelNotCached, download_commands, looks_like_hub_id

    is_model = path == ("model", "path") or (path[0] == "rlhf" and "model" in str(path[-1]))
    if is_model and looks_like_hub_id(value):
        err = ModelNotCached(value, download_commands(value))
        return problem(layered, path, str(err), rc.MODEL_NOT_CACHED, err.fix)
    return problem(layered, path, f"no such file or folder: {value}", rc.PATH_MISSING)


def _shape_problems(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    """Existing paths of the wrong kind: a model folder without config.json, a folder that is no dataset."""
    problems = []
    model = Path(config.model.path)
    if model.is_dir() and not (model / "config.json").is_file():
        problems.append(
            problem(
                layered, ("model", "path"), f"not a model folder (no config.json): {model}", rc.PATH_MISSING
            )
        )
    splits = [("train", i, p) for i, p in enumerate(config.data.train)]
    splits += [("val", i, p) for i, p in enumerate(config.data.val)]
    for split, i, value in splits:
        # the one opener's rule (vlmdata.io.dataset): a dataset folder, a validate/fuse/augment output folder
        # (its data/ or, for data.val, its val/), or a JSONL file validated when the run opens it
        if not Path(value).exists() or is_jsonl_name(value):
            continue
        try:
            locate_dataset(value, "data" if split == "train" else "val")
        except VlmdataError as exc:
            problems.append(problem(layered, ("data", split, i), exc.message, rc.PATH_MISSING, exc.hint))
    return problems
