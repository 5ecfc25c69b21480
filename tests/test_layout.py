"""The package's layout: its imports point one way, with no circle.

Every module of `python/mixrender` is parsed with `ast` (nothing is imported), and every
import in it becomes an edge of the module graph: top-level imports, imports inside
functions (the "late" imports that hide a circle from the interpreter) and those under
`TYPE_CHECKING` alike. A circle, however it is written, fails the test with its path.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "mixrender"

Graph = Mapping[str, set[str]]


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name; a package's `__init__.py` is the package.
    A compiled module counts by its stub (`_engine.pyi`): it imports nothing of the package."""
    found: dict[str, Path] = {}
    paths = list(root.rglob("*.py"))
    paths += [p for p in root.rglob("*.pyi") if not p.with_suffix(".py").exists()]
    for path in sorted(paths):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _base(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <level dots><target> import ...` written in `module`."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, target] if target else parts)


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its text."""
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (
                    _base(name, is_package, node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                # `from pkg import sub` imports the module `pkg.sub`; `from pkg import name`
                # takes a name from `pkg` itself (its `__init__.py`).
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            for target in targets:
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan), as a path that
    starts and ends at its smallest module; sorted, so that the failure reads the same."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_circle(graph, group) for group in groups)


def _circle(graph: Graph, group: set[str]) -> list[str]:
    """A shortest path from the group's smallest module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(group)} holds no circle")  # pragma: no cover


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    texts = {
        "__init__.py": "from .a import thing\n",
        "a.py": "from . import b\n",
        "b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.sub import c\n",
        "sub/__init__.py": "from .c import x\n",
        "sub/c.py": "def f():\n    from ..a import thing  # late\n",
        "sub/d.py": "from .. import thing\nimport pkg.b\n",
        "e.pyi": "import os\n",
    }
    for rel, text in texts.items():
        (root / rel).write_text(text)
    graph = import_graph(module_files(root))
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.a"},
        "pkg.sub.d": {"pkg", "pkg.b"},
        "pkg.e": set(),
    }
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert cycles({"x": {"y"}, "y": set(), "z": {"z"}}) == [["z", "z"]]


def test_the_package_graph_is_the_real_one() -> None:
    files = module_files()
    graph = import_graph(files)
    assert {"mixrender", "mixrender.render", "mixrender.mixfile", "mixrender.cli"} <= set(files)
    assert "mixrender.mixfile" in graph["mixrender.render"]
    assert "mixrender.errors" in graph["mixrender.mixfile"]  # written `from mixrender.errors`
    assert "mixrender._engine" in graph["mixrender.render"]  # compiled: known by its stub


def test_no_module_imports_itself_through_others() -> None:
    found = cycles(import_graph(module_files()))
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)
