"""Layered YAML: `extends` chains, merge rules, and error messages that name the file and key path.

A config file may say `extends: base.yaml` (or a list), resolved relative to that file; bases load first
(depth first, in order), then the file itself on top. `--base-config` is one more layer below everything.
Merge rules: mappings deep-merge and scalars replace. Lists replace too, except lists named in
`merge_lists_by_name` (fusion's `targets`/`sources`), whose entries merge by their `name`: a matching entry
deep-merges, a new one appends, and an explicit empty list clears what the bases had.

Every leaf remembers which file set it (`origins`), so a validation error on `targets[1].ratio` can say
which of the layered files to edit. YAML is loaded with `yaml.safe_load` only: no object construction.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.config import codes
from vlmdata.errors import Location, VlmdataError, model_keys_at, unknown_key_fix

KeyPath = tuple[Any, ...]


@dataclass
class Layered:
    """The merged mapping plus, for each key path, the file that last set it."""

    data: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: dict[KeyPath, str] = field(default_factory=dict)  # how a value was resolved (a hub id's cache)

    def origin_of(self, path: Sequence[Any]) -> str | None:
        key = tuple(path)
        while True:
            if key in self.origins:
                return self.origins[key]
            if not key:
                return self.files[-1] if self.files else None
            key = key[:-1]


def format_key_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VlmdataError(
            codes.EXTENDS_MISSING, f"config file not found: {path}", where=Location(file=str(path))
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise VlmdataError(
            codes.YAML_PARSE, str(problem), where=Location(file=str(path), line=line)
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VlmdataError(
            codes.NOT_MAPPING, f"top level is a {type(data).__name__}", where=Location(file=str(path))
        )
    return data


def load_layered(
    path: str | Path,
    *,
    base: str | Path | None = None,
    merge_lists_by_name: Iterable[str] = (),
) -> Layered:
    """Load `path` with its `extends` chain (and an optional base layer below everything) and merge."""
    by_name = frozenset(merge_lists_by_name)
    result = Layered(data={})
    if base is not None:
        _load_into(Path(base).resolve(), result, by_name, stack=())
    _load_into(Path(path).resolve(), result, by_name, stack=())
    return result


def _load_into(path: Path, result: Layered, by_name: frozenset[str], stack: tuple[Path, ...]) -> None:
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        raise VlmdataError(
            codes.EXTENDS_CYCLE, f"cycle: {chain}", where=Location(file=str(stack[-1]), field="extends")
        )
    if not path.exists():
        where = Location(file=str(stack[-1]), field="extends") if stack else Location(file=str(path))
        raise VlmdataError(codes.EXTENDS_MISSING, f"no such file: {path}", where=where)
    data = read_yaml(path)
    parents = data.pop("extends", None)
    if parents is not None:
        if isinstance(parents, str):
            parents = [parents]
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise VlmdataError(
                codes.INVALID_CONFIG,
                "`extends` must be a path or a list of paths",
                where=Location(file=str(path), field="extends"),
                value=parents,
            )
        for parent in parents:
            _load_into((path.parent / parent).resolve(), result, by_name, (*stack, path))
    _check_named_lists(data, by_name, str(path))
    result.data = _merge(result.data, data, (), str(path), result.origins, by_name)
    result.files.append(str(path))


def _check_named_lists(data: dict[str, Any], by_name: frozenset[str], file: str) -> None:
    for key in by_name:
        entries = data.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise VlmdataError(
                codes.INVALID_CONFIG,
                f"`{key}` must be a list",
                where=Location(file=file, field=key),
                value=type(entries).__name__,
            )
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                raise VlmdataError(
                    codes.BAD_NAMED_LIST,
                    "entry has no `name`",
                    where=Location(file=file, field=f"{key}[{i}]"),
                )
            if name in seen:
                raise VlmdataError(
                    codes.BAD_NAMED_LIST,
                    f"duplicate name {name!r}",
                    where=Location(file=file, field=f"{key}[{i}].name"),
                )
            seen.add(name)


def _record_origins(value: Any, path: KeyPath, file: str, origins: dict[KeyPath, str]) -> None:
    for key in [k for k in origins if k[: len(path)] == path]:
        del origins[key]
    origins[path] = file
    if isinstance(value, dict):
        for k, v in value.items():
            _record_origins(v, (*path, k), file, origins)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _record_origins(v, (*path, i), file, origins)


def _merge(
    old: Any, new: Any, path: KeyPath, file: str, origins: dict[KeyPath, str], by_name: frozenset[str]
) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            if key in merged:
                merged[key] = _merge(merged[key], value, (*path, key), file, origins, by_name)
            else:
                merged[key] = copy.deepcopy(value)
                _record_origins(value, (*path, key), file, origins)
        return merged
    if len(path) == 1 and path[0] in by_name and isinstance(old, list) and isinstance(new, list) and new:
        merged_list = list(old)
        index = {entry["name"]: i for i, entry in enumerate(merged_list)}
        for entry in new:
            i = index.get(entry["name"])
            if i is None:
                index[entry["name"]] = len(merged_list)
                merged_list.append(copy.deepcopy(entry))
                _record_origins(entry, (*path, len(merged_list) - 1), file, origins)
            else:
                merged_list[i] = _merge(merged_list[i], entry, (*path, i), file, origins, by_name)
        return merged_list
    _record_origins(new, path, file, origins)
    return copy.deepcopy(new)


@dataclass
class ConfigProblem:
    path: KeyPath
    message: str
    file: str | None = None
    fix: str | None = None
    code: str = "VD605"

    def render(self) -> str:
        where = f"{self.file}: " if self.file else ""
        text = f"{self.code} {where}{format_key_path(self.path)}: {self.message}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


def problems_from_validation_error(
    exc: Any, layered: Layered | None, prefix: KeyPath = (), model: Any = None
) -> list[ConfigProblem]:
    """Turn a pydantic ValidationError into ConfigProblems with files and key paths (all of them).

    `model` is the pydantic model that was validated: an unknown key's fix then names the closest valid key
    at that place and lists the valid ones."""
    problems = []
    for err in exc.errors():
        rel = tuple(err.get("loc", ()))
        loc = (*prefix, *rel)
        file = layered.origin_of(loc) if layered is not None else None
        if err.get("type") == "extra_forbidden":
            keys = model_keys_at(model, rel[:-1]) if model is not None and rel else None
            if keys is not None and not prefix and len(rel) == 1:
                keys.append("extends")  # the layered loader's own key, valid in every file
            fix = (
                unknown_key_fix(str(rel[-1]), keys)
                if keys is not None
                else "remove it or fix the spelling; see the section's allowed keys"
            )
            problems.append(ConfigProblem(loc, "unknown key", file, fix, codes.UNKNOWN_CONFIG_KEY.code))
        else:
            value = err.get("input")
            msg = err.get("msg", "invalid value")
            if not isinstance(value, (dict, list)) and value is not None:
                msg += f" (got {value!r})"
            problems.append(ConfigProblem(loc, msg, file))
    return problems


def raise_problems(problems: list[ConfigProblem], what: str = "config") -> None:
    """Raise one VlmdataError listing every problem, or return when there are none."""
    if not problems:
        return
    first = problems[0]
    raise VlmdataError(
        first.code if len(problems) == 1 else codes.INVALID_CONFIG,
        f"{len(problems)} problem(s) in the {what}",
        details=[p.render() for p in problems],
        hint="fix every listed key; nothing was loaded or run",
    )
