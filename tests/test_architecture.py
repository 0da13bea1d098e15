"""The architecture rules, enforced: import-linter contracts (pyproject.toml, [tool.importlinter]) and no
import cycles. Both read every import statement, function-level (lazy) ones included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("abkit", "experiments", "generators", "reports", "serving", "webapp")


def _lint_imports(contract: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is not installed (pip install 'abkit[test]')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([exe, "--no-cache", "--contract", contract], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("contract", [
    "core",
    "siblings",
    "top",
    "text-any-catalog",
])
def test_import_contract(contract: str) -> None:
    proc = _lint_imports(contract)
    assert "Contracts: 1 kept, 0 broken." in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*PACKAGES, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The cycles of a directed graph: its strongly connected components with more than one node
    (or a node importing itself), each sorted. Iterative Tarjan, so deep graphs do not recurse."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))
    return found


def _collapsed(graph: grimp.ImportGraph, units: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between groups of modules (an edge when any member imports any member)."""
    unit_of = {module: unit for unit, members in units.items() for module in members}
    edges: dict[str, set[str]] = {unit: set() for unit in units}
    for module, unit in unit_of.items():
        for imported in graph.find_modules_directly_imported_by(module):
            target = unit_of.get(imported)
            if target is not None and target != unit:
                edges[unit].add(target)
    return edges


def test_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert strongly_connected(edges) == [["a", "b", "c"], ["e"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", [
    "abkit", "experiments", "generators", "reports", "serving", "webapp",
])
def test_no_import_cycles_inside(graph: grimp.ImportGraph, package: str) -> None:
    """No module imports itself through others, and sibling subpackages/modules (each with everything
    below it) never import each other both ways, at every level of the package's tree."""
    modules = {package} | graph.find_descendants(package)
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    assert strongly_connected(edges) == []
    for parent in sorted(modules):
        children = graph.find_children(parent)
        if len(children) > 1:
            units = {c: {c} | graph.find_descendants(c) for c in children}
            assert strongly_connected(_collapsed(graph, units)) == [], f"between the children of {parent}"


def test_no_cycles_between_top_level_packages(graph: grimp.ImportGraph) -> None:
    """abkit.cli (and `python -m abkit`, which runs it) counts apart from the core it composes."""
    cli = {"abkit.cli", "abkit.__main__"} | graph.find_descendants("abkit.cli")
    top = {p: {p} | graph.find_descendants(p) for p in PACKAGES}
    top["abkit"] -= cli
    top["abkit.cli"] = cli
    assert strongly_connected(_collapsed(graph, top)) == []


def test_test_folders_mirror_the_packages() -> None:
    """tests/<package>/<subpackage>/...: every test folder names a package of the source tree
    (tests/docs checks the docs/ folder, which is documentation, not a package)."""
    folders = {p.parent.relative_to(ROOT / "tests") for p in (ROOT / "tests").rglob("test_*.py")}
    stray = [str(f) for f in folders
             if f.parts and f.parts[0] != "docs" and not (ROOT / f / "__init__.py").is_file()]
    assert stray == []
