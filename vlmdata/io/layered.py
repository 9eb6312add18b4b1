"""Layered YAML: `extends` chains, merge rules, and error messages that name the file and key path.

Every YAML config is read here — run configs (`vlmdata.config`), fusion configs, augmentation configs and
template files (`vlmdata.render`) — so this reader sits in the files layer below all of them: config and render
both read YAML, and config also names templates, so a reader living in either would tie the two in a circle.

A config file may say `extends: base.yaml` (or a list), resolved relative to that file; bases load first
(depth first, in order), then the file itself on top. `--base-config` is one more layer below everything.
Merge rules: mappings deep-merge and scalars replace. Lists replace too, except lists named in
`merge_lists_by_name` (fusion's `targets`/`sources`), whose entries merge by their `name`: a matching entry
deep-merges, a new one appends, and an explicit empty list clears what the bases had.

Every key path remembers which file set it (`origin_of`), so a validation error on `targets[1].ratio` can say
which of the layered files to edit. Origins are a tree holding only the paths a layer set: a value set as a
whole is one node whatever its size, and replacing it drops its subtree at once, so loading is linear in the
size of the files (a flat list of the leaves, pruned on every replacement, was quadratic).

Reading is bounded, so no config can hang or exhaust memory: a config file must be a regular file (not a
device, FIFO or socket) of at most `MAX_CONFIG_BYTES`; YAML is loaded with the safe loader only (no object
construction); aliases may not expand the document beyond `MAX_CONFIG_NODES` nodes (a billion-laughs file is
refused before it is built); a key repeated in one mapping is an error (YAML's last-wins would drop the first
value silently), every repeat of a file reported at once with its line.
"""

from __future__ import annotations

import copy
import gc
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError, model_keys_at, unknown_key_fix
from vlmdata.io import yaml_codes as codes

KeyPath = tuple[Any, ...]
MAX_CONFIG_BYTES = 8 * 1024 * 1024
MAX_CONFIG_NODES = 1_000_000


@dataclass
class _Origin:
    file: str | None = None
    children: dict[Any, _Origin] = field(default_factory=dict)


@dataclass
class Layered:
    """The merged mapping plus, for each key path, the file that last set it."""

    data: dict[str, Any]
    files: list[str] = field(default_factory=list)
    notes: dict[KeyPath, str] = field(default_factory=dict)  # how a value was resolved (a hub id's cache)
    _origins: _Origin = field(default_factory=_Origin, repr=False)

    def set_origin(self, path: Sequence[Any], file: str) -> None:
        """`file` set the value at `path` as a whole: it replaces whatever was recorded below `path`."""
        node = self._origins
        for part in path:
            node = node.children.setdefault(part, _Origin())
        node.file = file
        node.children = {}

    def origin_of(self, path: Sequence[Any]) -> str | None:
        """The file that set `path` or, failing that, its nearest ancestor (the top file for the root)."""
        node, found = self._origins, self._origins.file
        for part in path:
            child = node.children.get(part)
            if child is None:
                break
            node = child
            if node.file is not None:
                found = node.file
        if found is None:
            return self.files[-1] if self.files else None
        return found


def format_key_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file of at most `MAX_CONFIG_BYTES`, UTF-8."""
    where = Location(file=str(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise VlmdataError(codes.EXTENDS_MISSING, f"config file not found: {path}", where=where) from None
    except OSError as exc:
        raise VlmdataError(codes.CONFIG_FILE, f"cannot read the config file: {exc}", where=where) from None
    if not stat.S_ISREG(info.st_mode):
        raise VlmdataError(
            codes.CONFIG_FILE, "not a regular file (a device, FIFO, socket or folder)", where=where
        )
    if info.st_size > MAX_CONFIG_BYTES:
        raise VlmdataError(
            codes.CONFIG_FILE, f"{info.st_size} bytes, over the {MAX_CONFIG_BYTES}-byte limit", where=where
        )
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the stat
                raise VlmdataError(codes.CONFIG_FILE, "not a regular file", where=where)
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise VlmdataError(codes.CONFIG_FILE, f"cannot read the config file: {exc}", where=where) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise VlmdataError(codes.CONFIG_FILE, f"over the {MAX_CONFIG_BYTES}-byte limit", where=where)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VlmdataError(
            codes.YAML_PARSE, f"not UTF-8 (byte {exc.start})", where=Location(file=str(path))
        ) from None


def parse_yaml(text: str, file: str) -> Any:
    """Safe-load one YAML document under the node and duplicate-key bounds; errors name `file` and the line."""
    from vlmdata.io.yaml_loader import BoundedLoader, DuplicateKeys, TooLarge, yaml_error

    loader = BoundedLoader(text)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the node graph is acyclic; generational GC rescans it and makes big files superlinear
    try:
        return loader.load(MAX_CONFIG_NODES, has_aliases="*" in text)
    except DuplicateKeys as exc:
        first = exc.found[0]
        raise VlmdataError(
            codes.DUPLICATE_KEY,
            f"key {first[0]!r} repeated in one mapping"
            + (f" ({len(exc.found)} repeated keys)" if len(exc.found) > 1 else ""),
            where=Location(file=file, line=first[1]),
            details=[
                f"{file}:{line}: key {key!r} already set at line {prev}" for key, line, prev in exc.found
            ],
        ) from None
    except TooLarge as exc:
        raise VlmdataError(
            codes.CONFIG_TOO_LARGE, str(exc), where=Location(file=file, line=exc.line)
        ) from None
    except RecursionError:
        raise VlmdataError(codes.CONFIG_TOO_LARGE, "nested too deeply", where=Location(file=file)) from None
    except Exception as exc:
        error = yaml_error(exc)
        if error is None:
            raise
        problem, line = error
        raise VlmdataError(codes.YAML_PARSE, problem, where=Location(file=file, line=line)) from None
    finally:
        loader.dispose()
        if gc_was_enabled:
            gc.enable()


def read_yaml(path: Path) -> dict[str, Any]:
    data = parse_yaml(read_config_text(path), str(path))
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
    result.data = _merge(result.data, data, (), str(path), result, by_name)
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


def _merge(old: Any, new: Any, path: KeyPath, file: str, result: Layered, by_name: frozenset[str]) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            if key in merged:
                merged[key] = _merge(merged[key], value, (*path, key), file, result, by_name)
            else:
                merged[key] = copy.deepcopy(value)
                result.set_origin((*path, key), file)
        return merged
    if len(path) == 1 and path[0] in by_name and isinstance(old, list) and isinstance(new, list) and new:
        merged_list = list(old)
        index = {entry["name"]: i for i, entry in enumerate(merged_list)}
        for entry in new:
            i = index.get(entry["name"])
            if i is None:
                index[entry["name"]] = len(merged_list)
                merged_list.append(copy.deepcopy(entry))
                result.set_origin((*path, len(merged_list) - 1), file)
            else:
                merged_list[i] = _merge(merged_list[i], entry, (*path, i), file, result, by_name)
        return merged_list
    result.set_origin(path, file)
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
