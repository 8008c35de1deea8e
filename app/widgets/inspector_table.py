"""The inspector's Table page: both sides' per-φ values of the inspected pixel, tick by tick, with B − A.

`CopyableTable` copies as TSV (Ctrl+C: the selection, or everything); `fill_phi_table` writes one row per φ tick
and, per field either side traces, the columns "<field> <A>", "<field> <B>" and "Δ<field> (<B>−<A>)"; the row of
the first divergence is tinted.
"""
from __future__ import annotations

import math

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.widgets.inspector_plots import field_series
from tracing.records import PLOT_FIELDS, PathKey, PixelTrace

EXTRA_FIELDS = ("h0", "k0", "l0")   # the nearest Miller indices, when a trace gives them
DIVERGENCE_TINT = QtGui.QColor(255, 220, 220)


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


class PhiTablePage(QtWidgets.QWidget):
    """The Table page: the per-φ table and a button that copies it whole as TSV."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.table = CopyableTable()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Ctrl+C copies the selection (or the whole table) as tab-separated text")
        copy_button = QtWidgets.QPushButton("Copy table (TSV)")
        copy_button.clicked.connect(self.copy_table)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table, 1)
        lay.addWidget(copy_button, 0, Qt.AlignmentFlag.AlignLeft)

    def copy_table(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.table.to_tsv())


def fmt_value(v: float | None) -> str:
    """A table cell: 10 significant digits, '' for a missing value, 'nan'/'inf' as such."""
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.10g}"


def fill_phi_table(table: QtWidgets.QTableWidget, ct: PixelTrace | None, pc: PathKey | None,
                   pt: PixelTrace | None, pp: PathKey | None, side_names: tuple[str, str],
                   divergence_tick: int | None) -> None:
    """Replace the table's contents with both traces' per-φ values (paths pc of ct, pp of pt) and their B − A."""
    fields = [f for f in PLOT_FIELDS + EXTRA_FIELDS
              if field_series(ct, pc, f) is not None or field_series(pt, pp, f) is not None]
    a, b = side_names
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
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(by_tick))
    for r, tick in enumerate(sorted(by_tick)):
        vals = by_tick[tick]
        cells = [str(tick)] + [fmt_value(vals.get(h)) for h in headers[1:]]
        for c, text in enumerate(cells):
            item = QtWidgets.QTableWidgetItem(text)
            if divergence_tick is not None and tick == divergence_tick:
                item.setBackground(DIVERGENCE_TINT)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
