"""`load_run_config`: layered YAML → one validated `RunConfig`, or every problem at once.

Order of work, all before any model loads:
1. merge the layers (`--base-config`, the `extends` chain, the file) with per-key file origins;
2. scan the raw mapping for removed knobs (packing, `max_length`/`truncation_strategy`, hard-sample mining)
   and for ms-swift command-line keys written where vlmdata expects a section (`lora_rank` at the top level,
   `dataset:`, `model.model`, `torch_dtype`), each reported with what replaced it;
3. resolve relative paths against the directory of the file that set them (the same rule as `extends`), and
   load and register the template files it lists (`templates`) or names (`template.name` as a path);
4. validate with pydantic (all field errors of all sections together), then the semantic checks of each
   section that validated on its own, the cross-section checks, the plugin's `rlhf` section with its
   `config_model`, the plugin's own `validate`, the augmentation section, and (optionally) that input
   paths exist.
Every problem carries its file, key path and a fix; they are raised together as one `VlmdataError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from vlmdata.config import run_codes as rc
from vlmdata.config.checks import cross_checks, problem, section_checks
from vlmdata.config.layers import (
    ConfigProblem,
    KeyPath,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)
from vlmdata.config.run import DEEPSPEED_PRESETS, SECTION_MODELS, RunConfig
from vlmdata.errors import VlmdataError

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
DATASET_MARKERS = ("state.json", "dataset_info.json")
INPUT_PATHS: tuple[KeyPath, ...] = (
    ("model", "path"),
    ("data", "fusion"),
    ("training", "resume_from_checkpoint"),
    ("training", "init_from_checkpoint"),
    ("training", "output_dir"),
)


def load_run_config(
    path: str | Path,
    base: str | Path | None = None,
    plugin: str | None = None,
    *,
    check_paths: bool = True,
) -> RunConfig:
    """Load, merge and validate a run config; `plugin` overrides its `plugin:` key (the `--plugin` flag)."""
    layered = load_layered(path, base=base)
    config, problems = validate_run_config(
        layered, plugin=plugin, check_paths=check_paths, top_file=Path(path)
    )
    raise_problems(problems, what="run config")
    assert config is not None
    return config


def validate_run_config(
    layered: Layered, *, plugin: str | None = None, check_paths: bool = True, top_file: Path | None = None
) -> tuple[RunConfig | None, list[ConfigProblem]]:
    data = layered.data
    if plugin is not None:
        data["plugin"] = plugin
        layered.origins[("plugin",)] = "--plugin"
    problems, silenced = _removed_and_backend_keys(data, layered)
    _resolve_paths(data, layered)
    problems += _template_files(layered)
    training = data.setdefault("training", {})
    if top_file is not None and isinstance(training, dict) and training.get("output_dir") is None:
        training["output_dir"] = str((Path.cwd() / "runs" / top_file.stem).resolve())
    raw_rlhf = data.get("rlhf")
    config: RunConfig | None = None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, model=RunConfig)
        problems += [_with_fix(p, layered) for p in found if not _silenced(p.path, silenced)]
    sections = _sections(config, data)
    problems += section_checks(sections, layered)
    trainer = _plugin_problems(data.get("plugin", "sft"), raw_rlhf, layered, problems, silenced)
    if config is not None:
        config._files = list(layered.files)
        problems += cross_checks(config, layered)
        if trainer is not None and trainer[1] is not None:
            config.rlhf = trainer[1]
        if check_paths:
            problems += _missing_paths(config, layered, trainer[0] if trainer else None)
        if trainer is not None and not problems:
            problems += _plugin_validate(trainer[0], config, layered)
    return (config if not problems else None), problems


def load_template_section(path: str | Path) -> Any:
    """Only the `template` section of a run config (and its `templates` files, registered) — for tools that
    render conversations (export, infer, eval) without needing the model, the data or the plugins."""
    from vlmdata.config.run import TemplateConfig

    file = Path(path)
    if not file.is_file():
        raise VlmdataError(
            rc.PATH_MISSING,
            f"config not found: {file}",
            hint="pass the run YAML (the one `vlmdata train` takes)",
        )
    layered = load_layered(file)
    problems = _template_files(layered)
    cfg = None
    try:
        cfg = TemplateConfig.model_validate(layered.data.get("template") or {})
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, layered, ("template",), model=TemplateConfig)
    raise_problems(problems, what="run config")
    return cfg


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


def _plugin_validate(trainer: Any, config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    """The plugin's cross-section checks (their file filled in from the key path when the plugin left it
    out); a plugin that raises instead of returning problems is named."""
    from vlmdata.train import codes as train_codes

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
        return [ConfigProblem((), message, None, None, train_codes.PLAN_FAILED.code)]


def _best_checkpoint_problems(trainer: Any, config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    """The best-checkpoint metric against what the plugin logs and the run's evaluation data."""
    from vlmdata.train.best import best_model_problems
    from vlmdata.train.dataset import has_val_data

    return [
        problem(layered, path, message, rc.BEST_CHECKPOINT, fix)
        for path, message, fix in best_model_problems(trainer, config, has_val_data(config))
    ]


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


