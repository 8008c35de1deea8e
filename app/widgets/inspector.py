"""The per-pixel φ inspector: both engines' per-φ values of one pixel, overlaid, with the first divergence marked.

It only shows and asks: the window runs `ComparisonSession.inspect_pixel` on a worker and hands the resulting
PixelInspection to `show_inspection`, and the pixel's pipeline diff (app.core.inspection_pipeline.PixelPipeline, made on
the same worker) to `show_pipeline`. Comparisons for another path (mosaic domain, source, sub-pixel, layer) are
recomputed here with tracing.phi_compare.compare_traces, which is cheap. Its pages live in their own modules:
app.widgets.inspector_plots (Plots), app.widgets.inspector_table (Table), app.widgets.inspector_pipeline
(Pipeline); where it sits (own window, maximised) in app.widgets.inspector_window.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

from app.widgets.inspector_controls import InspectorControls, PixelSpinBox, path_for, trace_paths
from app.widgets.inspector_pipeline import PipelinePage
from app.widgets.inspector_plots import DEFAULT_TOL, FIELD_TITLES, MIN_PLOT_HEIGHT, PhiPlots, field_series
from app.widgets.inspector_summary import summary_html, trace_source_notes
from app.widgets.inspector_table import PhiTablePage, fill_phi_table
from app.widgets.inspector_window import InspectorPlacement
from tracing.phi_compare import PhiComparison, compare_traces
from tracing.records import PathKey

__all__ = ["FIELD_TITLES", "MIN_PLOT_HEIGHT", "PhiInspector", "PixelSpinBox", "field_series"]

PIPELINE_WAIT = "computing the pipeline diff…"


class PhiInspector(QtWidgets.QWidget):
    """Shows a PixelInspection. Signals ask the window for work:
        inspectRequested(slow, fast)  trace this pixel (typed in, or picked from the history)
        gotoMaxRequested()            trace the pixel of largest |C − PyTorch|
    """

    inspectRequested = Signal(int, int)
    gotoMaxRequested = Signal()
    inspectionShown = Signal(int, int)   # (slow, fast) of the inspection now on show
    pipelineShown = Signal(int, int)     # (slow, fast) whose pipeline diff (or why there is none) is now on show
    HINT = "Click a pixel in an image (or type slow, fast and press Inspect) to trace it on both engines."

    def __init__(self, parent: QtWidgets.QWidget | None = None,
                 side_names: tuple[str, str] = ("C reference", "PyTorch")):
        super().__init__(parent)
        self.side_names = side_names
        self.trace_sources: dict[str, tuple[str, str | None]] = {}   # side -> (file name, tracing engine)
        self.inspection = None                     # app.core.records.PixelInspection
        self.comparison: PhiComparison | None = None
        self.tol = DEFAULT_TOL
        self._history: list[tuple[int, int]] = []
        self._cache: dict[tuple[int, int], object] = {}
        self._pipelines: dict[tuple[int, int], object] = {}   # (slow, fast) -> PixelPipeline

        self.controls = InspectorControls()
        c = self.controls
        self.slow_spin, self.fast_spin, self.busy_label = c.slow_spin, c.fast_spin, c.busy_label
        self.inspect_button, self.max_button = c.inspect_button, c.max_button
        self.own_window_button, self.maximise_button = c.own_window_button, c.maximise_button
        self.path_combos, self.path_labels = c.path_combos, c.path_labels
        for sp in (self.slow_spin, self.fast_spin):
            sp.returnPressed.connect(self._on_inspect)
        c.pathChanged.connect(self._on_path_changed)
        self.summary = QtWidgets.QLabel(self.HINT)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plots_page = PhiPlots(side_names)
        self.plots_page.tol_edit.editingFinished.connect(self._on_tol)
        self.table_page = PhiTablePage()
        self.table = self.table_page.table
        self.pipeline = PipelinePage(side_names)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.plots_page, "Plots")
        self.tabs.addTab(self.table_page, "Table")
        self.tabs.addTab(self.pipeline, "Pipeline")

        self.history = QtWidgets.QListWidget()
        self.history.setMaximumWidth(130)
        self.history.setToolTip("Inspected pixels; click one to show it again")
        self.history.itemActivated.connect(self._on_history)
        self.history.itemClicked.connect(self._on_history)
        hist_box = QtWidgets.QVBoxLayout()
        hist_box.addWidget(QtWidgets.QLabel("Inspected pixels"))
        hist_box.addWidget(self.history, 1)

        # Everything below the pixel boxes can move into its own window (set_own_window).
        self.content = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        body = QtWidgets.QHBoxLayout()
        body.addLayout(hist_box)
        body.addWidget(self.tabs, 1)
        cl.addWidget(self.summary)
        cl.addLayout(body, 1)
        self.placeholder = QtWidgets.QLabel("The inspector is in its own window (click “Own window” again, or close "
                                            "that window, to bring it back here).")
        self.placeholder.setVisible(False)
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.addWidget(self.controls)
        self._layout.addWidget(self.content, 1)
        self._layout.addWidget(self.placeholder)
        self.placement = InspectorPlacement(self, self._layout, self.content, self.placeholder,
                                            self.own_window_button, self.maximise_button)
        self.own_window_button.toggled.connect(self.set_own_window)
        self.maximise_button.toggled.connect(self.set_maximised)
        self.inspect_button.clicked.connect(self._on_inspect)
        self.max_button.clicked.connect(self.gotoMaxRequested)

    # ---- the Plots page's parts, under their former names ------------------------------------------------------------
    graphics = property(lambda self: self.plots_page.graphics)       # pg.GraphicsLayoutWidget of the small plots
    plots = property(lambda self: self.plots_page.plots)             # field -> pg.PlotItem
    curves = property(lambda self: self.plots_page.curves)           # (field, "a" | "b") -> pg.PlotDataItem
    delta_plot = property(lambda self: self.plots_page.delta_plot)   # the B − A plot
    legend = property(lambda self: self.plots_page.legend)           # QLabel pairing letters and names
    enlarged = property(lambda self: self.plots_page.enlarged)       # open enlarged-plot dialogs

    def enlarge(self, name: str) -> QtWidgets.QDialog:
        """Open one plot ('k_frac', …, or 'delta') large in its own window, with a legend."""
        return self.plots_page.enlarge(name)

    # ---- names, placement ------------------------------------------------------------------------------------------
    def set_side_names(self, a: str, b: str) -> None:
        """Name the two sides (any engine): legend, curve names, the difference plot's caption, the pipeline."""
        self.side_names = (a, b)
        self.plots_page.set_side_names(a, b)
        self.pipeline.set_side_names(a, b)
        if self.inspection is not None:
            self._recompare()

    def set_trace_source(self, side: str, file_name: str, tracer: str | None) -> None:
        """Side 'a' or 'b' shows an image loaded from `file_name`: its traces come from the engine `tracer` (the
        side's engine on the command line; None: none can trace it). Every inspection then says so."""
        self.trace_sources[side] = (file_name, tracer)
        if self.inspection is not None:
            self._recompare()

    def trace_source_notes(self) -> list[str]:
        """Sentences for the sides loaded from files: where their per-φ traces come from."""
        return trace_source_notes(self.trace_sources)

    @property
    def own_window(self) -> QtWidgets.QMainWindow | None:
        return self.placement.own_window

    @Slot(bool)
    def set_own_window(self, on: bool) -> None:
        """Move the plots, table and history into a top-level window (on) or back into the main window."""
        self.placement.set_own_window(on)

    @Slot(bool)
    def set_maximised(self, on: bool) -> None:
        """The inspector takes the room of everything beside it in the window's splitters, or gives it back."""
        self.placement.set_maximised(on)

    # ---- requests --------------------------------------------------------------------------------------------------
    def set_detector_shape(self, slow: int, fast: int) -> None:
        self.slow_spin.setMaximum(max(0, slow - 1))
        self.fast_spin.setMaximum(max(0, fast - 1))

    @Slot()
    def _on_inspect(self) -> None:
        self.inspectRequested.emit(self.slow_spin.value(), self.fast_spin.value())

    @Slot(QtWidgets.QListWidgetItem)
    def _on_history(self, item: QtWidgets.QListWidgetItem) -> None:
        s, f = item.data(Qt.ItemDataRole.UserRole)
        cached = self._cache.get((s, f))
        if cached is not None:
            self.show_inspection(cached)
        else:
            self.inspectRequested.emit(s, f)

    def set_busy(self, slow: int, fast: int) -> None:
        self.busy_label.setText(f"tracing pixel (slow={slow}, fast={fast})…")
        self.controls.set_pixel(slow, fast)

    def set_idle(self, message: str = "") -> None:
        self.busy_label.setText(message)

    def reset(self, message: str = "") -> None:
        """Forget every inspection (a new command line was run): empty plots, table, pipeline and history."""
        self.inspection = None
        self.comparison = None
        self.trace_sources.clear()   # a run: both sides are engines again
        self._cache.clear()
        self._pipelines.clear()
        self._history.clear()
        self.history.clear()
        self.plots_page.clear()
        self.controls.hide_paths()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.pipeline.clear()
        self.busy_label.setText("")
        self.summary.setText(message or self.HINT)

    def inspections(self) -> list:
        """Every inspection shown so far, in history order (for the snapshot)."""
        return [self._cache[k] for k in self._history if k in self._cache]

    # ---- display -------------------------------------------------------------------------------------------------
    def show_inspection(self, insp) -> None:
        """Display an app.core.records.PixelInspection (traces, comparison, errors)."""
        self.inspection = insp
        key = (insp.slow, insp.fast)
        self._cache[key] = insp
        if key not in self._history:
            self._history.append(key)
            item = QtWidgets.QListWidgetItem(f"slow {insp.slow}, fast {insp.fast}")
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.history.addItem(item)
        for i in range(self.history.count()):
            if self.history.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.history.setCurrentRow(i)
        self.controls.set_pixel(insp.slow, insp.fast)
        self.set_idle("")
        self._fill_path_combos()
        self._recompare()
        self._show_pipeline_of(key)
        self.inspectionShown.emit(insp.slow, insp.fast)

    def show_pipeline(self, pipe) -> None:
        """Keep an app.core.inspection_pipeline.PixelPipeline; show it when its pixel is the one on show."""
        key = (pipe.slow, pipe.fast)
        self._pipelines[key] = pipe
        if self.inspection is not None and (self.inspection.slow, self.inspection.fast) == key:
            if pipe.traces:
                self._recompare()   # plot and compare the converted values
            self._show_pipeline_of(key)

    def _show_pipeline_of(self, key: tuple[int, int]) -> None:
        pipe = self._pipelines.get(key)
        if pipe is None:
            self.pipeline.clear(PIPELINE_WAIT)
            return
        if pipe.diff is not None:
            self.pipeline.show_diff(pipe.diff)
        else:
            self.pipeline.show_reason(pipe.reason)
        self.pipelineShown.emit(*key)

    def status_text(self, insp) -> str:
        """The status bar's line for an inspection: its own, or the one in converted units when the pipeline diff
        found a side printing a plotted field in another unit."""
        pipe = self._pipelines.get((insp.slow, insp.fast))
        if pipe is None or not pipe.conversions or self.comparison is None or self.inspection is not insp:
            return insp.describe()
        return (f"pixel (slow={insp.slow}, fast={insp.fast}): {self.comparison.describe()} "
                f"(after converting {', '.join(pipe.conversions)})")

    def pipeline_of(self, slow: int, fast: int):
        """The PixelPipeline kept for a pixel (None: none arrived yet)."""
        return self._pipelines.get((slow, fast))

    def _paths(self) -> list[PathKey]:
        insp = self.inspection
        return trace_paths(insp.trace_a, insp.trace_b) if insp is not None else []

    def _fill_path_combos(self) -> None:
        self.controls.fill_paths(self._paths())

    def selected_path(self) -> PathKey | None:
        return self.controls.selected_path() if self._paths() else None

    @Slot()
    def _on_path_changed(self, *args) -> None:
        if self.inspection is not None:
            self._recompare()

    @Slot()
    def _on_tol(self) -> None:
        try:
            tol = float(self.plots_page.tol_edit.text())
        except ValueError:
            tol = self.tol
        self.tol = tol if tol >= 0 else self.tol
        self.plots_page.set_tol(self.tol)
        if self.inspection is not None:
            self._recompare()

    def _recompare(self) -> None:
        insp = self.inspection
        path = self.selected_path()
        # Per-φ values in the units the pipeline diff found (a side printing k at 1e-10 is shown converted).
        pipe = self._pipelines.get((insp.slow, insp.fast))
        converted = pipe.traces if pipe is not None else {}
        ct, pt = converted.get("a", insp.trace_a), converted.get("b", insp.trace_b)
        pc, pp = path_for(ct, path), path_for(pt, path)
        self.comparison = None
        if ct is not None and pt is not None and ct.samples and pt.samples:
            self.comparison = compare_traces(ct, pt, tol=self.tol, path=(pc, pp))
        self.plots_page.show_traces(ct, pc, pt, pp, self.comparison, insp.curve_a)
        fill_phi_table(self.table, ct, pc, pt, pp, self.side_names, self.divergence_tick())
        notes = self.trace_source_notes()
        if pipe is not None and pipe.conversions:
            notes.append(f"Unit problem: plotted and compared as {', '.join(pipe.conversions)} (see the Pipeline tab)")
        self.summary.setText(summary_html(insp, self.side_names, self.comparison, notes))

    @Slot()
    def copy_table(self) -> None:
        self.table_page.copy_table()

    # ---- introspection (tests, export) -----------------------------------------------------------------------------
    def curve_data(self, field: str, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, values) currently plotted for `field` and side 'a' or 'b'."""
        x, y = self.curves[(field, side)].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def divergence_tick(self) -> int | None:
        d = self.comparison.first_divergence if self.comparison is not None else None
        return d.phi_tic if d is not None else None

    def plots_widget(self) -> QtWidgets.QWidget:
        return self.graphics

