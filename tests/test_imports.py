"""How nbalife's modules import: no private module of a dependency, no import cycle.

Both read every import statement of ``nbalife/`` with ``ast`` (at module top, inside functions
and under ``TYPE_CHECKING`` alike), so an import deferred for start-up still counts.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nbalife"


@dataclass(frozen=True)
class Import:
    """``module`` (dotted, absolute) imported by ``source`` at ``line``; ``names`` are what a
    ``from`` import takes from it (empty for ``import module``)."""

    source: str
    line: int
    module: str
    names: tuple[str, ...]


def module_name(path: Path, package: Path) -> str:
    """The dotted name of ``path``, a file under ``package``."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(package: Path) -> list[Import]:
    """Every import statement of every module under ``package``, relative ones made absolute."""
    found = []
    for path in sorted(package.rglob("*.py")):
        source = module_name(path, package)
        here = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [Import(source, node.lineno, alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.append(Import(source, node.lineno, base, tuple(alias.name for alias in node.names)))
    return found


def private_imports(package: Path) -> list[str]:
    """``module:line imports name`` for each private (``_``-prefixed) module or name taken from a
    package that is neither ``package`` itself nor the standard library."""
    own = package.name
    found = []
    for imp in imports(package):
        top = imp.module.split(".")[0]
        if top in (own, "__future__") or top in sys.stdlib_module_names:
            continue
        dotted = [part for part in imp.module.split(".") if part.startswith("_")]
        taken = [name for name in imp.names if name.startswith("_")]
        if dotted or taken:
            what = imp.module if dotted else f"{imp.module}.{taken[0]}"
            found.append(f"{imp.source}:{imp.line} imports {what}")
    return found


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """Module -> {module of ``package`` it imports: the line of the first such import}. ``from a
    import b`` is an import of ``a.b`` where that is a module, of ``a`` otherwise."""
    modules = {module_name(path, package) for path in package.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for imp in imports(package):
        targets = [f"{imp.module}.{name}" if f"{imp.module}.{name}" in modules else imp.module
                   for name in imp.names] or [imp.module]
        for target in targets:
            if target in modules and target != imp.source:
                graph[imp.source].setdefault(target, imp.line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of two or more modules, as the
    modules in order, the first repeated at the end (Tarjan's algorithm, then a breadth-first
    search inside the group from its first module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:
        start = min(group)
        paths = {start: [start]}
        frontier = [start]
        while frontier:
            following = []
            for node in frontier:
                for nxt in sorted(graph[node]):
                    if nxt in group and nxt not in paths:
                        paths[nxt] = [*paths[node], nxt]
                        following.append(nxt)
            frontier = following
        closing = min((paths[n] for n in paths if start in graph[n]), key=len)
        found.append([*closing, start])
    return sorted(found)


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    """``a (line 3) -> b (line 9) -> a``: each module with the line that imports the next."""
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join([*steps, cycle[-1]])


def test_no_module_imports_a_private_module_of_a_dependency() -> None:
    assert private_imports(PACKAGE) == []


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 50 and any(graph.values())
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(cycle, graph) for cycle in found)


def write(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with the given modules (path under pkg -> source)."""
    package = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_the_checks_find_what_they_forbid(tmp_path: Path) -> None:
    package = write(tmp_path, {
        "a.py": "import typer\nfrom typer.core import TyperOption\nfrom pkg import b\n",
        "b.py": "def f():\n    from typer._coercion import RuntimeParam\n    from . import c\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n"
                "from rich import _loop\nimport os._x_not_checked\n",
        "d.py": "import pkg.a\nfrom pkg import d\n",  # d imports a (no cycle back); d imports itself: ignored
        "sub/__init__.py": "from .e import E\n",
        "sub/e.py": "from .. import sub\n",
    })
    assert private_imports(package) == ["pkg.b:2 imports typer._coercion", "pkg.c:4 imports rich._loop"]
    graph = import_graph(package)
    assert graph["pkg.b"] == {"pkg.c": 3} and graph["pkg.sub.e"] == {"pkg.sub": 1}
    found = cycles(graph)
    assert found == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.sub", "pkg.sub.e", "pkg.sub"]]
    assert describe(found[0], graph) == "pkg.a (line 3) -> pkg.b (line 3) -> pkg.c (line 3) -> pkg.a"
