"""The inspector's Pipeline page: the whole calculation of the inspected pixel, quantity by quantity, on both sides.

Shows a tracing.pipeline.PipelineDiff (computed on the trace worker, app.core.inspection_pipeline): the sentence naming
the first divergent quantity on top, the unit problems of either side's trace below it, then one table row per
quantity in nanoBragg's order (stage, quantity, φ tick, unit, A, B, relative Δ, status, note). Values are in the
canonical unit; what the engine printed is in the cell's tooltip (and in the note where a unit was converted).
The first divergent row is selected and scrolled into view.
"""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.widgets.inspector_table import CopyableTable
from app.widgets.metrics_panel import esc
from tracing.pipeline import PipelineDiff, PipelineRow

COLUMNS = ("stage", "quantity", "φ tick", "unit", "A", "B", "rel Δ", "status", "note")
STATUS_COLOURS: dict[str, str] = {   # background of the status cell
    "match": "#d8f0d8", "diverge": "#f8c8c8", "only A": "#e4e4e4", "only B": "#e4e4e4",
    "unit A": "#ffe0b0", "unit B": "#ffe0b0",
}
DIVERGED_ROW = QtGui.QColor("#fde8e8")   # the other cells of a row whose converted values differ


def fmt_values(values: tuple[float, ...] | None) -> str:
    """'' for a missing side; one number, or a vector as 'x, y, z' (7 significant digits)."""
    if values is None:
        return ""
    return ", ".join(f"{v:.7g}" for v in values)



class PipelinePage(QtWidgets.QWidget):
    """The Pipeline tab: `show_diff(PipelineDiff)`, `show_reason(text)` when there is none, `clear()`."""

    HINT = "Inspect a pixel: every quantity both engines trace appears here, in the order nanoBragg computes them."

    def __init__(self, side_names: tuple[str, str], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.side_names = side_names
        self.diff: PipelineDiff | None = None
        self.sentence = QtWidgets.QLabel(self.HINT)
        self.sentence.setWordWrap(True)
        self.sentence.setTextFormat(Qt.TextFormat.RichText)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.units = QtWidgets.QLabel("")
        self.units.setWordWrap(True)
        self.units.setTextFormat(Qt.TextFormat.RichText)
        self.units.setVisible(False)
        self.table = CopyableTable()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setToolTip("Ctrl+C copies the selection (or the whole table) as tab-separated text")
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.sentence)
        lay.addWidget(self.units)
        lay.addWidget(self.table, 1)
        self.clear()

    def set_side_names(self, a: str, b: str) -> None:
        self.side_names = (a, b)
        self.table.setHorizontalHeaderLabels(self._headers())

    def _headers(self) -> list[str]:
        a, b = self.side_names
        return [c if c not in ("A", "B") else f"{c}: {a if c == 'A' else b}" for c in COLUMNS]

    def clear(self, message: str = "") -> None:
        self.diff = None
        self.table.clear()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHorizontalHeaderLabels(self._headers())
        self.table.setRowCount(0)
        self.sentence.setText(esc(message or self.HINT))
        self.sentence.setStyleSheet("")
        self.units.setVisible(False)

    def show_reason(self, reason: str) -> None:
        """No diff for this pixel: say why (a side has no trace, or the diff failed)."""
        self.clear(f"No pipeline diff: {reason}")

    def show_diff(self, diff: PipelineDiff) -> None:
        """Fill the page from a PipelineDiff."""
        self.diff = diff
        colour = "#d62728" if diff.first_divergent is not None else "#2ca02c"
        self.sentence.setText(f"<span style='color:{colour}'><b>{esc(diff.sentence)}</b></span>")
        self.units.setText(self.units_line(diff))
        # The full sentences (which engine, factor, plausible range) on hover: the table keeps the room.
        self.units.setToolTip("\n\n".join(diff.unit_problems))
        self.units.setVisible(bool(diff.unit_problems))
        self.table.clear()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHorizontalHeaderLabels(self._headers())
        self.table.setRowCount(len(diff.rows))
        first = None
        for r, row in enumerate(diff.rows):
            self._fill_row(r, row)
            if first is None and (row is diff.first_divergent or row == diff.first_divergent):
                first = r
        self.table.resizeColumnsToContents()
        if first is not None:
            self.table.selectRow(first)
            self.table.scrollToItem(self.table.item(first, 0),
                                    QtWidgets.QAbstractItemView.ScrollHint.PositionAtCenter)

    def units_line(self, diff: PipelineDiff) -> str:
        """One line per side whose trace prints quantities in another unit, naming them (rich text)."""
        names: dict[str, list[str]] = {"unit A": [], "unit B": []}
        for row in diff.rows:
            if row.status in names and row.name not in names[row.status]:
                names[row.status].append(row.name)
        lines = [f"{esc(side)}'s trace prints {', '.join(esc(n) for n in found)} in another unit"
                 for side, found in ((self.side_names[0], names["unit A"]), (self.side_names[1], names["unit B"]))
                 if found]
        if not lines:   # sentences the rows do not carry (a quantity only one side traces)
            lines = [f"{len(diff.unit_problems)} found"]
        return (f"<span style='color:#b35900'><b>Unit problems</b> (converted before comparing; hover for "
                f"details): {'; '.join(lines)}</span>")

    def _fill_row(self, r: int, row: PipelineRow) -> None:
        a, b = self.side_names
        cells = (row.stage, row.name, "" if row.tick is None else str(row.tick), row.unit, fmt_values(row.a),
                 fmt_values(row.b), "" if row.rel_delta is None else f"{row.rel_delta:.3g}", row.status, row.note)
        tips = {4: (a, row.a, row.a_raw), 5: (b, row.b, row.b_raw)}
        for c, text in enumerate(cells):
            item = QtWidgets.QTableWidgetItem(text)
            if c in tips:
                name, val, raw = tips[c]
                if val is not None:
                    item.setToolTip(f"{name}: {fmt_values(val)} {row.unit} (canonical)\n"
                                    f"as printed: {fmt_values(raw) if raw is not None else '—'}")
            elif c == len(cells) - 1 and text:
                item.setToolTip(text)
            if c == COLUMNS.index("status"):
                item.setBackground(QtGui.QColor(STATUS_COLOURS.get(row.status, "#ffffff")))
                if row.diverged and row.status != "diverge":
                    item.setText(f"{row.status}, diverge")
            elif row.diverged or row.status == "diverge":
                item.setBackground(DIVERGED_ROW)
            self.table.setItem(r, c, item)

    def status_of(self, name: str, tick: int | None = None) -> str | None:
        """The status cell's text of quantity `name` (at φ tick `tick`), None when it has no row (tests, export)."""
        col_name, col_tick = COLUMNS.index("quantity"), COLUMNS.index("φ tick")
        for r in range(self.table.rowCount()):
            t = self.table.item(r, col_tick).text()
            if self.table.item(r, col_name).text() == name and t == ("" if tick is None else str(tick)):
                return self.table.item(r, COLUMNS.index("status")).text()
        return None
