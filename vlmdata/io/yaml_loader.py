"""The bounded YAML loader behind every config file: safe types only, no repeated keys, bounded aliases.

PyYAML's safe loader already refuses object tags. On top of it:
- the document is composed into nodes first and its size counted with aliases expanded (each node once per
  reference, memoised per node so counting is linear in the file); a document over the node limit is refused
  before any Python object is built, so a billion-laughs file costs milliseconds instead of hanging the
  process in whatever walks the result later;
- a mapping that names one key twice records the repeat (key, line, first line) instead of keeping the last
  value; every repeat in the file is reported together. Keys brought in by a merge key (`<<: *base`) may be
  overridden, as YAML intends.
The C parser (libyaml) is used when PyYAML has it; construction is PyYAML's own safe constructor either way.
"""

from __future__ import annotations

from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeys(Exception):
    def __init__(self, found: list[tuple[Any, int, int]]) -> None:
        super().__init__(f"{len(found)} repeated key(s)")
        self.found = found  # (key, line, line of the first occurrence), 1-based lines


class TooLarge(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class BoundedLoader(_Base):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[tuple[Any, int, int]] = []

    def load(self, max_nodes: int, has_aliases: bool = True) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if has_aliases:  # without aliases the node count is bounded by the file size
            _check_size(node, max_nodes)
        data = self.construct_document(node)
        if self.repeated:
            raise DuplicateKeys(sorted(self.repeated, key=lambda r: r[1]))
        return data

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if first is None:
                    seen[key] = line
                else:
                    self.repeated.append((key, line, first))
        return super().construct_mapping(node, deep=deep)


def _check_size(root: Any, max_nodes: int) -> None:
    """Refuse a document whose alias-expanded size exceeds `max_nodes` (iterative, memoised per node)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1
            if isinstance(node, yaml.SequenceNode):
                total += sum(sizes[id(child)] for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                total += sum(sizes[id(k)] + sizes[id(v)] for k, v in node.value)
            if total > max_nodes:
                raise TooLarge(
                    f"the document expands to more than {max_nodes} nodes (aliases counted at every use)",
                    node.start_mark.line + 1,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:  # a recursive alias: PyYAML can build it, nothing downstream can use it
            raise TooLarge("a recursive alias (a node that contains itself)", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, False) for child in node.value if id(child) not in sizes)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((n, False) for n in (k, v) if id(n) not in sizes)


def yaml_error(exc: Exception) -> tuple[str, int | None] | None:
    """(message, 1-based line) for a PyYAML error, None for anything else."""
    if not isinstance(exc, yaml.YAMLError):
        return None
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    return str(getattr(exc, "problem", None) or exc), line
