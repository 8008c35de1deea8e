"""Snapshot pictures and report, in two steps so that the window never blocks while a snapshot is written.

1. `prepare(window)` on the GUI thread (milliseconds): grabs `window.png` and records what the panels show (the
   arrays by reference, scale, levels, colour maps, difference mode, side names and notes, inspected pixels).
2. `render(plan, session, c, py, metrics)` on the export worker: draws the files with QPainter on QImages (safe off
   the GUI thread) and returns them for ComparisonSession.write_bundle's extra_files:
       window.png                    the whole window as it looked
       inspector_plots.png           the inspector's plots as they looked (when a pixel was traced)
       panel_a.png, panel_b.png, panel_diff.png
                                     each panel with pixel axes, colour bar and units, the side's engine name, the
                                     inspected pixels marked, and for the difference where its colours clip
       pixel_s<S>_f<F>_figure.png    one figure per inspected pixel (app.figures)
       report.html                   everything above with the metrics and per-φ tables, self-contained
`notify_written(window, path)` then says where the snapshot went, with a button that opens the folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets

from app import compare_png, figures, panel_png, report_html
from app.colour_bar import DIVERGING_COLORMAP
from app.scaling import Levels
from app.sides import SIDES
from tracing.metrics import ParityThresholds

if TYPE_CHECKING:
    from app.main_window import MainWindow


def widget_png(widget: QtWidgets.QWidget) -> bytes:
    """A PNG of the widget as it is drawn now (GUI thread)."""
    pix = widget.grab()
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    pix.save(buf, "PNG")
    return bytes(buf.data())


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


def prepare(window: MainWindow) -> ExportPlan:
    """Record the window's view for a snapshot (GUI thread; no per-pixel work)."""
    panels = window.panels
    names = (panels.panel_a.title, panels.panel_b.title)
    insps = window.inspector.inspections()
    lv = panels.levels()
    marks = [(i.slow, i.fast) for i in insps]
    specs = panel_png.panel_specs(panels.image_a(), panels.image_b(), scale=panels.scale,
                                  percentile=panels.percentile_spin.value(), cmap=panels.colormap(),
                                  diff_mode=panels.mode(), levels=Levels(lv.low, lv.high), names=names,
                                  marks=marks, with_diff=False, floor=panels.display_floor())
    if not panels.scales_shared() and "b" in specs:
        specs["b"].levels = panels.side_levels()[1]   # B's own colour scale, as in the window
        specs["b"].note = "own colour scale (A's and B's levels differ by more than 10×)"
    if panels.diff_raw is not None:
        # The difference the user sees, with the levels of its colour bar.
        specs["diff"] = panel_png.diff_spec(panels.diff_raw, panels.mode(), panels.diff_bar.levels(), names, marks,
                                            DIVERGING_COLORMAP)
    plots = widget_png(window.inspector.plots_widget()) if window.inspector.inspection is not None else None
    return ExportPlan(widget_png(window), specs, names,
                      (panels.panel_a.note(), panels.panel_b.note()), insps, window.inspector.tol, plots,
                      window.inspector.trace_source_notes(), panels.profile.export_files(),
                      compare_png.capture(panels, marks))


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


def report_files(record, pictures: dict[str, bytes], names: tuple[str, str] | None = None,
                 side_notes: tuple[str, str] | None = None, notes: list[str] | None = None,
                 tol: float = ParityThresholds().phi_tol) -> dict[str, bytes]:
    """One figure per inspected pixel and report.html for an app.session.ComparisonRecord (any thread; also for
    headless bundles). pictures: the panel PNGs already drawn (file name -> bytes), embedded in the report."""
    from tracing.metrics import metric_rows
    names = names or (record.label("a"), record.label("b"))
    if side_notes is None:
        side_notes = tuple(_side_note(record.outcome(s)) for s in SIDES)
    files: dict[str, bytes] = {}
    figs: dict[tuple[int, int], bytes] = {}
    for insp in record.inspections:
        png = figures.pixel_figure_png(insp, names, tol, notes or ())
        figs[(insp.slow, insp.fast)] = png
        files[f"{insp.stem}_figure.png"] = png
    v = record.verdict
    inp = report_html.ReportInput(
        manifest=record.manifest, names=names,
        metric_rows=metric_rows(record.metrics) if record.metrics is not None else [],
        verdict=v.sentence() if v is not None else None, passed=v.passed if v is not None else None,
        side_notes=side_notes, panels={k: b for k, b in pictures.items() if k.startswith("panel_")},
        inspections=list(record.inspections), figures=figs, notes=list(notes or []))
    files["report.html"] = report_html.build_report(inp).encode("utf-8")
    return files


def _side_note(outcome) -> str:
    """A side's run column in the report: its time, "loaded …", or why it has no image."""
    if outcome is None:
        return "not run"
    if not outcome.ok:
        return f"failed: {outcome.error}"
    meta = outcome.result.meta or {}
    return str(meta["loaded"]) if meta.get("loaded") else f"{outcome.result.wall_s:.2f} s"


def window_pngs(window: MainWindow) -> dict[str, bytes]:
    """All picture and report files at once, on this thread (small cases, tests)."""
    plan = prepare(window)
    session = window.session or window._session_for_loaded()
    return render(plan, session, window.outcome_a, window.outcome_b, window.metrics)


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
