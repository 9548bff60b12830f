"""The import structure the code base promises (docs/architecture.md): no cycles, and each
package imports only the layers below it. Checked on the real import graph (grimp parses
every import statement, the ones inside functions too)."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

PACKAGES = ("mrw", "pvse", "baselines", "leaderboard")
# The floors, bottom first. A module belongs to the entry that is the longest prefix of its
# name (the entry `mrw` is the package's `__init__` alone); it may import its own folder and
# every lower floor. The folders of one floor are independent: none imports another.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mrw.core",),  # errors, atomic writes, untrusted input, provenance, tokenizer, version, CLI
    ("mrw.catalog", "leaderboard"),  # the dataset catalogue; the scorer (run files, metrics)
    ("mrw.media",),  # decoding as browsers show it
    ("mrw.net",),  # guarded fetching, downloader, archives
    ("mrw.collect", "mrw.dataset", "mrw.methods"),  # posts; the format; the method interface
    ("mrw.curate", "mrw.sources", "mrw.toy", "pvse", "baselines"),
    ("mrw.bench", "leaderboard.server"),  # the harness; the hosted board
    ("mrw.commands", "mrw.bench.commands", "leaderboard.commands"),
    ("mrw", "mrw.cli", "mrw.bench.cli", "leaderboard.cli", "mrw.demo", "mrw.testing"),
)


def floor_of(module: str) -> tuple[int, str] | None:
    """(floor, folder) of `module`, or None when no entry of `LAYERS` holds it."""
    found = [
        (len(entry), level, entry)
        for level, entries in enumerate(LAYERS)
        for entry in entries
        if module == entry or (entry != "mrw" and module.startswith(entry + "."))
    ]
    return max(found)[1:] if found else None


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)


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


def test_every_module_sits_on_a_floor(graph: grimp.ImportGraph) -> None:
    assert sorted(m for m in graph.modules if floor_of(m) is None) == []


def test_imports_go_down_the_floors(graph: grimp.ImportGraph) -> None:
    violations = []
    for importer in sorted(graph.modules):
        here = floor_of(importer)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            there = floor_of(imported)
            if here and there and there != here and there[0] >= here[0]:
                violations.append(f"{importer} ({here[1]}) -> {imported} ({there[1]})")
    assert violations == []


def test_the_floor_rule_sees_type_only_imports() -> None:
    graph = grimp.build_graph("mrw", exclude_type_checking_imports=False)
    typed_only = grimp.build_graph("mrw", exclude_type_checking_imports=True)
    count = sum(len(graph.find_modules_directly_imported_by(m)) for m in graph.modules)
    assert count > sum(len(typed_only.find_modules_directly_imported_by(m)) for m in graph.modules)


def test_collection_imports_no_torch() -> None:
    code = (
        "import sys, mrw.collect.pipeline, mrw.commands.collect, mrw.curate.clean, "
        "mrw.curate.build, mrw.core.text; "
        "print(sorted(m for m in ('torch', 'mrw.bench') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
