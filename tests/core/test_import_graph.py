"""app/ in layers with no import cycles (issues 7 and 15), read from the sources.

Every import counts: module level, inside functions, and type-only ones under `if TYPE_CHECKING:` (a type-only
import is still an arrow a reader follows, and a cycle hidden behind one is still a cycle). The layers are the
folders of app/ in the order of `app.LAYERS`; a module imports only its own layer and the layers before it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app import LAYERS, QT_FREE_LAYERS

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {"app", "app.__main__"}   # the package root and `python -m app`: above every layer
QT_MODULES = ("PySide6", "pyqtgraph")


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, root: Path = REPO) -> set[str]:
    """Every dotted name `path` imports (`from a.b import c` gives a.b and a.b.c), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def app_graph(root: Path = REPO) -> dict[str, set[str]]:
    """app module -> the app modules it imports (a name is cut back to the longest module it names)."""
    files = sorted((root / "app").rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    graph: dict[str, set[str]] = {}
    for p in files:
        me = module_name(p, root)
        edges = set()
        for name in imported_names(p, root):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me:
                edges.add(name)
        graph[me] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cyc = visit(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            cyc = visit(n)
            if cyc:
                return cyc
    return None


def layer_of(module: str) -> str | None:
    """The layer folder of an app module (app.core.session -> "core"); None for the entry points."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in LAYERS else None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """One sentence per arrow that points up the layer order, or that leaves a module outside every layer."""
    order = " < ".join(LAYERS)
    problems = []
    for module in sorted(graph):
        mine = layer_of(module)
        if mine is None:
            if module not in ENTRY_POINTS:
                problems.append(f"{module} is in no layer folder (layers: {order})")
            continue
        for dep in sorted(graph[module]):
            theirs = layer_of(dep)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append(f"{module} -> {dep}: layer {mine} imports layer {theirs}, which is above it "
                                f"({order})")
            elif dep == "app.__main__":
                problems.append(f"{module} -> {dep}: imports the entry point")
    return problems


def qt_violations(root: Path = REPO) -> list[str]:
    """Modules of the Qt-free layers that import PySide6 or pyqtgraph (anywhere in the file)."""
    bad = []
    for layer in QT_FREE_LAYERS:
        for p in sorted((root / "app" / layer).rglob("*.py")):
            qt = sorted(n for n in imported_names(p, root) if n.split(".")[0] in QT_MODULES)
            if qt:
                bad.append(f"{module_name(p, root)} imports {qt[0]} (layer {layer} is Qt-free)")
    return bad


# ---- the checker itself ----------------------------------------------------------------------------------------
def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_a_deliberate_upward_import_fails_the_layer_check():
    """One added arrow from the Qt-free session up to a widget is named, edge and layers, and it is the only one."""
    graph = app_graph()
    assert layer_violations(graph) == []
    planted = {k: set(v) for k, v in graph.items()}
    planted["app.core.session"].add("app.widgets.image_panels")
    problems = layer_violations(planted)
    assert len(problems) == 1
    assert problems[0].startswith("app.core.session -> app.widgets.image_panels: layer core imports layer widgets")


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"app/__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_type_only_upward_import_in_a_planted_tree_is_counted(tmp_path):
    """A tree on disk whose core module imports the window only `if TYPE_CHECKING:` fails both checks: the arrow
    points up, and with the window's import of core it closes a cycle."""
    root = _plant(tmp_path, {
        "app/core/__init__.py": "",
        "app/core/records.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from app.window.main_window import MainWindow\n",
        "app/window/__init__.py": "",
        "app/window/main_window.py": "from app.core import records\n",
    })
    graph = app_graph(root)
    assert graph["app.core.records"] == {"app.window.main_window"}
    assert find_cycle(graph) == ["app.core.records", "app.window.main_window", "app.core.records"]
    assert layer_violations(graph) == [
        "app.core.records -> app.window.main_window: layer core imports layer window, which is above it "
        f"({' < '.join(LAYERS)})"]


def test_a_module_outside_the_layers_and_qt_in_core_are_named(tmp_path):
    root = _plant(tmp_path, {"app/loose.py": "import app.core.maths\n", "app/core/__init__.py": "",
                             "app/core/maths.py": "def f():\n    from PySide6 import QtCore\n"})
    assert layer_violations(app_graph(root)) == [f"app.loose is in no layer folder (layers: {' < '.join(LAYERS)})"]
    assert qt_violations(root) == ["app.core.maths imports PySide6 (layer core is Qt-free)"]


# ---- the code ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph():
    return app_graph()


def test_the_reader_sees_real_edges(graph):
    # Sanity: the graph has arrows at every depth, or a broken reader would pass everything below.
    assert graph["app.core.session"] >= {"app.core.records", "app.engines.base", "app.engines.registry"}
    assert "app.window.main_window" in graph["app.window.lifecycle"]   # a lazy import inside run_gui
    assert "app.sweep.matrix" in graph["app.sweep.engines"]            # only under `if TYPE_CHECKING:`
    assert sum(len(v) for v in graph.values()) > 100


def test_app_has_no_import_cycles(graph):
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_app_keeps_its_layers(graph):
    assert layer_violations(graph) == []


def test_every_app_folder_is_a_layer_with_a_one_line_job():
    folders = {p.parent.name for p in (REPO / "app").glob("*/__init__.py")}
    assert folders == set(LAYERS)
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((REPO / "app" / layer / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"app/{layer}/__init__.py has no docstring saying its job"
    assert not [p.name for p in (REPO / "app").glob("*.py") if p.name not in ("__init__.py", "__main__.py")]


def test_qt_free_layers_import_no_qt():
    assert qt_violations() == []
