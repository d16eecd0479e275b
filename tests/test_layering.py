"""No import cycles among closesync modules, counting the imports that run when a module is imported.

An import inside a function (deferred) or under `if TYPE_CHECKING:` does not run at import time, so it
cannot close a cycle; every other import does (including those in class bodies and try/except blocks).
The direction of the layers is import-linter's job (`[tool.importlinter]` in pyproject.toml, run by
`make test`); this test only says that nothing loops, and names the loop when something does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "closesync"

Graph = dict[str, set[str]]


def module_files(src: Path = SRC, root: str = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their `__init__`)."""
    files = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under `node` that run when the module is imported."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from import_time_imports(ast.Module(body=[stmt], type_ignores=[]))
        else:
            yield from import_time_imports(child)


def imported_modules(name: str, is_package: bool, stmt: ast.Import | ast.ImportFrom,
                     known: set[str]) -> Iterator[str]:
    """The known modules one import statement of module `name` loads (a submodule where `from` names one)."""
    if isinstance(stmt, ast.Import):
        yield from (alias.name for alias in stmt.names if alias.name in known)
        return
    if stmt.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        base = ".".join(package[: len(package) - stmt.level + 1] + ([stmt.module] if stmt.module else []))
    else:
        base = stmt.module or ""
    for alias in stmt.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            yield submodule
        elif base in known:
            yield base


def import_graph(src: Path = SRC, root: str = ROOT) -> Graph:
    """Module -> the package modules it imports at import time."""
    files = module_files(src, root)
    known = set(files)
    graph: Graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {target for stmt in import_time_imports(tree)
                       for target in imported_modules(name, is_package, stmt, known) if target != name}
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as `[a, b, ..., a]` (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph.get(target, ())))))
            elif target in on_stack:
                low[node] = min(low[node], index[target])
    return [_cycle_through(min(component), graph, component) for component in components]


def _cycle_through(start: str, graph: Graph, component: set[str]) -> list[str]:
    """The shortest path from `start` back to itself inside its component (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but no path leads back to it")


def test_no_import_cycles_among_closesync_modules() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_import_time_imports_count(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.a import A\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "if TYPE_CHECKING:\n    from pkg import c\nelse:\n    import pkg.d\n"
        "try:\n    from .e import E\nexcept ImportError:\n    pass\n"
        "class A:\n    from pkg import f\n"
        "def later():\n    from pkg import g\n")
    for name in "bcdefg":
        (package / f"{name}.py").write_text("")
    assert import_graph(tmp_path, "pkg")["pkg.a"] == {"pkg.b", "pkg.d", "pkg.e", "pkg.f"}
    assert import_graph(tmp_path, "pkg")["pkg"] == {"pkg.a"}


def test_a_cycle_is_named() -> None:
    graph = {"m.a": {"m.b"}, "m.b": {"m.c"}, "m.c": {"m.a", "m.d"}, "m.d": set(), "m.e": {"m.e"}}
    assert find_cycles(graph) == [["m.a", "m.b", "m.c", "m.a"]]
