"""The layer order, read from the modules' own imports (lazy ones inside functions and import-by-name too).

Layers, lowest first (docs/architecture.md): a module may import its own layer's areas and the layers below,
never one above, and the areas (the packages under `vlmdata/`, and `plugins/`) import each other without a
circle. Every finding is listed, not just the first.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("contract", "geometry", "io"),
    ("config", "render", "augment", "models"),
    ("validate", "fuse", "audit", "eval", "viz", "synth"),
    ("train", "export", "importers", "demo"),
    ("plugins",),
    ("cli",),
)
LAYER_OF = {area: i for i, areas in enumerate(LAYERS) for area in areas}
# A call given a string that names a module imports it by name (`importlib.import_module("vlmdata.x")`, a
# helper that does so): it counts as an import.
_MODULE_NAME = re.compile(r"^vlmdata(_plugins)?(\.[A-Za-z_][A-Za-z0-9_]*)+$")

# Imports that the change moving every dataset write and open into `vlmdata/io/` removes (validate's shards are
# still finished by the fused-dataset writer's helpers).
# Empty this once that change is in; `test_allowed_imports_still_exist` says when an entry is stale.
ALLOWED_UNTIL_IO_WRITER: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for folder, top in (("vlmdata", "vlmdata"), ("plugins", "vlmdata_plugins")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [top, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def area(module: str) -> str:
    """`vlmdata.<area>...` → area; the package root and `__main__` belong to errors and cli."""
    parts = module.split(".")
    if parts[0] == "vlmdata_plugins":
        return "plugins"
    if len(parts) == 1:
        return "errors"  # `vlmdata/__init__.py`: the version string only
    return "cli" if parts[1] == "__main__" else parts[1]


def _targets(name: str) -> list[str]:
    """The module(s) an import of `name` (a module, or a module attribute) runs."""
    if name in MODULES:
        return [name]
    parent = name.rpartition(".")[0]
    return [parent] if parent in MODULES else []


def imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported vlmdata module, line) for every import in `module`, wherever it sits."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        elif isinstance(node, ast.Call):
            names = [
                arg.value
                for arg in (*node.args, *(k.value for k in node.keywords))
                if isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _MODULE_NAME.match(arg.value)
            ]
        for name in names:
            for target in _targets(name):
                if target != module:
                    yield target, node.lineno


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _ in imports(m) if (m, t) not in ALLOWED_UNTIL_IO_WRITER} for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def upward_imports() -> list[str]:
    found = []
    for module in MODULES:
        for target, line in imports(module):
            if (module, target) in ALLOWED_UNTIL_IO_WRITER:
                continue
            a, b = area(module), area(target)
            if LAYER_OF[b] > LAYER_OF[a]:
                found.append(f"{module}:{line} imports {target} ({a} is below {b})")
    return sorted(set(found))


def test_every_area_has_a_layer() -> None:
    unplaced = sorted({area(m) for m in MODULES} - set(LAYER_OF))
    assert not unplaced, f"place these packages in LAYERS (and docs/architecture.md): {unplaced}"


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    found = upward_imports()
    assert not found, "imports against the layer order:\n" + "\n".join(found)


def test_no_circle_between_areas() -> None:
    graph: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        graph.setdefault(area(module), set()).update(area(t) for t in targets if area(t) != area(module))
    found = _cycles(graph)
    assert not found, f"areas importing each other in a circle: {found}"


def test_allowed_imports_still_exist() -> None:
    stale = [edge for edge in ALLOWED_UNTIL_IO_WRITER if edge[1] not in {t for t, _ in imports(edge[0])}]
    assert not stale, f"remove these from ALLOWED_UNTIL_IO_WRITER, the imports are gone: {stale}"


def test_the_scanner_sees_every_kind_of_import(tmp_path: Path, monkeypatch) -> None:
    """Top-level, lazy, relative and by-name imports are all edges (checked on a throwaway module)."""
    source = (
        "import vlmdata.errors\n"
        "from vlmdata.io import layered\n"
        "def f():\n"
        "    from vlmdata.train.registry import get_plugin\n"
        "    from . import base\n"
        "    return importlib.import_module('vlmdata.fuse.plan')\n"
        "GENERATOR = 'vlmdata.synth'  # data, not an import\n"
    )
    fake = tmp_path / "probe.py"
    fake.write_text(source, encoding="utf-8")
    monkeypatch.setitem(MODULES, "vlmdata.config.probe", fake)
    found = {t for t, _ in imports("vlmdata.config.probe")}
    assert found == {
        "vlmdata.errors",
        "vlmdata.io.layered",
        "vlmdata.train.registry",
        "vlmdata.config.base",
        "vlmdata.fuse.plan",
    }
    assert any(
        "vlmdata.config.probe" in line and "vlmdata.train.registry" in line for line in upward_imports()
    )
