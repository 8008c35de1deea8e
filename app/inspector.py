"""The per-pixel φ inspector: both engines' per-φ values of one pixel, overlaid, with the first divergence marked.

It only shows and asks: the window runs `ComparisonSession.inspect_pixel` on a worker and hands the resulting
PixelInspection to `show_inspection`. Comparisons for another path (mosaic domain, source, sub-pixel, layer) are
recomputed here with tracing.phi_compare.compare_traces, which is cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from tracing.phi_compare import PhiComparison, compare_traces, fmt_num
from tracing.records import PLOT_FIELDS, PathKey, PixelTrace
from tracing.metrics import ParityThresholds

FIELD_TITLES: dict[str, str] = {
    "h_frac": "h (fractional)", "k_frac": "k (fractional)", "l_frac": "l (fractional)",
    "F_latt_a": "F_latt a", "F_latt_b": "F_latt b", "F_latt_c": "F_latt c", "F_latt": "F_latt (a·b·c)",
    "F_cell": "F_cell", "I_contrib": "contribution",
}
C_STYLE = dict(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=9, symbolBrush="#1f77b4",
               symbolPen="#1f77b4")
PY_STYLE = dict(pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine), symbol="t", symbolSize=10,
                symbolBrush=None, symbolPen=pg.mkPen("#ff7f0e", width=2))
DEFAULT_TOL = ParityThresholds().phi_tol  # the per-φ divergence limit (tracing.metrics, one home)
# The smallest height of one small plot (title, axes and data), px: below this the y labels crowd; the plots then
# scroll instead of shrinking (the window at 1366x768 gives the inspector about 300 px).
MIN_PLOT_HEIGHT = 120
PLOT_ROWS = 4   # three rows of three field plots, then the difference plot
PATH_DIMS: tuple[tuple[str, str], ...] = (("mos", "mosaic domain"), ("src", "source"), ("sub", "sub-pixel"),
                                          ("layer", "layer"))


@dataclass
class Series:
    """One engine's values of one field across φ ticks (x = tick)."""

    ticks: np.ndarray
    values: np.ndarray


def field_series(trace: PixelTrace | None, path: PathKey | None, field: str) -> Series | None:
    """The field's values for one path of a trace, by tick; None when the field is absent."""
    if trace is None or not trace.samples:
        return None
    ticks, vals = [], []
    for s in trace.series(path):
        v = s.get(field)
        if v is not None:
            ticks.append(s.phi_tic)
            vals.append(v)
    if not ticks:
        return None
    return Series(np.asarray(ticks, dtype=float), np.asarray(vals, dtype=float))


class PixelSpinBox(QtWidgets.QSpinBox):
    """A slow or fast index box whose Enter (or Return) is a request to inspect the pixel."""

    returnPressed = Signal()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt name)
        super().keyPressEvent(event)  # commits the typed value first
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.returnPressed.emit()
            event.accept()


class _InspectorWindow(QtWidgets.QMainWindow):
    """The inspector's own window; closing it brings the inspector back into the main window."""

    def __init__(self, inspector: PhiInspector):
        super().__init__(None)
        self._inspector = inspector

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt name)
        if self._inspector.own_window is self:
            self._inspector.set_own_window(False)
        super().closeEvent(event)


class CopyableTable(QtWidgets.QTableWidget):
    """A table whose Ctrl+C copies the selection (or everything, if nothing is selected) as TSV with headers."""

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.matches(QtGui.QKeySequence.StandardKey.Copy):
            QtWidgets.QApplication.clipboard().setText(self.to_tsv(selected_only=True))
            event.accept()
            return
        super().keyPressEvent(event)

    def to_tsv(self, selected_only: bool = False) -> str:
        rows = range(self.rowCount())
        cols = range(self.columnCount())
        ranges = self.selectedRanges() if selected_only else []
        if ranges:
            rows = sorted({r for rg in ranges for r in range(rg.topRow(), rg.bottomRow() + 1)})
            cols = sorted({c for rg in ranges for c in range(rg.leftColumn(), rg.rightColumn() + 1)})
        header = [self.horizontalHeaderItem(c).text() if self.horizontalHeaderItem(c) else "" for c in cols]
        lines = ["\t".join(header)]
        for r in rows:
            lines.append("\t".join(self.item(r, c).text() if self.item(r, c) else "" for c in cols))
        return "\n".join(lines) + "\n"


