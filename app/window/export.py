"""Snapshot pictures and report, in two steps so that the window never blocks while a snapshot is written.

1. `prepare(view)` on the GUI thread (milliseconds): from a `ViewState`, the plain value the window takes of what it
   shows (`window.png`, the arrays by reference, scale, levels, colour maps, difference mode, side names and notes,
   inspected pixels), the panels' specs; it never reads the window's widgets.
2. `render(plan, session, c, py, metrics)` on the export worker: draws the files with QPainter on QImages (safe off
   the GUI thread) and returns them for app.bundle.snapshot.write_snapshot's extra_files:
       window.png                    the whole window as it looked
       inspector_plots.png           the inspector's plots as they looked (when a pixel was traced)
       panel_a.png, panel_b.png, panel_diff.png
                                     each panel with pixel axes, colour bar and units, the side's engine name, the
                                     inspected pixels marked, and for the difference where its colours clip
       pixel_s<S>_f<F>_figure.png    one figure per inspected pixel (app.bundle.figures)
       report.html                   everything above with the metrics and per-φ tables, self-contained
`notify_written(window, path)` then says where the snapshot went, with a button that opens the folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app.bundle import compare_png, panel_png
from app.bundle.report_files import report_files
from app.core.colormaps import DIVERGING_COLORMAP
from app.core.records import PixelInspection
from app.core.scaling import Levels
from tracing.metrics import ParityThresholds


def widget_png(widget: QtWidgets.QWidget) -> bytes:
    """A PNG of the widget as it is drawn now (GUI thread)."""
    return panel_png.image_png_bytes(widget.grab())


@dataclass
class ExportPlan:
    """What the export worker draws: a copy of the view's state, taken on the GUI thread."""

    window_png: bytes
    specs: dict[str, panel_png.PanelSpec]
    names: tuple[str, str]
    side_notes: tuple[str, str]
    inspections: list[Any] = field(default_factory=list)
    tol: float = ParityThresholds().phi_tol
    inspector_png: bytes | None = None
    notes: list[str] = field(default_factory=list)      # e.g. where a loaded side's traces come from
    extra: dict[str, bytes] = field(default_factory=dict)  # drawn on the GUI thread: profile.csv / profile.png
    compare: compare_png.CompareInput | None = None        # the swipe / overlay shown, drawn on the worker


@dataclass(frozen=True)
class ViewState:
    """What the window shows, as plain values the window takes on the GUI thread (app.window.window_io.view_state);
    no widgets, arrays by reference. images: sides A and B, float32 (slow, fast) photons or None; levels: the shared
    colour levels; side_levels: each side's own levels when A's and B's differ (more than 10x), else None; diff_raw
    and diff_levels: the difference shown and its colour bar's levels, or None; marks are the inspected pixels."""

    window_png: bytes
    images: tuple[np.ndarray | None, np.ndarray | None]
    names: tuple[str, str]
    side_notes: tuple[str, str]
    scale: str
    percentile: float
    cmap: str
    diff_mode: str
    levels: Levels
    floor: float | None
    side_levels: tuple[Levels, Levels] | None = None
    diff_raw: np.ndarray | None = None
    diff_levels: Levels | None = None
    inspections: tuple[PixelInspection, ...] = ()
    tol: float = ParityThresholds().phi_tol
    inspector_png: bytes | None = None
    trace_notes: tuple[str, ...] = ()
    extra: dict[str, bytes] = field(default_factory=dict)  # drawn on the GUI thread: profile.csv / profile.png
    compare: compare_png.CompareInput | None = None        # the swipe / overlay shown, drawn on the worker

    @property
    def marks(self) -> list[tuple[int, int]]:
        return [(i.slow, i.fast) for i in self.inspections]


def prepare(view: ViewState) -> ExportPlan:
    """The export worker's plan from the window's view (GUI thread; no per-pixel work)."""
    marks = view.marks
    specs = panel_png.panel_specs(view.images[0], view.images[1], scale=view.scale, percentile=view.percentile,
                                  cmap=view.cmap, diff_mode=view.diff_mode, levels=view.levels, names=view.names,
                                  marks=marks, with_diff=False, floor=view.floor)
    if view.side_levels is not None and "b" in specs:
        specs["b"].levels = view.side_levels[1]   # B's own colour scale, as in the window
        specs["b"].note = "own colour scale (A's and B's levels differ by more than 10×)"
    if view.diff_raw is not None and view.diff_levels is not None:
        # The difference the user sees, with the levels of its colour bar.
        specs["diff"] = panel_png.diff_spec(view.diff_raw, view.diff_mode, view.diff_levels, view.names, marks,
                                            DIVERGING_COLORMAP)
    return ExportPlan(view.window_png, specs, view.names, view.side_notes, list(view.inspections), view.tol,
                      view.inspector_png, list(view.trace_notes), dict(view.extra), view.compare)


def render(plan: ExportPlan, session, c, py, metrics) -> dict[str, bytes]:
    """The snapshot's picture and report files (any thread); see the module docstring."""
    files: dict[str, bytes] = {"window.png": plan.window_png}
    if plan.inspector_png is not None:
        files["inspector_plots.png"] = plan.inspector_png
    for key, spec in plan.specs.items():
        if spec.signed and spec.note == "":
            spec.note = panel_png.clip_note(spec.raw, spec.levels, spec.unit)
        files[f"panel_{key}.png"] = panel_png.png_bytes(spec)
    if plan.compare is not None:
        files.update(compare_png.render(plan.compare))
    files.update(plan.extra)
    record = session.record(c, py, metrics, plan.inspections)
    files.update(report_files(record, files, plan.names, plan.side_notes, plan.notes, plan.tol))
    return files


def notify_written(window: QtWidgets.QWidget, path: Path) -> QtWidgets.QMessageBox:
    """A non-modal note saying where the snapshot is, with "Open folder" (the system's file browser)."""
    box = QtWidgets.QMessageBox(window)
    box.setWindowTitle("Snapshot written")
    box.setIcon(QtWidgets.QMessageBox.Icon.Information)
    box.setText(f"The snapshot was written to<br><b>{path}</b><br>Open <code>report.html</code> in a browser to "
                "read it without nbparity.")
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    open_button = box.addButton("Open folder", QtWidgets.QMessageBox.ButtonRole.ActionRole)
    box.addButton(QtWidgets.QMessageBox.StandardButton.Close)
    open_button.clicked.connect(lambda: QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(path))))
    box.setModal(False)
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open_button = open_button
    box.show()
    return box
