"""Issue 15: the snapshot export takes a plain `ViewState`, not the window: its panel specs follow from the values
alone (no widget, no window, no event loop), the way the window's panels show them."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from app.core.records import PixelInspection
from app.core.scaling import Levels
from app.window import export

EXPORT_SOURCE = Path(export.__file__)


def _state(**over) -> export.ViewState:
    a = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    b = a * 2
    base = dict(window_png=b"\x89PNG window", images=(a, b), names=("engine A", "engine B"),
                side_notes=("0.10 s", "0.20 s"), scale="linear", percentile=99.5, cmap="grey", diff_mode="diff",
                levels=Levels(0.0, 12.0), floor=1e-3)
    return export.ViewState(**{**base, **over})


def test_prepare_draws_what_the_view_state_says():
    insp = PixelInspection(slow=1, fast=2)
    plan = export.prepare(_state(inspections=(insp,), tol=1e-3, trace_notes=("B traced by its engine",)))
    assert set(plan.specs) == {"a", "b"}                    # no difference shown, none drawn
    a_spec, b_spec = plan.specs["a"], plan.specs["b"]
    assert (a_spec.title, b_spec.title) == ("engine A", "engine B")
    assert a_spec.levels == b_spec.levels == Levels(0.0, 12.0)   # the shared levels, as given
    assert a_spec.cmap == "grey" and a_spec.marks == [(1, 2)] and b_spec.marks == [(1, 2)]
    assert plan.names == ("engine A", "engine B") and plan.side_notes == ("0.10 s", "0.20 s")
    assert plan.tol == 1e-3 and plan.notes == ["B traced by its engine"] and plan.inspections == [insp]
    assert plan.window_png == b"\x89PNG window" and plan.inspector_png is None


def test_own_side_levels_and_the_shown_difference_reach_the_plan():
    d = np.full((3, 4), -1.0, dtype=np.float32)
    plan = export.prepare(_state(side_levels=(Levels(0.0, 12.0), Levels(0.0, 240.0)), diff_raw=d,
                                 diff_levels=Levels(-2.0, 2.0)))
    assert plan.specs["b"].levels == Levels(0.0, 240.0)     # B's own colour scale, as the window shows it
    assert "own colour scale" in plan.specs["b"].note
    diff = plan.specs["diff"]
    assert diff.signed and diff.levels == Levels(-2.0, 2.0) and diff.raw is d   # the array by reference
    assert "engine A" in diff.title and "engine B" in diff.title


def test_export_never_names_the_window():
    """The module reads no window: no MainWindow import, no parameter called window other than notify_written's
    parent of the message box."""
    tree = ast.parse(EXPORT_SOURCE.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "MainWindow" not in imported
    takes_window = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                    for a in n.args.args if a.arg in ("window", "win")}
    assert takes_window == {"notify_written"}