class PhiInspector(QtWidgets.QWidget):
    """Shows a PixelInspection. Signals ask the window for work:
        inspectRequested(slow, fast)  trace this pixel (typed in, or picked from the history)
        gotoMaxRequested()            trace the pixel of largest |C − PyTorch|
    """

    inspectRequested = Signal(int, int)
    gotoMaxRequested = Signal()
    inspectionShown = Signal(int, int)   # (slow, fast) of the inspection now on show
    HINT = "Click a pixel in an image (or type slow, fast and press Inspect) to trace it on both engines."

    def __init__(self, parent: QtWidgets.QWidget | None = None,
                 side_names: tuple[str, str] = ("C reference", "PyTorch")):
        super().__init__(parent)
        self.side_names = side_names
        self.enlarged: list[QtWidgets.QDialog] = []   # open enlarged-plot windows
        self.trace_sources: dict[str, tuple[str, str | None]] = {}   # side -> (file name, tracing engine)
        self.own_window: QtWidgets.QMainWindow | None = None
        self.inspection = None                     # app.session.PixelInspection
        self.comparison: PhiComparison | None = None
        self.tol = DEFAULT_TOL
        self._history: list[tuple[int, int]] = []

        # --- controls ---
        self.slow_spin = PixelSpinBox()
        self.fast_spin = PixelSpinBox()
        for sp in (self.slow_spin, self.fast_spin):
            sp.setRange(0, 100_000)
            sp.setKeyboardTracking(False)
            sp.setToolTip("Pixel index; Enter inspects the pixel and brings it into view")
            sp.returnPressed.connect(self._on_inspect)
        self.inspect_button = QtWidgets.QPushButton("Inspect")
        self.inspect_button.setToolTip("Trace this pixel on both engines (or click a pixel in an image)")
        self.max_button = QtWidgets.QPushButton("Go to max |Δ|")
        self.busy_label = QtWidgets.QLabel("")
        # Long progress notes never widen the window: clipped, full text in the tooltip.
        self.busy_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.own_window_button = QtWidgets.QToolButton()
        self.own_window_button.setText("Own window")
        self.own_window_button.setCheckable(True)
        self.own_window_button.setToolTip("Move the inspector into its own window (maximise it there); click again "
                                          "or close that window to bring it back")
        self.own_window_button.toggled.connect(self.set_own_window)
        self.maximise_button = QtWidgets.QToolButton()
        self.maximise_button.setText("Maximise")
        self.maximise_button.setCheckable(True)
        self.maximise_button.setToolTip("Give the inspector the room of the image panels and the metrics (click "
                                        "again to bring them back)")
        self.maximise_button.toggled.connect(self.set_maximised)
        self._saved_splits: list[tuple[QtWidgets.QSplitter, list[int], list[QtWidgets.QWidget]]] = []
        self.summary = QtWidgets.QLabel(self.HINT)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_combos: dict[str, QtWidgets.QComboBox] = {}
        self.path_labels: dict[str, QtWidgets.QLabel] = {}
        top = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("slow"), self.slow_spin, QtWidgets.QLabel("fast"), self.fast_spin,
                  self.inspect_button, self.max_button, self.maximise_button, self.own_window_button,
                  self.busy_label):
            top.addWidget(w)
        for key, label in PATH_DIMS:
            lab = QtWidgets.QLabel(label)
            combo = QtWidgets.QComboBox()
            combo.currentIndexChanged.connect(self._on_path_changed)
            lab.setVisible(False)
            combo.setVisible(False)
            self.path_combos[key], self.path_labels[key] = combo, lab
            top.addWidget(lab)
            top.addWidget(combo)
        top.addStretch(1)

        # --- plots ---
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.div_lines: list[pg.InfiniteLine] = []
        first: pg.PlotItem | None = None
        for i, name in enumerate(PLOT_FIELDS):
            p = self.graphics.addPlot(row=i // 3, col=i % 3)
            p.setTitle(FIELD_TITLES[name], size="9pt")
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setMenuEnabled(False)
            p.getAxis("left").setWidth(55)
            small = QtGui.QFont()
            small.setPointSize(7)
            for ax in ("left", "bottom"):
                p.getAxis(ax).setTickFont(small)
                p.getAxis(ax).setStyle(tickTextOffset=2)
            p.getAxis("left").setStyle(maxTickLevel=1)  # fewer, non-overlapping value labels
            if first is None:
                first = p
            else:
                p.setXLink(first)
            self.curves[(name, "c")] = p.plot([], [], name=side_names[0], **C_STYLE)
            self.curves[(name, "py")] = p.plot([], [], name=side_names[1], **PY_STYLE)
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=2))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self.div_lines.append(line)
            self.plots[name] = p
        self.plots["I_contrib"].getAxis("bottom").setLabel("φ tick")
        # The C's per-φ intensity from single-tick runs, for binaries that print no per-φ trace.
        self.c_curve_item = self.plots["I_contrib"].plot([], [], name="C (single-tick runs)",
                                                         pen=pg.mkPen("#2ca02c", width=2), symbol="s",
                                                         symbolBrush="#2ca02c", symbolSize=7)
        self.delta_plot = self.graphics.addPlot(row=3, col=0, colspan=3)
        self.delta_plot.showGrid(x=True, y=True, alpha=0.2)
        self.delta_plot.setMenuEnabled(False)
        self.delta_plot.getAxis("left").setWidth(55)
        self.delta_plot.getAxis("bottom").setLabel("φ tick")
        self.tol_band = pg.LinearRegionItem(values=(-self.tol, self.tol), orientation="horizontal", movable=False,
                                            brush=pg.mkBrush(44, 160, 44, 50), pen=pg.mkPen(None))
        self.delta_plot.addItem(self.tol_band, ignoreBounds=True)
        self.delta_curve = self.delta_plot.plot([], [], pen=pg.mkPen("#9467bd", width=2), symbol="d",
                                                symbolBrush="#9467bd", symbolSize=8)
        self.delta_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=2))
        self.delta_line.setVisible(False)
        self.delta_plot.addItem(self.delta_line, ignoreBounds=True)
        self.graphics.ci.layout.setRowStretchFactor(3, 1)
        for p in list(self.plots.values()) + [self.delta_plot]:
            p.setMinimumHeight(MIN_PLOT_HEIGHT)
        # The plot items' minimum plus the layout's spacing and margins (about 10 px per row).
        self.graphics.setMinimumHeight(PLOT_ROWS * (MIN_PLOT_HEIGHT + 10) + 10)
        self.graphics.setToolTip("Double-click a plot to open it large")
        self.graphics.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.delta_field = QtWidgets.QComboBox()
        for name in PLOT_FIELDS:
            self.delta_field.addItem(FIELD_TITLES[name], name)
        self.delta_field.setCurrentIndex(PLOT_FIELDS.index("k_frac"))
        self.delta_field.currentIndexChanged.connect(self._refresh_delta)
        self.tol_edit = QtWidgets.QLineEdit(f"{self.tol:g}")
        self.tol_edit.setValidator(QtGui.QDoubleValidator(0.0, 1e9, 12))
        self.tol_edit.setMaximumWidth(80)
        self.tol_edit.setToolTip("Tolerance on |Δh|, |Δk|, |Δl| for the first divergence (the old compare "
                                 "script's 5e-4)")
        self.tol_edit.editingFinished.connect(self._on_tol)
        self.legend = QtWidgets.QLabel()
        self.delta_caption = QtWidgets.QLabel()
        self._set_legend()
        # Two short rows (legend; difference-plot controls) rather than one long one: at 1366 px the window must
        # not be held wider than the screen by this row.
        self.legend.setWordWrap(True)
        delta_row = QtWidgets.QGridLayout()
        delta_row.addWidget(self.legend, 0, 0, 1, 4)
        for col, w in enumerate((self.delta_caption, self.delta_field, QtWidgets.QLabel("tolerance ±"),
                                 self.tol_edit)):
            delta_row.addWidget(w, 1, col)
        delta_row.setColumnStretch(4, 1)
        plots_page = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(plots_page)
        pl.setContentsMargins(0, 0, 0, 0)
        # The plots keep MIN_PLOT_HEIGHT each and scroll when the inspector is shorter than that.
        self.plots_scroll = QtWidgets.QScrollArea()
        self.plots_scroll.setWidgetResizable(True)
        self.plots_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plots_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.plots_scroll.setWidget(self.graphics)
        pl.addLayout(delta_row)
        pl.addWidget(self.plots_scroll, 1)

        # --- table ---
        self.table = CopyableTable()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Ctrl+C copies the selection (or the whole table) as tab-separated text")
        copy_button = QtWidgets.QPushButton("Copy table (TSV)")
        copy_button.clicked.connect(self.copy_table)
        table_page = QtWidgets.QWidget()
        tl = QtWidgets.QVBoxLayout(table_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        tl.addWidget(copy_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(plots_page, "Plots")
        self.tabs.addTab(table_page, "Table")

        # --- history ---
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
        self._layout.addLayout(top)
        self._layout.addWidget(self.content, 1)
        self._layout.addWidget(self.placeholder)

        self.inspect_button.clicked.connect(self._on_inspect)
        self.max_button.clicked.connect(self.gotoMaxRequested)
        self._cache: dict[tuple[int, int], object] = {}

    # ---- readability: names, own window, enlarged plots -----------------------------------------------------------
    def _set_legend(self) -> None:
        a, b = self.side_names
        self.legend.setText(f"<span style='color:#1f77b4'>● {_esc(a)}</span> &nbsp; "
                            f"<span style='color:#ff7f0e'>▽ {_esc(b)}</span> &nbsp; "
                            "<span style='color:#d62728'>│ first divergence</span> &nbsp; ")
        self.delta_caption.setText(f"Lower plot: {_esc(b)} − {_esc(a)} of")

    def set_side_names(self, a: str, b: str) -> None:
        """Name the two sides (any engine): legend, curve names and the difference plot's caption."""
        self.side_names = (a, b)
        for (_field, eng), curve in self.curves.items():
            curve.opts["name"] = a if eng == "c" else b
        self._set_legend()
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
        notes = []
        for side in ("a", "b"):
            if side not in self.trace_sources:
                continue
            name, tracer = self.trace_sources[side]
            letter = side.upper()
            if tracer is None:
                notes.append(f"Side {letter} is the file {name}: no engine can trace it (the command line is not "
                             "valid), so its per-φ values are missing")
            else:
                notes.append(f"Side {letter} is the file {name}: its per-φ trace is not read from the file but "
                             f"computed by {tracer} on the command line; choose side {letter}'s engine and "
                             "carry-over to match how the file was made")
        return notes

    @Slot(bool)
    def set_own_window(self, on: bool) -> None:
        """Move the plots, table and history into a top-level window (on) or back into the main window."""
        if self.own_window_button.isChecked() != on:
            self.own_window_button.setChecked(on)  # re-enters with the button in step
            return
        if on and self.own_window is None:
            win = _InspectorWindow(self)
            win.setWindowTitle("nbparity — φ inspector")
            self._layout.removeWidget(self.content)
            win.setCentralWidget(self.content)
            win.resize(1200, 800)
            self.own_window = win
            self.placeholder.setVisible(True)
            win.show()
        elif not on and self.own_window is not None:
            win, self.own_window = self.own_window, None
            content = win.takeCentralWidget()
            self._layout.insertWidget(1, content, 1)
            content.show()
            self.placeholder.setVisible(False)
            win.close()
            win.deleteLater()

    @Slot(bool)
    def set_maximised(self, on: bool) -> None:
        """The inspector takes the room of everything beside it in the window's splitters (on: the other parts are
        hidden), or the layout comes back as it was (off)."""
        if on and not self._saved_splits:
            child, parent = self, self.parentWidget()
            while parent is not None:
                if isinstance(parent, QtWidgets.QSplitter):
                    others = [parent.widget(i) for i in range(parent.count())
                              if parent.widget(i) is not child and parent.widget(i).isVisible()]
                    self._saved_splits.append((parent, parent.sizes(), others))
                    for w in others:
                        w.setVisible(False)
                child, parent = parent, parent.parentWidget()
        elif not on:
            for splitter, sizes, others in reversed(self._saved_splits):
                for w in others:
                    w.setVisible(True)
                splitter.setSizes(sizes)
            self._saved_splits = []
        if self.maximise_button.isChecked() != on:
            self.maximise_button.setChecked(on)

    def plot_at(self, scene_pos) -> str | None:
        """The field of the small plot under a scene position ('delta' for the difference plot)."""
        for name, p in self.plots.items():
            if p.sceneBoundingRect().contains(scene_pos):
                return name
        return "delta" if self.delta_plot.sceneBoundingRect().contains(scene_pos) else None

    @Slot(object)
    def _on_plot_clicked(self, ev) -> None:
        if ev.double() and ev.button() == Qt.MouseButton.LeftButton:
            name = self.plot_at(ev.scenePos())
            if name is not None:
                self.enlarge(name)

    def enlarge(self, name: str) -> QtWidgets.QDialog:
        """Open one plot ('k_frac', …, or 'delta') large in its own window, with a legend."""
        src = self.delta_plot if name == "delta" else self.plots[name]
        dlg = QtWidgets.QDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        title = self._plain_title(name)
        dlg.setWindowTitle(f"nbparity — {title}")
        pw = pg.PlotWidget(background="w")
        big = pw.getPlotItem()
        big.setTitle(title, size="12pt", color="#111")
        big.showGrid(x=True, y=True, alpha=0.25)
        big.addLegend(offset=(10, 10), labelTextColor="#111")
        for ax, label in (("bottom", "φ tick"), ("left", title)):
            big.getAxis(ax).setLabel(label, color="#111")
            big.getAxis(ax).setTextPen("#111")
        for item in src.listDataItems():
            x, y = item.getData()
            if x is None or len(x) == 0:
                continue
            o = item.opts
            big.plot(x, y, name=o.get("name") or "difference", pen=o["pen"], symbol=o["symbol"],
                     symbolSize=o["symbolSize"] + 3, symbolBrush=o["symbolBrush"], symbolPen=o["symbolPen"])
        tick = self.divergence_tick()
        if tick is not None:
            big.addItem(pg.InfiniteLine(pos=tick, angle=90, pen=pg.mkPen("#d62728", width=2),
                                        label="first divergence", labelOpts={"color": "#d62728"}))
        lay = QtWidgets.QVBoxLayout(dlg)
        lay.addWidget(pw)
        dlg.resize(900, 600)
        dlg.finished.connect(lambda _r, d=dlg: self.enlarged.remove(d) if d in self.enlarged else None)
        self.enlarged.append(dlg)
        dlg.show()
        return dlg

    def _plain_title(self, name: str) -> str:
        if name == "delta":
            a, b = self.side_names
            return f"{b} − {a}: {FIELD_TITLES[self.delta_field.currentData()]}"
        return FIELD_TITLES[name]

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
        self.slow_spin.setValue(slow)
        self.fast_spin.setValue(fast)

    def set_idle(self, message: str = "") -> None:
        self.busy_label.setText(message)

    def reset(self, message: str = "") -> None:
        """Forget every inspection (a new command line was run): empty plots, table and history."""
        self.inspection = None
        self.comparison = None
        self.trace_sources.clear()   # a run: both sides are engines again
        self._cache.clear()
        self._history.clear()
        self.history.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self.c_curve_item.setData([], [])
        self.delta_curve.setData([], [])
        for line in self.div_lines + [self.delta_line]:
            line.setVisible(False)
        for key, combo in self.path_combos.items():
            combo.setVisible(False)
            self.path_labels[key].setVisible(False)
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.busy_label.setText("")
        self.summary.setText(message or self.HINT)

    def inspections(self) -> list:
        """Every inspection shown so far, in history order (for the snapshot)."""
        return [self._cache[k] for k in self._history if k in self._cache]

    # ---- display -------------------------------------------------------------------------------------------------
    def show_inspection(self, insp) -> None:
        """Display an app.session.PixelInspection (traces, comparison, errors)."""
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
        self.slow_spin.setValue(insp.slow)
        self.fast_spin.setValue(insp.fast)
        self.set_idle("")
        self._fill_path_combos()
        self._recompare()
        self.inspectionShown.emit(insp.slow, insp.fast)

    def _paths(self) -> list[PathKey]:
        insp = self.inspection
        seen: dict[PathKey, None] = {}
        for tr in (insp.c_trace, insp.py_trace) if insp is not None else ():
            if tr is not None:
                for p in tr.paths():
                    seen.setdefault(p, None)
        return list(seen)

    def _fill_path_combos(self) -> None:
        paths = self._paths()
        values = {
            "mos": sorted({p.mos for p in paths}), "src": sorted({p.src for p in paths}),
            "sub": sorted({(p.sub_s, p.sub_f) for p in paths}), "layer": sorted({p.layer for p in paths}),
        }
        for key, combo in self.path_combos.items():
            combo.blockSignals(True)
            combo.clear()
            for v in values[key]:
                combo.addItem(f"{v[0]},{v[1]}" if isinstance(v, tuple) else str(v), v)
            combo.blockSignals(False)
            several = len(values[key]) > 1
            combo.setVisible(several)
            self.path_labels[key].setVisible(several)

    def selected_path(self) -> PathKey | None:
        if not self._paths():
            return None
        def val(key, default):
            c = self.path_combos[key]
            return c.currentData() if c.count() else default
        sub = val("sub", (0, 0))
        return PathKey(layer=val("layer", 0), sub_s=sub[0], sub_f=sub[1], src=val("src", 0), mos=val("mos", 0))

    @Slot()
    def _on_path_changed(self, *args) -> None:
        if self.inspection is not None:
            self._recompare()

    @Slot()
    def _on_tol(self) -> None:
        try:
            tol = float(self.tol_edit.text())
        except ValueError:
            tol = self.tol
        self.tol = tol if tol >= 0 else self.tol
        self.tol_edit.setText(f"{self.tol:g}")
        if self.inspection is not None:
            self._recompare()

    def _path_for(self, trace: PixelTrace | None, path: PathKey | None) -> PathKey | None:
        """The selected path if this trace has it; else the trace's first path (golden traces carry only one)."""
        if trace is None or not trace.samples:
            return None
        return path if path in trace.paths() else trace.paths()[0]

    def _recompare(self) -> None:
        insp = self.inspection
        path = self.selected_path()
        ct, pt = insp.c_trace, insp.py_trace
        pc, pp = self._path_for(ct, path), self._path_for(pt, path)
        self.comparison = None
        if ct is not None and pt is not None and ct.samples and pt.samples:
            self.comparison = compare_traces(ct, pt, tol=self.tol, path=(pc, pp))
        self._plot(ct, pc, pt, pp)
        self._fill_table(ct, pc, pt, pp)
        self.summary.setText(self._summary_html(insp))
        self._refresh_delta()

    def _summary_html(self, insp) -> str:
        a, b = self.side_names
        parts = [f"<b>Pixel (slow={insp.slow}, fast={insp.fast})</b>"]
        parts += [f"<span style='color:#b35900'><b>{_esc(n)}</b></span>" for n in self.trace_source_notes()]
        cmp_ = self.comparison
        if cmp_ is not None:
            color = "#d62728" if cmp_.first_divergence is not None else "#2ca02c"
            parts.append(f"<span style='color:{color}'><b>{cmp_.describe()}</b></span>")
        for name, err in ((a, insp.c_error), (b, insp.py_error)):
            if err:
                parts.append(f"<span style='color:#b00020'>{name} trace failed: {_esc(err)}</span>")
        ct, pt = insp.c_trace, insp.py_trace
        for name, tr in ((a, ct), (b, pt)):
            if tr is None:
                continue
            if not tr.samples:
                parts.append(f"{name} printed no per-φ trace lines (dialect '{tr.dialect}')")
                continue
            missing = [FIELD_TITLES[f] for f in PLOT_FIELDS if f not in tr.fields()]
            if missing:
                parts.append(f"{name} trace ({tr.dialect} dialect) has no {', '.join(missing)}")
        if insp.c_curve is not None:
            parts.append(f"{a} per-φ intensity shown from single-tick runs (green squares, contribution plot)")
        if cmp_ is not None and (cmp_.ticks_only_c or cmp_.ticks_only_py):
            parts.append(f"ticks only in {a}: {cmp_.ticks_only_c}; only in {b}: {cmp_.ticks_only_py}")
        return " · ".join(parts)

    def _plot(self, ct, pc, pt, pp) -> None:
        div = self.comparison.first_divergence if self.comparison is not None else None
        for name in PLOT_FIELDS:
            sc, sp = field_series(ct, pc, name), field_series(pt, pp, name)
            for eng, s in (("c", sc), ("py", sp)):
                curve = self.curves[(name, eng)]
                if s is None:
                    curve.setData([], [])
                else:
                    curve.setData(s.ticks, s.values)
            note = []
            if ct is not None and ct.samples and sc is None:
                note.append(f"not in {self.side_names[0]} trace")
            if pt is not None and pt.samples and sp is None:
                note.append(f"not in {self.side_names[1]} trace")
            title = FIELD_TITLES[name] + (f" <span style='color:#888'>({'; '.join(note)})</span>" if note else "")
            self.plots[name].setTitle(title, size="9pt")
        curve = self.inspection.c_curve if self.inspection is not None else None
        if curve:
            # Plot against tick index; the curve is ordered by tick.
            self.c_curve_item.setData(np.arange(len(curve), dtype=float), [v for _, v in curve])
        else:
            self.c_curve_item.setData([], [])
        for line in self.div_lines + [self.delta_line]:
            line.setVisible(div is not None)
            if div is not None:
                line.setPos(div.phi_tic)
        if div is not None:
            self.delta_field.blockSignals(True)
            self.delta_field.setCurrentIndex(PLOT_FIELDS.index(div.field) if div.field in PLOT_FIELDS else 1)
            self.delta_field.blockSignals(False)
        for p in self.plots.values():
            p.enableAutoRange()
        ticks = [s.phi_tic for tr in (ct, pt) if tr is not None and tr.samples for s in tr.series()]
        if ticks:
            self.plots[PLOT_FIELDS[0]].setXRange(min(ticks) - 0.5, max(ticks) + 0.5, padding=0)

    @Slot()
    def _refresh_delta(self, *args) -> None:
        name = self.delta_field.currentData()
        self.tol_band.setRegion((-self.tol, self.tol))
        self.tol_band.setVisible(name in ("h_frac", "k_frac", "l_frac"))
        self.delta_plot.setTitle(f"{self.side_names[1]} − {self.side_names[0]}: {FIELD_TITLES[name]}"
                                 + (f" (band: ±{fmt_num(self.tol)})" if self.tol_band.isVisible() else ""),
                                 size="9pt")
        xs, ys = [], []
        if self.comparison is not None:
            for row in self.comparison.rows:
                if name in row.delta:
                    xs.append(row.phi_tic)
                    ys.append(row.delta[name])
        self.delta_curve.setData(xs, ys)
        self.delta_plot.enableAutoRange(axis="y")
        (x0, x1), _ = self.plots[PLOT_FIELDS[0]].viewRange()
        self.delta_plot.setXRange(x0, x1, padding=0)

    def _fill_table(self, ct, pc, pt, pp) -> None:
        fields = [f for f in PLOT_FIELDS if field_series(ct, pc, f) is not None or field_series(pt, pp, f) is not None]
        for extra in ("h0", "k0", "l0"):
            if field_series(ct, pc, extra) is not None or field_series(pt, pp, extra) is not None:
                fields.append(extra)
        a, b = self.side_names
        headers = ["φ tick", "φ (deg)"]
        for f in fields:
            headers += [f"{f} {a}", f"{f} {b}", f"Δ{f} ({b}−{a})"]
        by_tick: dict[int, dict[str, float]] = {}
        for eng, tr, path in ((a, ct, pc), (b, pt, pp)):
            if tr is None or not tr.samples:
                continue
            for s in tr.series(path):
                row = by_tick.setdefault(s.phi_tic, {})
                row.setdefault("φ (deg)", s.phi_deg)
                for f in fields:
                    v = s.get(f)
                    if v is not None:
                        row[f"{f} {eng}"] = v
        for row in by_tick.values():
            for f in fields:
                if f"{f} {a}" in row and f"{f} {b}" in row:
                    row[f"Δ{f} ({b}−{a})"] = row[f"{f} {b}"] - row[f"{f} {a}"]
        div = self.comparison.first_divergence if self.comparison is not None else None
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(by_tick))
        for r, tick in enumerate(sorted(by_tick)):
            vals = by_tick[tick]
            cells = [str(tick)] + [_fmt(vals.get(h)) for h in headers[1:]]
            for c, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if div is not None and tick == div.phi_tic:
                    item.setBackground(QtGui.QColor(255, 220, 220))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    @Slot()
    def copy_table(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.table.to_tsv())

    # ---- introspection (tests, export) -----------------------------------------------------------------------------
    def curve_data(self, field: str, engine: str) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, values) currently plotted for `field` and engine 'c' or 'py'."""
        x, y = self.curves[(field, engine)].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def divergence_tick(self) -> int | None:
        d = self.comparison.first_divergence if self.comparison is not None else None
        return d.phi_tic if d is not None else None

    def plots_widget(self) -> QtWidgets.QWidget:
        return self.graphics


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.10g}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
