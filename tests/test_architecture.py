"""The package map of docs/ARCHITECTURE.md, enforced: no import cycle between modules in src/
and no import across a forbidden edge.

Every import counts: module level, `if TYPE_CHECKING:` blocks and imports inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "cbas_async"

# The roles of docs/ARCHITECTURE.md's package map; every other module of src/ is shared code.
# A module is in a group when its name is the group or starts with the group and a dot.
ENTRY = ("cbas_async.__main__", "cbas_async.cli", "cbas_async.demo")
ROOTS = ("cbas_async.master", "cbas_async.local", "cbas_async.worker")
SERVICES = ("cbas_async.handlers", "cbas_async.web", "cbas_async.metrics")
SERVICE_EDGES = {("cbas_async.web", "cbas_async.metrics")}  # the web face serves /metrics
WORKER = "cbas_async.worker"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute package a `from ... import` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module of `known` that `name` imports, anywhere in its source."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, path, node)
            # `from pkg import module` names the module; `from module import name` the module
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def in_group(module: str, group: str) -> bool:
    return module == group or module.startswith(group + ".")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other (strongly connected), each sorted."""
    reach = {node: reachable(graph, node) for node in graph}
    found = {
        tuple(sorted(other for other in reach[node] if node in reach.get(other, ())))
        for node in graph
        if node in reach[node]
    }
    return sorted(list(group) for group in found)


def shortest_cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    """One shortest import path from `start` back to itself, to name in a failure."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                todo.append(nxt)
    return []


def describe(graph: dict[str, set[str]]) -> str:
    return "\n".join(" -> ".join(shortest_cycle(graph, c[0])) for c in cycles(graph))


def group(module: str) -> tuple[str, str]:
    """(role, group) of a module: its entry point, root, service or shared top-level name."""
    for role, groups in (("entry", ENTRY), ("root", ROOTS), ("service", SERVICES)):
        for name in groups:
            if in_group(module, name):
                return role, name
    return "shared", ".".join(module.split(".")[:2])


def why_forbidden(importer: str, target: str) -> str | None:
    """Why `importer` may not import `target`, or None when it may."""
    (role, mine), (their_role, theirs) = group(importer), group(target)
    if role == "entry" or mine == theirs:
        return None
    if their_role == "entry":
        return "nothing imports an entry point"
    if in_group(importer, "cbas_async.spot") and in_group(target, "cbas_async.sim"):
        return "production spot code never loads the simulator"
    if role == "shared" and their_role != "shared":
        return "shared code imports no root and no service"
    if role == "service" and their_role == "root":
        return "a service never imports a root"
    if role == "service" and their_role == "service" and (mine, theirs) not in SERVICE_EDGES:
        return "services do not import each other"
    if role == "root" and their_role == "root":
        return "roots never import each other"
    if mine == WORKER and their_role == "service":
        return "the worker imports only shared code"
    return None


def forbidden_edges(graph: dict[str, set[str]]) -> list[str]:
    bad: list[str] = []
    for importer, targets in sorted(graph.items()):
        for target in sorted(targets):
            why = why_forbidden(importer, target)
            if why is not None:
                bad.append(f"{importer} -> {target} ({why})")
    return bad


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between top-level packages and modules (`cbas_async.master`, `...store`)."""
    packages: dict[str, set[str]] = {}
    for importer, targets in graph.items():
        mine = ".".join(importer.split(".")[:2])
        theirs = {".".join(t.split(".")[:2]) for t in targets}
        packages.setdefault(mine, set()).update(theirs - {mine})
    return packages


def test_no_import_cycle() -> None:
    found = describe(import_graph())
    assert not found, "import cycles:\n" + found


def test_no_import_cycle_between_packages() -> None:
    found = describe(package_graph(import_graph()))
    assert not found, "package cycles:\n" + found


def test_no_forbidden_import() -> None:
    bad = forbidden_edges(import_graph())
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "a.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "from .c import thing\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.d import Other\n"
        "def later() -> None:\n"
        "    import pkg.e.inner\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e"}
    assert set(imported("pkg.a", source, known)) == {"pkg.b", "pkg.c", "pkg.d", "pkg.e"}


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_cycles_are_found(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_a_cycle_is_named_by_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert describe(graph) == "a -> b -> c -> a"


@pytest.mark.parametrize(
    ("importer", "target", "why"),
    [
        ("cbas_async.handlers.x", "cbas_async.master.app", "a service never imports a root"),
        ("cbas_async.web.api", "cbas_async.master.y", "a service never imports a root"),
        ("cbas_async.metrics", "cbas_async.master.y", "a service never imports a root"),
        ("cbas_async.local.cloud", "cbas_async.master.app", "roots never import each other"),
        ("cbas_async.worker.agent", "cbas_async.master.y", "roots never import each other"),
        ("cbas_async.master.app", "cbas_async.local.cloud", "roots never import each other"),
        ("cbas_async.worker.agent", "cbas_async.handlers.x", "the worker imports only shared code"),
        ("cbas_async.handlers.x", "cbas_async.web.api", "services do not import each other"),
        (
            "cbas_async.spot.broker",
            "cbas_async.sim.step",
            "production spot code never loads the simulator",
        ),
        (
            "cbas_async.sim.step",
            "cbas_async.handlers.x",
            "shared code imports no root and no service",
        ),
        (
            "cbas_async.store",
            "cbas_async.local.cloud",
            "shared code imports no root and no service",
        ),
        ("cbas_async.commands", "cbas_async.cli", "nothing imports an entry point"),
    ],
)
def test_a_forbidden_edge_is_named(importer: str, target: str, why: str) -> None:
    assert forbidden_edges({importer: {target}}) == [f"{importer} -> {target} ({why})"]


@pytest.mark.parametrize(
    ("importer", "target"),
    [
        ("cbas_async.master.app", "cbas_async.handlers.x"),
        ("cbas_async.local.cloud", "cbas_async.web.auth"),
        ("cbas_async.web.api", "cbas_async.metrics"),
        ("cbas_async.cli", "cbas_async.local.cloud"),
        ("cbas_async.sim.step", "cbas_async.spot.market"),
        ("cbas_async.handlers.x", "cbas_async.fleet.launcher"),
    ],
)
def test_an_allowed_edge_passes(importer: str, target: str) -> None:
    assert forbidden_edges({importer: {target}}) == []
