"""The inspector's plots: one small plot per per-φ field that at least one side traces, and the difference plot.

`PhiPlots` lays out only the fields present in either trace (a golden C build traces k, F_latt b and F_latt: three
plots, not nine with six empty ones), in rows of up to three over the B − A difference plot (beside them when they
fit one row); each plot keeps MIN_PLOT_HEIGHT and the page scrolls vertically when the inspector is shorter. Titles
name sides by letter, never by engine name, so no title widens a column past the screen. Double-clicking a plot
opens it large (`enlarge`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Slot

import pyqtgraph as pg

from tracing.metrics import ParityThresholds
from tracing.phi_compare import PhiComparison
from tracing.records import PLOT_FIELDS, PathKey, PixelTrace
from app.widgets.metrics_panel import esc

FIELD_TITLES: dict[str, str] = {
    "h_frac": "h (fractional)", "k_frac": "k (fractional)", "l_frac": "l (fractional)",
    "F_latt_a": "F_latt a", "F_latt_b": "F_latt b", "F_latt_c": "F_latt c", "F_latt": "F_latt (a·b·c)",
    "F_cell": "F_cell", "I_contrib": "contribution",
}
# The small plots' titles: short, so four plots fit side by side in the ~570 px the inspector's page gets at 1366 px
# (the enlarged plot and the difference plot's chooser use FIELD_TITLES).
SMALL_TITLES: dict[str, str] = {
    "h_frac": "h", "k_frac": "k", "l_frac": "l", "F_latt_a": "F_latt a", "F_latt_b": "F_latt b",
    "F_latt_c": "F_latt c", "F_latt": "F_latt", "F_cell": "F_cell", "I_contrib": "contribution",
}
STYLE_A = dict(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=9, symbolBrush="#1f77b4",
               symbolPen="#1f77b4")
STYLE_B = dict(pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine), symbol="t", symbolSize=10,
                symbolBrush=None, symbolPen=pg.mkPen("#ff7f0e", width=2))
DEFAULT_TOL = ParityThresholds().phi_tol  # the per-φ divergence limit (tracing.metrics, one home)
# The smallest height of one small plot (title, axes and data), px: below this the y labels crowd; the plots then
# scroll instead of shrinking (the window at 1366x768 gives the inspector about 300 px).
MIN_PLOT_HEIGHT = 120
# The narrowest small plot, px: the 55 px value axis and about 75 px of data. Plots are packed in as many columns
# as fit the page at this width (or their title's), so none is pushed past the right edge of a 1366 px screen.
MIN_PLOT_WIDTH = 130
TITLE_PAD = 8        # px beside a title
COLUMNS = 3          # field plots per row


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


def plot_title(field: str, missing_a: bool, missing_b: bool) -> str:
    """A small plot's title: the field, and which side alone traces it. The side's letter, not its name (the
    legend pairs letters and names): a long engine name in three titles would widen the columns past the screen."""
    only = "B" if missing_a and not missing_b else "A" if missing_b and not missing_a else None
    return SMALL_TITLES[field] + (f" <span style='color:#888'>(only in {only})</span>" if only else "")



class PlotsScroll(QtWidgets.QScrollArea):
    """The plots' scroll area; `resized` after its size changed (the plots are laid out again for the width)."""

    resized = QtCore.Signal()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.resized.emit()


