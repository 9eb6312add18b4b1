"""`vlmdata config show`: the merged run config, every value with the layer it came from.

The CLI takes no `key=value` overrides: a run is varied by a small overlay file that `extends` it
(docs/config.md). To see what such a stack of files amounts to, `show_config` loads it exactly as
`vlmdata train` does (the same layers, the same validation, every problem at once) and pairs every leaf of
the validated config — defaults filled in — with its origin: the file that set it last (`--base-config`, a
preset in the `extends` chain, the run file, an overlay), `--plugin` for the flag, or `default` when no file
set it. A hub id in `model.path` shows the cached snapshot it resolved to and the id.

`render_config(entries)` prints them as YAML with the origin as a trailing comment, so the output is itself
a loadable config; `--format json` gives the list of `{key, value, origin}`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmdata.io.layered import KeyPath, Layered, format_key_path, load_layered, raise_problems


@dataclass
class ShownValue:
    path: KeyPath
    value: Any
    origin: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": format_key_path(self.path), "value": self.value, "origin": self.origin}


def _present(data: Any, path: KeyPath) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def _origin(layered: Layered, written: Any, path: KeyPath, defaults: dict[KeyPath, str]) -> str:
    """The layer that set this leaf (`written`: what the layers held before defaults were filled in); a leaf
    no layer set is a default (its section's origin does not count)."""
    key = tuple(path)
    if not _present(written, key):
        return defaults.get(key, "default")
    source = layered.origin_of(key)
    if source is None:
        return "default"
    note = layered.notes.get(key)
    return f"{_short(source)} ({note})" if note else _short(source)


def _short(source: str) -> str:
    if source.startswith("--"):
        return source
    try:
        rel = os.path.relpath(source)
    except ValueError:
        return source
    return rel if not rel.startswith("../..") else source


def _leaves(node: Any, path: KeyPath, origin: Any, out: list[ShownValue]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _leaves(value, (*path, key), origin, out)
        return
    out.append(ShownValue(path, node, origin(path)))


def show_config(
    path: str | Path, base: str | Path | None = None, plugin: str | None = None
) -> list[ShownValue]:
    """Every leaf of the merged, validated config with its origin (raises every config problem at once)."""
    import copy

    from vlmdata.config.load import check_run_config
    from vlmdata.train.config import train_problems

    layered = load_layered(path, base=base)
    written = copy.deepcopy(layered.data)  # what the layers set, before defaults are filled in
    checked = check_run_config(layered, plugin=plugin, check_paths=False, top_file=Path(path))
    raise_problems(checked.problems + train_problems(checked, check_paths=False), what="run config")
    assert checked.config is not None
    if plugin is not None:
        written["plugin"] = plugin
    defaults = {("training", "output_dir"): "default: runs/<config name> under the working directory"}
    out: list[ShownValue] = []
    _leaves(checked.config.to_dict(), (), lambda p: _origin(layered, written, p, defaults), out)
    return out


def render_config(entries: list[ShownValue]) -> str:
    """YAML with `# origin` comments, comments aligned within each section."""
    import yaml

    lines: list[tuple[str, str | None]] = []
    opened: list[Any] = []
    for entry in entries:
        *parents, leaf = entry.path
        common = 0
        while common < min(len(parents), len(opened)) and parents[common] == opened[common]:
            common += 1
        for depth in range(common, len(parents)):
            lines.append(("  " * depth + f"{_key(parents[depth])}:", None))
        opened = list(parents)
        dumped = yaml.safe_dump(entry.value, default_flow_style=True, allow_unicode=True, width=10**9).strip()
        dumped = dumped.removesuffix("...").strip()
        lines.append(("  " * len(parents) + f"{_key(leaf)}: {dumped}", entry.origin))
    width = min(max((len(text) for text, origin in lines if origin is not None), default=0), 72)
    return "\n".join(text if origin is None else f"{text:<{width}}  # {origin}" for text, origin in lines)


def _key(key: Any) -> str:
    import yaml

    return yaml.safe_dump(key, default_flow_style=True).strip().removesuffix("...").strip()
