"""The import structure the code base promises (docs/architecture.md): no cycles, and each
package imports only the layers below it. Checked on the real import graph (grimp parses
every import statement, the ones inside functions too)."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

PACKAGES = ("mrw", "pvse", "baselines", "leaderboard")
# The bottom layer: utilities every package may use.
CORE = (
    "mrw.core.errors",
    "mrw.core.atomic",
    "mrw.core.cliutil",
    "mrw.core.provenance",
    "mrw.core.untrusted",
    "mrw.core.cliargs",
    "mrw.progress",
)
# (importer, imported, exceptions): `importer` and its submodules never import `imported` or
# its submodules, except the modules listed.
FORBIDDEN = [
    ("leaderboard", "mrw", CORE),  # the scorer stands alone: it must not see the data or harness
    ("mrw", "pvse", ()),  # the harness knows methods only through the registry
    ("mrw", "baselines", ()),
    ("baselines", "pvse", ()),  # baselines share encoders with PVSE, never import it
    ("pvse", "baselines", ()),
    ("mrw.collect", "mrw.bench", ()),  # a collection machine needs no harness
    ("mrw.catalog", "mrw.dataset", ()),  # the catalogue is read by everything, reads nothing
    ("mrw.dataset", "mrw.bench", ()),
    ("mrw.dataset", "mrw.toy.video", ()),  # the format knows no particular dataset
    ("mrw.core.text", "mrw", ()),
]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


@pytest.mark.parametrize("importer, imported, allowed", FORBIDDEN)
def test_layers_import_only_downwards(
    graph: grimp.ImportGraph, importer: str, imported: str, allowed: tuple[str, ...]
) -> None:
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    violations = [
        f"{a} -> {b}"
        for a in graph.modules
        if inside(a, importer)
        for b in graph.find_modules_directly_imported_by(a)
        if inside(b, imported) and not inside(b, importer) and b not in allowed
    ]
    assert violations == []


def test_collection_imports_no_torch() -> None:
    code = (
        "import sys, mrw.collect.pipeline, mrw.commands.collect, mrw.curate.clean, mrw.curate.build, mrw.core.text; "
        "print(sorted(m for m in ('torch', 'mrw.bench') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