class PhiPlots(QtWidgets.QWidget):
    """The Plots page: legend, difference-plot controls, and the scrolling grid of small plots."""

    def __init__(self, side_names: tuple[str, str], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.side_names = side_names
        self.tol = DEFAULT_TOL
        self.comparison: PhiComparison | None = None
        self.enlarged: list[QtWidgets.QDialog] = []   # open enlarged-plot windows
        self.shown_fields: tuple[str, ...] = ()   # the fields laid out now (all, until a trace is shown)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self._grid = self.graphics.ci.layout   # the QGraphicsGridLayout the plots sit in (see relayout)
        self._layout_key: tuple | None = None
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.div_lines: list[pg.InfiniteLine] = []
        self._syncing = False
        for name in PLOT_FIELDS:
            p = self._small_plot(SMALL_TITLES[name])
            # One φ-tick range for the shown plots, kept here rather than by pyqtgraph's view links: those line
            # views up by screen position (a plot left out has a stale one), and linked plots that leave the
            # layout crashed at teardown.
            p.getViewBox().sigXRangeChanged.connect(self._on_x_range)
            self.curves[(name, "a")] = p.plot([], [], name=side_names[0], **STYLE_A)
            self.curves[(name, "b")] = p.plot([], [], name=side_names[1], **STYLE_B)
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=2))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self.div_lines.append(line)
            self.plots[name] = p
        # The C's per-φ intensity from single-tick runs, for binaries that print no per-φ trace.
        self.curve_item_a = self.plots["I_contrib"].plot([], [], name="C (single-tick runs)",
                                                         pen=pg.mkPen("#2ca02c", width=2), symbol="s",
                                                         symbolBrush="#2ca02c", symbolSize=7)
        self.delta_plot = self._small_plot("")
        self.delta_plot.getAxis("bottom").setLabel("φ tick")
        self.tol_band = pg.LinearRegionItem(values=(-self.tol, self.tol), orientation="horizontal", movable=False,
                                            brush=pg.mkBrush(44, 160, 44, 50), pen=pg.mkPen(None))
        self.delta_plot.addItem(self.tol_band, ignoreBounds=True)
        self.delta_curve = self.delta_plot.plot([], [], pen=pg.mkPen("#9467bd", width=2), symbol="d",
                                                symbolBrush="#9467bd", symbolSize=8)
        self.delta_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=2))
        self.delta_line.setVisible(False)
        self.delta_plot.addItem(self.delta_line, ignoreBounds=True)
        self.graphics.setToolTip("Double-click a plot to open it large")
        self.graphics.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.delta_field = QtWidgets.QComboBox()
        self.tol_edit = QtWidgets.QLineEdit(f"{self.tol:g}")
        self.tol_edit.setValidator(QtGui.QDoubleValidator(0.0, 1e9, 12))
        self.tol_edit.setMaximumWidth(80)
        self.tol_edit.setToolTip("Tolerance on |Δh|, |Δk|, |Δl| for the first divergence (the old compare "
                                 f"script's {ParityThresholds().phi_tol:g})")
        self.legend = QtWidgets.QLabel()
        self.delta_caption = QtWidgets.QLabel()
        self.set_side_names(*side_names)
        # Two short rows (legend; difference-plot controls) rather than one long one: at 1366 px the window must
        # not be held wider than the screen by this row.
        self.legend.setWordWrap(True)
        delta_row = QtWidgets.QGridLayout()
        delta_row.addWidget(self.legend, 0, 0, 1, 4)
        for col, w in enumerate((self.delta_caption, self.delta_field, QtWidgets.QLabel("tolerance ±"),
                                 self.tol_edit)):
            delta_row.addWidget(w, 1, col)
        delta_row.setColumnStretch(4, 1)
        # The plots keep MIN_PLOT_HEIGHT each and scroll when the inspector is shorter than that.
        self.plots_scroll = PlotsScroll()
        self.plots_scroll.setWidgetResizable(True)
        self.plots_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plots_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.plots_scroll.setWidget(self.graphics)
        pl = QtWidgets.QVBoxLayout(self)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addLayout(delta_row)
        pl.addWidget(self.plots_scroll, 1)
        self.plots_scroll.resized.connect(self.relayout)
        self.set_fields(PLOT_FIELDS)
        self.delta_field.setCurrentIndex(PLOT_FIELDS.index("k_frac"))
        self.delta_field.currentIndexChanged.connect(self.refresh_delta)

    @staticmethod
    def _small_plot(title: str) -> pg.PlotItem:
        # No parent: the first layout (every field, in __init__) puts it into the scene, and its view box then
        # follows the scene's paint preparation (a plot made inside the scene missed it and drew stale).
        p = pg.PlotItem()
        p.setTitle(title, size="9pt")
        p.showGrid(x=True, y=True, alpha=0.2)
        p.setMenuEnabled(False)
        p.getAxis("left").setWidth(55)
        small = QtGui.QFont()
        small.setPointSize(7)
        for ax in ("left", "bottom"):
            p.getAxis(ax).setTickFont(small)
            p.getAxis(ax).setStyle(tickTextOffset=2)
        p.getAxis("left").setStyle(maxTickLevel=1)  # fewer, non-overlapping value labels
        p.setMinimumHeight(MIN_PLOT_HEIGHT)
        return p

    # ---- layout ----------------------------------------------------------------------------------------------------
    def set_fields(self, fields: tuple[str, ...]) -> None:
        """Show the plots of `fields` (in PLOT_FIELDS order; the others leave the layout, keeping their curves,
        empty) and offer only them in the difference plot's chooser."""
        fields = tuple(f for f in PLOT_FIELDS if f in fields) or ("k_frac",)
        if fields != self.shown_fields:
            self.shown_fields = fields
            current = self.delta_field.currentData()
            self.delta_field.blockSignals(True)
            self.delta_field.clear()
            for name in fields:
                self.delta_field.addItem(FIELD_TITLES[name], name)
            self.delta_field.setCurrentIndex(fields.index(current) if current in fields else 0)
            self.delta_field.blockSignals(False)
        self.relayout()

    def _needed_width(self, p: pg.PlotItem) -> float:
        """The width a plot needs, px: MIN_PLOT_WIDTH, or more where its title (beside the value axis) is wider."""
        return max(MIN_PLOT_WIDTH, p.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() + TITLE_PAD)

    def plan(self, width: float) -> tuple[int, bool]:
        """(columns of field plots, whether the difference plot joins their row) for a page `width` px wide:
        one row with the difference plot when everything fits side by side, else the most columns (up to COLUMNS)
        whose every row fits, the difference plot below."""
        spacing = self._grid.horizontalSpacing()
        left, _top, right, _bottom = self._grid.getContentsMargins()
        room = width - left - right

        def fits(items: list[pg.PlotItem]) -> bool:
            return sum(self._needed_width(p) for p in items) + spacing * (len(items) - 1) <= room
        plots = [self.plots[f] for f in self.shown_fields]
        if len(plots) <= COLUMNS and fits(plots + [self.delta_plot]):
            return len(plots), True
        for cols in range(min(COLUMNS, len(plots)), 0, -1):
            if all(fits(plots[i:i + cols]) for i in range(0, len(plots), cols)):
                return cols, False
        return 1, False

    def relayout(self, force: bool = False) -> None:
        """Place the shown plots for the width the scroll area gives them now (again on every resize)."""
        cols, beside = self.plan(self.plots_scroll.viewport().width())
        key = (self.shown_fields, cols, beside)
        if key == self._layout_key and not force:
            return
        self._layout_key = key
        # Qt's grid layout directly, not pyqtgraph's removeItem: that takes an item out of the scene, and the divergence
        # lines of a plot outside any scene fail when Qt asks their bounds. A plot left out stays in the scene, hidden.
        grid = self._grid
        while grid.count():
            grid.removeAt(grid.count() - 1)
        for p in list(self.plots.values()) + [self.delta_plot]:
            p.setVisible(False)
        fields = self.shown_fields
        for i, name in enumerate(fields):
            grid.addItem(self.plots[name], i // cols, i % cols)
            self.plots[name].getAxis("bottom").setLabel(None)
            self.plots[name].setVisible(True)
        rows = (len(fields) + cols - 1) // cols
        if beside:
            grid.addItem(self.delta_plot, 0, cols)
        else:
            grid.addItem(self.delta_plot, rows, 0, 1, cols)
            rows += 1
        self.delta_plot.setVisible(True)
        for r in range(len(PLOT_FIELDS) + 1):   # rows of an earlier, larger layout too
            grid.setRowStretchFactor(r, 1 if r == rows - 1 else 0)
        for c in range(COLUMNS + 1):
            grid.setColumnStretchFactor(c, 1 if c < cols or (beside and c == cols) else 0)
        self.plots[fields[-1]].getAxis("bottom").setLabel("φ tick")
        # The plot items' minimum plus the layout's spacing and margins (about 10 px per row).
        self.graphics.setMinimumHeight(rows * (MIN_PLOT_HEIGHT + 10) + 10)
        grid.activate()

    @Slot(object, object)
    def _on_x_range(self, vb, x_range) -> None:
        """One shown plot's φ range changed (a pan or zoom): the other shown plots follow."""
        # Only a visible page syncs (a user's pan or zoom): while the window is torn down, view boxes still report
        # range changes, and reaching into the others then crashed.
        if self._syncing or not self.isVisible():
            return
        self._syncing = True
        try:
            for name in self.shown_fields:
                other = self.plots[name].getViewBox()
                if other is not vb:
                    other.setXRange(*x_range, padding=0)
        finally:
            self._syncing = False

    def set_side_names(self, a: str, b: str) -> None:
        """Name the two sides: legend, curve names and the difference plot's caption."""
        self.side_names = (a, b)
        for (_field, eng), curve in self.curves.items():
            curve.opts["name"] = a if eng == "a" else b
        self.legend.setText(f"<span style='color:#1f77b4'>A ● {esc(a)}</span> &nbsp; "
                            f"<span style='color:#ff7f0e'>B ▽ {esc(b)}</span> &nbsp; "
                            "<span style='color:#d62728'>│ first divergence</span> &nbsp; ")
        self.delta_caption.setText("Difference plot: B − A of")   # the legend above pairs letters and names

    # ---- data ------------------------------------------------------------------------------------------------------
    def show_traces(self, ct, pc, pt, pp, comparison: PhiComparison | None, curve_a) -> None:
        """Plot both traces (paths pc, pp) and mark the comparison's first divergence; `curve_a`: side A's per-tick
        intensity from single-tick runs as [(tick, value)], or None."""
        self.comparison = comparison
        div = comparison.first_divergence if comparison is not None else None
        series = {name: (field_series(ct, pc, name), field_series(pt, pp, name)) for name in PLOT_FIELDS}
        present = [n for n, (sc, sp) in series.items() if sc is not None or sp is not None]
        if curve_a:
            present.append("I_contrib")
        for name, (sc, sp) in series.items():
            for eng, s in (("a", sc), ("b", sp)):
                self.curves[(name, eng)].setData([], []) if s is None else self.curves[(name, eng)].setData(
                    s.ticks, s.values)
            self.plots[name].setTitle(plot_title(name, ct is not None and bool(ct.samples) and sc is None,
                                                 pt is not None and bool(pt.samples) and sp is None), size="9pt")
        self.set_fields(tuple(present))   # after the titles: their widths decide the columns
        if curve_a:
            # Plot against tick index; the curve is ordered by tick.
            self.curve_item_a.setData(np.arange(len(curve_a), dtype=float), [v for _, v in curve_a])
        else:
            self.curve_item_a.setData([], [])
        for line in self.div_lines + [self.delta_line]:
            line.setVisible(div is not None)
            if div is not None:
                line.setPos(div.phi_tic)
        if div is not None and div.field in self.shown_fields:
            self.delta_field.blockSignals(True)
            self.delta_field.setCurrentIndex(self.shown_fields.index(div.field))
            self.delta_field.blockSignals(False)
        for p in self.plots.values():
            p.enableAutoRange()
        ticks = [s.phi_tic for tr in (ct, pt) if tr is not None and tr.samples for s in tr.series()]
        if ticks:
            for name in self.shown_fields:
                self.plots[name].setXRange(min(ticks) - 0.5, max(ticks) + 0.5, padding=0)
        self.refresh_delta()

    def clear(self) -> None:
        self.comparison = None
        for curve in self.curves.values():
            curve.setData([], [])
        self.curve_item_a.setData([], [])
        self.delta_curve.setData([], [])
        for line in self.div_lines + [self.delta_line]:
            line.setVisible(False)

    def set_tol(self, tol: float) -> None:
        self.tol = tol
        self.tol_edit.setText(f"{tol:g}")

    @Slot()
    def refresh_delta(self, *args) -> None:
        name = self.delta_field.currentData() or "k_frac"
        self.tol_band.setRegion((-self.tol, self.tol))
        self.tol_band.setVisible(name in ("h_frac", "k_frac", "l_frac"))
        # Letters, not names (the caption above names the sides): the title must fit a quarter of the row.
        self.delta_plot.setTitle(f"B − A: {SMALL_TITLES[name]}", size="9pt")
        xs, ys = [], []
        if self.comparison is not None:
            for row in self.comparison.rows:
                if name in row.delta:
                    xs.append(row.phi_tic)
                    ys.append(row.delta[name])
        self.delta_curve.setData(xs, ys)
        self.delta_plot.enableAutoRange(axis="y")
        (x0, x1), _ = self.plots[self.shown_fields[0]].viewRange()
        self.delta_plot.setXRange(x0, x1, padding=0)

    # ---- enlarged plots --------------------------------------------------------------------------------------------
    def plot_at(self, scene_pos) -> str | None:
        """The field of the small plot under a scene position ('delta' for the difference plot)."""
        for name in self.shown_fields:
            if self.plots[name].sceneBoundingRect().contains(scene_pos):
                return name
        return "delta" if self.delta_plot.sceneBoundingRect().contains(scene_pos) else None

    @Slot(object)
    def _on_plot_clicked(self, ev) -> None:
        if ev.double() and ev.button() == Qt.MouseButton.LeftButton:
            name = self.plot_at(ev.scenePos())
            if name is not None:
                self.enlarge(name)

    def plain_title(self, name: str) -> str:
        if name == "delta":
            a, b = self.side_names
            return f"{b} − {a}: {FIELD_TITLES[self.delta_field.currentData() or 'k_frac']}"
        return FIELD_TITLES[name]

    def enlarge(self, name: str) -> QtWidgets.QDialog:
        """Open one plot ('k_frac', …, or 'delta') large in its own window, with a legend."""
        div = self.comparison.first_divergence if self.comparison is not None else None
        dlg = enlarged_plot(self, self.delta_plot if name == "delta" else self.plots[name], self.plain_title(name),
                            div.phi_tic if div is not None else None)
        dlg.finished.connect(lambda _r, d=dlg: self.enlarged.remove(d) if d in self.enlarged else None)
        self.enlarged.append(dlg)
        dlg.show()
        return dlg


def enlarged_plot(parent: QtWidgets.QWidget, src: pg.PlotItem, title: str, divergence_tick: int | None
                  ) -> QtWidgets.QDialog:
    """A 900 x 600 px dialog (deleted on close) with `src`'s curves redrawn large, a legend and the divergence."""
    dlg = QtWidgets.QDialog(parent)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
    if divergence_tick is not None:
        big.addItem(pg.InfiniteLine(pos=divergence_tick, angle=90, pen=pg.mkPen("#d62728", width=2),
                                    label="first divergence", labelOpts={"color": "#d62728"}))
    lay = QtWidgets.QVBoxLayout(dlg)
    lay.addWidget(pw)
    dlg.resize(900, 600)
    return dlg
