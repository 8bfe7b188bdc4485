"""No module under src/ imports itself back through others, ``TYPE_CHECKING`` imports included.

A cycle makes import order matter, forces imports into function bodies and
hides which module owns a concept. grimp (installed with import-linter) builds
the import graph; every strongly connected component of more than one module
is a cycle, listed in the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import grimp
import pytest

ROOT_PACKAGES = ("bookingcore", "bookingcore_adapters")


def strongly_connected_components(
    nodes: Iterable[str], successors: Callable[[str], Iterable[str]]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns every component of two or more nodes, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(successors(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(successors(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others."""
    return strongly_connected_components(graph.modules, graph.find_modules_directly_imported_by)


def test_src_has_no_import_cycles() -> None:
    graph = grimp.build_graph(*ROOT_PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in src/:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_check_finds_a_cycle_closed_only_by_a_type_checking_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclepkg import b\n")
    (package / "b.py").write_text("from cyclepkg.c import C\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cyclepkg.a import A\n"
        "class C: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclepkg", exclude_type_checking_imports=False, cache_dir=None)
    assert import_cycles(graph) == [["cyclepkg.a", "cyclepkg.b", "cyclepkg.c"]]


def test_the_services_of_auth_and_partners_do_not_import_each_other() -> None:
    graph = grimp.build_graph("bookingcore", exclude_type_checking_imports=False, cache_dir=None)
    assert not graph.chain_exists("bookingcore.services.partners", "bookingcore.services.auth")
