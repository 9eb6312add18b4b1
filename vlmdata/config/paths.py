"""Paths in a run config: resolved against the file that set them, then checked to exist and to be of the
right kind.

Relative paths resolve against the folder of the file that set the key (the same rule as `extends`; a value
from the command line or an in-memory mapping against the working directory). `model.path` may also be a hub
id found in the local cache (its snapshot folder is used and the id kept in `layered.notes`). The checks run
after validation: a missing input is VD644 (a hub id not in the local cache is VD669, with its download
command); a model folder without `config.json`, or a `data.train`/`data.val` folder the one dataset opener
cannot read, is VD644 too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmdata.config import run_codes as rc
from vlmdata.config.checks import problem
from vlmdata.config.run import DEEPSPEED_PRESETS, RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import is_jsonl_name, locate_dataset
from vlmdata.io.layered import ConfigProblem, KeyPath, Layered

INPUT_PATHS: tuple[KeyPath, ...] = (
    ("model", "path"),
    ("data", "fusion"),
    ("training", "resume_from_checkpoint"),
    ("training", "init_from_checkpoint"),
    ("training", "output_dir"),
)


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


def resolve_paths(data: dict[str, Any], layered: Layered) -> None:
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


def missing_paths(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
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