def _resolve_one(value: Any, path: KeyPath, layered: Layered) -> Any:
    if not isinstance(value, str) or not value or Path(value).is_absolute():
        return value
    origin = layered.origin_of(path)
    if origin is None or origin.startswith("--"):
        return str(Path(value).resolve())
    return str((Path(origin).parent / value).resolve())


def _resolve_model(value: Any, path: KeyPath, layered: Layered) -> Any:
    """A model reference: a path (relative to the file that set it), or a hub id found in the local cache
    (its snapshot folder; the id is kept in `layered.notes`). An uncached id stays as written and is
    reported by the path checks with its download command."""
    from vlmdata.io.model_ref import ModelNotCached, looks_like_hub_id, resolve_model_ref

    resolved = _resolve_one(value, path, layered)
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
            resolve = _resolve_model if path == ("model", "path") else _resolve_one
            section[path[1]] = resolve(section[path[1]], path, layered)
    data_section = data.get("data")
    if isinstance(data_section, dict):
        for split in ("train", "val"):
            value = data_section.get(split)
            if isinstance(value, str):
                data_section[split] = _resolve_one(value, ("data", split), layered)
            elif isinstance(value, list):
                data_section[split] = [
                    _resolve_one(v, ("data", split, i), layered) for i, v in enumerate(value)
                ]
    ds = data.get("deepspeed")
    if isinstance(ds, str) and ds not in DEEPSPEED_PRESETS:
        data["deepspeed"] = _resolve_one(ds, ("deepspeed",), layered)


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


def _plugin_problems(
    name: Any, raw_rlhf: Any, layered: Layered, problems: list[ConfigProblem], silenced: list[KeyPath]
) -> tuple[Any, BaseModel | None] | None:
    from vlmdata.train.registry import get_plugin

    if not isinstance(name, str):
        return None
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
        return None
    model = trainer.config_model
    if model is None:
        if raw_rlhf is not None:
            problems.append(
                problem(layered, ("rlhf",), f"plugin {name!r} takes no `rlhf` section", rc.PLUGIN_SECTION)
            )
        return trainer, None
    section = dict(raw_rlhf) if isinstance(raw_rlhf, dict) else raw_rlhf
    if section is None:
        section = {}
    if isinstance(section, dict):
        for key in trainer.path_fields:
            resolve = _resolve_model if "model" in key else _resolve_one  # a teacher: a folder or a hub id
            section[key] = resolve(section.get(key), ("rlhf", key), layered)
    try:
        return trainer, model.model_validate(section)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, prefix=("rlhf",), model=model)
        problems.extend(p for p in found if not _silenced(p.path, silenced))
        return trainer, None


def _missing_paths(config: RunConfig, layered: Layered, trainer: Any) -> list[ConfigProblem]:
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
    if trainer is not None and isinstance(config.rlhf, BaseModel):
        checks += [(("rlhf", key), getattr(config.rlhf, key)) for key in trainer.path_fields]
    problems = []
    for path, value in checks:
        if isinstance(value, str) and not Path(value).exists():
            problems.append(_missing(layered, path, value))
    problems += _shape_problems(config, layered)
    if config.data.fusion is not None and Path(config.data.fusion).is_file():
        problems += _fusion_problems(config.data.fusion, layered)
    return problems


def _missing(layered: Layered, path: KeyPath, value: str) -> ConfigProblem:
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
        folder = Path(value)
        if not folder.is_dir() or any((folder / name).is_file() for name in DATASET_MARKERS):
            continue
        inner = [c.name for c in sorted(folder.iterdir()) if any((c / n).is_file() for n in DATASET_MARKERS)]
        fix = (
            f"did you mean {folder / inner[0]}? (`vlmdata validate --out DIR` writes DIR/data and DIR/val)"
            if inner
            else "point at a dataset folder written by `vlmdata validate`, `fuse` or `augment`"
        )
        problems.append(
            problem(
                layered, ("data", split, i), f"not an Arrow dataset folder: {folder}", rc.PATH_MISSING, fix
            )
        )
    return problems


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
