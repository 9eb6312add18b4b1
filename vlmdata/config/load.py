"""`load_run_config`: layered YAML → one validated `RunConfig`, or every problem at once.

Order of work, all before any model loads:
1. merge the layers (`--base-config`, the `extends` chain, the file) with per-key file origins;
2. scan the raw mapping for removed knobs (packing, `max_length`/`truncation_strategy`, hard-sample mining)
   and for ms-swift command-line keys written where vlmdata expects a section (`lora_rank` at the top level,
   `dataset:`, `model.model`, `torch_dtype`), each reported with what replaced it;
3. resolve relative paths against the directory of the file that set them (the same rule as `extends`);
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
from vlmdata.config.layers import (
    ConfigProblem,
    KeyPath,
    Layered,
    load_layered,
    problems_from_validation_error,
    raise_problems,
)
from vlmdata.config.run import DEEPSPEED_PRESETS, SCHEDULERS_WITH_FLOOR, SECTION_MODELS, RunConfig
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
INPUT_PATHS: tuple[KeyPath, ...] = (
    ("model", "path"),
    ("data", "fusion"),
    ("training", "resume_from_checkpoint"),
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
    training = data.setdefault("training", {})
    if top_file is not None and isinstance(training, dict) and training.get("output_dir") is None:
        training["output_dir"] = str((Path.cwd() / "runs" / top_file.stem).resolve())
    raw_rlhf = data.get("rlhf")
    config: RunConfig | None = None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        problems += [
            p for p in problems_from_validation_error(exc, layered) if not _silenced(p.path, silenced)
        ]
    sections = _sections(config, data)
    problems += _section_checks(sections, layered)
    trainer = _plugin_problems(data.get("plugin", "sft"), raw_rlhf, layered, problems, silenced)
    if config is not None:
        config._files = list(layered.files)
        problems += _cross_checks(config, layered)
        problems += _augmentation(config, layered)
        if trainer is not None and trainer[1] is not None:
            config.rlhf = trainer[1]
        if check_paths:
            problems += _missing_paths(config, layered, trainer[0] if trainer else None)
        if trainer is not None and not problems:
            problems += trainer[0].validate(config)
    return (config if not problems else None), problems


def _silenced(path: KeyPath, silenced: list[KeyPath]) -> bool:
    return any(path[: len(s)] == s or s[: len(path)] == path for s in silenced)


def _problem(
    layered: Layered, path: KeyPath, message: str, code: Any, fix: str | None = None
) -> ConfigProblem:
    return ConfigProblem(path, message, layered.origin_of(path), fix, code.code)


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
                problems.append(_problem(layered, here, "removed knob", rc.REMOVED_KNOB, PACKING_FIX))
                silenced.append(here)
            elif key in LENGTH_KEYS:
                problems.append(_problem(layered, here, "removed knob", rc.REMOVED_KNOB, LENGTH_FIX))
                silenced.append(here)
            elif key == "hard_sample_mining":
                problems.append(_problem(layered, here, "removed knob", rc.REMOVED_KNOB, MINING_FIX))
                silenced.append(here)
            elif key in BACKEND_KEYS:
                problems.append(
                    _problem(layered, here, "ms-swift argument", rc.BACKEND_KEY, f"use {BACKEND_KEYS[key]}")
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
            _problem(
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
                    _problem(layered, ("model", alias), "ms-swift argument", rc.BACKEND_KEY, "use model.path")
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
                _problem(
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


def _resolve_paths(data: dict[str, Any], layered: Layered) -> None:
    for path in INPUT_PATHS:
        section = data.get(path[0])
        if isinstance(section, dict) and path[1] in section:
            section[path[1]] = _resolve_one(section[path[1]], path, layered)
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
    training = data.get("training")
    if isinstance(training, dict) and isinstance(training.get("output_dir"), str):
        training["output_dir"] = str(Path(training["output_dir"]).resolve())
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


def _section_checks(sections: dict[str, Any], layered: Layered) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    data, tuner, training = sections.get("data"), sections.get("tuner"), sections.get("training")
    if data is not None:
        if data.fusion is not None and (data.train or data.val):
            problems.append(
                _problem(
                    layered,
                    ("data", "fusion"),
                    "`fusion` replaces `train`/`val`; both given",
                    rc.DATA_SOURCES,
                )
            )
        elif data.fusion is None and not data.train:
            problems.append(
                _problem(
                    layered,
                    ("data",),
                    "no training data: give `data.train` or `data.fusion`",
                    rc.DATA_SOURCES,
                )
            )
    if tuner is not None:
        set_keys = tuner.model_fields_set
        if tuner.train_type == "full":
            lora_only = sorted(
                k
                for k in set_keys
                if k
                in ("use_dora", "target_modules", "target_regex", "lora_rank", "lora_alpha", "lora_dropout")
            )
            for key in lora_only:
                problems.append(
                    _problem(layered, ("tuner", key), "LoRA setting in a full fine-tune", rc.TUNER)
                )
            if tuner.freeze_llm and tuner.freeze_vit and tuner.freeze_aligner and not tuner.modules_to_save:
                problems.append(
                    _problem(
                        layered,
                        ("tuner",),
                        "full fine-tune with LLM, ViT and aligner all frozen",
                        rc.NOTHING_TRAINABLE,
                    )
                )
        else:
            if "target_regex" in set_keys and "target_modules" in set_keys and tuner.target_regex is not None:
                problems.append(
                    _problem(
                        layered,
                        ("tuner", "target_regex"),
                        "`target_regex` and `target_modules` both given",
                        rc.TUNER,
                        "keep one: target_regex replaces target_modules",
                    )
                )
            only_all_linear = tuner.target_regex is None and tuner.target_modules == ["all-linear"]
            if (
                only_all_linear
                and tuner.freeze_llm
                and tuner.freeze_vit
                and tuner.freeze_aligner
                and not tuner.modules_to_save
            ):
                problems.append(
                    _problem(
                        layered,
                        ("tuner",),
                        "`all-linear` with LLM, ViT and aligner all frozen selects no module",
                        rc.NOTHING_TRAINABLE,
                    )
                )
    if training is not None:
        if training.effective_batch_size is not None and training.gradient_accumulation_steps is not None:
            problems.append(
                _problem(
                    layered,
                    ("training", "effective_batch_size"),
                    "both `effective_batch_size` and `gradient_accumulation_steps` given",
                    rc.BATCH_SIZE,
                )
            )
        elif training.effective_batch_size is not None:
            per_step = training.per_device_train_batch_size * training.world_size
            if training.effective_batch_size % per_step:
                problems.append(
                    _problem(
                        layered,
                        ("training", "effective_batch_size"),
                        f"{training.effective_batch_size} is not a multiple of per_device_train_batch_size × world size = {per_step}",
                        rc.BATCH_SIZE,
                        f"use a multiple of {per_step}, e.g. {max(per_step, training.effective_batch_size // per_step * per_step)}",
                    )
                )
        if training.min_lr is not None and training.min_lr_ratio is not None:
            problems.append(
                _problem(
                    layered, ("training", "min_lr"), "both `min_lr` and `min_lr_ratio` given", rc.SCHEDULER
                )
            )
        floor = training.min_lr is not None or training.min_lr_ratio is not None
        if floor and training.lr_scheduler_type not in SCHEDULERS_WITH_FLOOR:
            problems.append(
                _problem(
                    layered,
                    ("training", "lr_scheduler_type"),
                    f"{training.lr_scheduler_type!r} has no LR floor",
                    rc.SCHEDULER,
                )
            )
        if training.lr_scheduler_type == "cosine_with_min_lr" and not floor:
            problems.append(
                _problem(
                    layered,
                    ("training", "lr_scheduler_type"),
                    "`cosine_with_min_lr` needs `min_lr` or `min_lr_ratio`",
                    rc.SCHEDULER,
                )
            )
        if training.node_rank >= training.nnodes:
            problems.append(
                _problem(
                    layered,
                    ("training", "node_rank"),
                    f"node_rank {training.node_rank} with nnodes {training.nnodes}",
                    rc.DISTRIBUTED,
                )
            )
    return problems


def _cross_checks(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    problems = []
    if config.training.bf16 and config.model.dtype != "bfloat16":
        problems.append(
            _problem(layered, ("training", "bf16"), f"bf16 with model.dtype {config.model.dtype}", rc.DTYPE)
        )
    problems += _template_problems(config, layered)
    return problems


def _template_problems(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    from vlmdata.render import get_template

    try:
        get_template(config.template.name)
    except VlmdataError as exc:
        return [_problem(layered, ("template", "name"), exc.message, rc.UNKNOWN_TEMPLATE, exc.hint)]
    return []


def _augmentation(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    if config.augmentation is None:
        return []
    try:
        from vlmdata.augment import AugmentationConfig  # type: ignore[attr-defined]
    except ImportError:
        if not isinstance(config.augmentation, dict):
            return [_problem(layered, ("augmentation",), "must be a mapping", rc.PLUGIN_SECTION)]
        return []
    try:
        config.augmentation = AugmentationConfig.model_validate(config.augmentation)
    except ValidationError as exc:
        return problems_from_validation_error(exc, layered, prefix=("augmentation",))
    except VlmdataError as exc:
        return [_problem(layered, ("augmentation",), str(exc), rc.PLUGIN_SECTION)]
    return []


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
                _problem(layered, ("rlhf",), f"plugin {name!r} takes no `rlhf` section", rc.PLUGIN_SECTION)
            )
        return trainer, None
    section = dict(raw_rlhf) if isinstance(raw_rlhf, dict) else raw_rlhf
    if section is None:
        section = {}
    if isinstance(section, dict):
        for key in trainer.path_fields:
            section[key] = _resolve_one(section.get(key), ("rlhf", key), layered)
    try:
        return trainer, model.model_validate(section)
    except ValidationError as exc:
        found = problems_from_validation_error(exc, layered, prefix=("rlhf",))
        problems.extend(p for p in found if not _silenced(p.path, silenced))
        return trainer, None


def _missing_paths(config: RunConfig, layered: Layered, trainer: Any) -> list[ConfigProblem]:
    checks: list[tuple[KeyPath, str | None]] = [
        (("model", "path"), config.model.path),
        (("data", "fusion"), config.data.fusion),
        (("training", "resume_from_checkpoint"), config.training.resume_from_checkpoint),
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
            problems.append(_problem(layered, path, f"no such file or folder: {value}", rc.PATH_MISSING))
    return problems
