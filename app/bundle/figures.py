"""One figure per inspected pixel, drawn with QPainter on a QImage (no matplotlib; safe on a worker thread).

The figure: a title (pixel, both engines), the first-divergence sentence, a legend, then one small line plot per
traced field (h, k, l, F_latt a/b/c and product, F_cell, contribution) against the φ tick, both sides overlaid, the
first divergence as a red vertical line, and a wide plot of B − A for the field that diverged. Text is near-black on
white, 12-13 px, so it reads on paper and on a projector.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.bundle.panel_png import INK, _ensure_gui_app, image_png_bytes, nice_ticks
from tracing.phi_compare import compare_traces
from tracing.records import PLOT_FIELDS, PixelTrace
from tracing.metrics import ParityThresholds

FIELD_TITLES: dict[str, str] = {
    "h_frac": "h (fractional)", "k_frac": "k (fractional)", "l_frac": "l (fractional)",
    "F_latt_a": "F_latt a", "F_latt_b": "F_latt b", "F_latt_c": "F_latt c", "F_latt": "F_latt (a·b·c)",
    "F_cell": "F_cell", "I_contrib": "contribution",
}
A_COLOR, B_COLOR, DIV_COLOR, DELTA_COLOR = "#1f77b4", "#ff7f0e", "#d62728", "#6a3d9a"
WIDTH = 1500
CELL_H = 230
COLS = 3


@dataclass
class Line:
    """One plotted series: x = φ ticks, y = values."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dashed: bool = False
    marker: str = "o"     # 'o' filled circle, 't' open triangle, 'd' diamond


def trace_series(trace: PixelTrace | None, field: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(ticks, values) of one field along the trace's first path; None when absent."""
    if trace is None or not trace.samples:
        return None
    pts = [(s.phi_tic, s.get(field)) for s in trace.series()]
    pts = [(t, v) for t, v in pts if v is not None]
    if not pts:
        return None
    return np.array([t for t, _ in pts], float), np.array([v for _, v in pts], float)


def _fmt_tick(v: float, step: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2e}"
    digits = max(0, -int(math.floor(math.log10(step)))) if step > 0 else 3
    return f"{v:.{min(digits, 6)}f}"


def draw_plot(p, rect, title: str, lines: list[Line], vline: float | None = None, band: float | None = None,
              x_label: str = "φ tick") -> None:
    """A small line plot in `rect` (QRectF) of a QPainter: title, axes with round ticks, lines, divergence line."""
    from PySide6 import QtCore, QtGui
    ink = QtGui.QColor(INK)
    font = p.font()
    font.setPixelSize(13)
    font.setBold(True)
    p.setFont(font)
    p.setPen(ink)
    p.drawText(QtCore.QRectF(rect.left(), rect.top(), rect.width(), 18), int(QtCore.Qt.AlignmentFlag.AlignHCenter),
               title)
    font.setBold(False)
    font.setPixelSize(11)
    p.setFont(font)
    fm = p.fontMetrics()
    plot = QtCore.QRectF(rect.left() + 70, rect.top() + 24, rect.width() - 84, rect.height() - 24 - 38)
    xs = np.concatenate([ln.x for ln in lines]) if lines else np.zeros(0)
    ys = np.concatenate([ln.y for ln in lines]) if lines else np.zeros(0)
    ys = ys[np.isfinite(ys)]
    if band is not None:
        ys = np.concatenate([ys, [-band, band]])
    if xs.size == 0 or ys.size == 0:
        p.drawRect(plot)
        p.drawText(plot, int(QtCore.Qt.AlignmentFlag.AlignCenter), "not in either trace")
        return
    x0, x1 = float(xs.min()) - 0.5, float(xs.max()) + 0.5
    y0, y1 = float(ys.min()), float(ys.max())
    if not y1 > y0:
        pad = abs(y0) * 1e-3 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    pad = 0.08 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def X(v):  # noqa: N802 - data -> screen
        return plot.left() + (v - x0) / (x1 - x0) * plot.width()

    def Y(v):  # noqa: N802
        return plot.bottom() - (v - y0) / (y1 - y0) * plot.height()

    grid = QtGui.QPen(QtGui.QColor("#dddddd"), 1)
    yt = nice_ticks(y0, y1, 5)
    ystep = yt[1] - yt[0] if len(yt) > 1 else 0.0
    for v in yt:
        p.setPen(grid)
        p.drawLine(QtCore.QPointF(plot.left(), Y(v)), QtCore.QPointF(plot.right(), Y(v)))
        p.setPen(ink)
        text = _fmt_tick(v, ystep)
        p.drawText(QtCore.QPointF(plot.left() - 6 - fm.horizontalAdvance(text), Y(v) + 4), text)
    xt = [v for v in nice_ticks(x0, x1, 10) if abs(v - round(v)) < 1e-9]
    for v in xt:
        p.setPen(grid)
        p.drawLine(QtCore.QPointF(X(v), plot.top()), QtCore.QPointF(X(v), plot.bottom()))
        p.setPen(ink)
        text = f"{v:g}"
        p.drawText(QtCore.QPointF(X(v) - fm.horizontalAdvance(text) / 2, plot.bottom() + 15), text)
    p.drawText(QtCore.QPointF(plot.center().x() - fm.horizontalAdvance(x_label) / 2, plot.bottom() + 31), x_label)
    if band is not None:
        p.fillRect(QtCore.QRectF(plot.left(), Y(band), plot.width(), Y(-band) - Y(band)),
                   QtGui.QColor(44, 160, 44, 50))
    p.setPen(QtGui.QPen(ink, 1))
    p.drawRect(plot)
    if vline is not None and x0 <= vline <= x1:
        p.setPen(QtGui.QPen(QtGui.QColor(DIV_COLOR), 2))
        p.drawLine(QtCore.QPointF(X(vline), plot.top()), QtCore.QPointF(X(vline), plot.bottom()))
    p.save()
    p.setClipRect(plot.adjusted(-6, -6, 6, 6))
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    for ln in lines:
        pen = QtGui.QPen(QtGui.QColor(ln.color), 2)
        if ln.dashed:
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        p.setPen(pen)
        pts = [QtCore.QPointF(X(a), Y(b)) for a, b in zip(ln.x, ln.y, strict=True) if math.isfinite(b)]
        if len(pts) > 1:
            p.drawPolyline(pts)
        _markers(p, pts, ln)
    p.restore()


def _markers(p, pts, ln: Line) -> None:
    from PySide6 import QtCore, QtGui
    color = QtGui.QColor(ln.color)
    p.setPen(QtGui.QPen(color, 2))
    for pt in pts:
        if ln.marker == "o":
            p.setBrush(color)
            p.drawEllipse(pt, 4.0, 4.0)
        elif ln.marker == "t":
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawPolygon(QtGui.QPolygonF([pt + QtCore.QPointF(-5, -4), pt + QtCore.QPointF(5, -4),
                                           pt + QtCore.QPointF(0, 5)]))
        else:
            p.setBrush(color)
            p.drawPolygon(QtGui.QPolygonF([pt + QtCore.QPointF(0, -5), pt + QtCore.QPointF(5, 0),
                                           pt + QtCore.QPointF(0, 5), pt + QtCore.QPointF(-5, 0)]))
    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)


def pixel_figure(insp, names: tuple[str, str] = ("C reference", "PyTorch"), tol: float = ParityThresholds().phi_tol,
                 notes: list[str] | tuple[str, ...] = ()):
    """A QImage of one inspected pixel (an app.core.records.PixelInspection): see the module docstring. notes: lines
    printed under the title in orange (e.g. that a loaded side's trace was computed by a named engine)."""
    QtGui = _ensure_gui_app()
    from PySide6 import QtCore
    # The curves are the traces: name them after the engines that traced (a loaded side's tracer, not its file).
    traced = getattr(insp, "labels", None) or {}
    a, b = traced.get("a") or names[0], traced.get("b") or names[1]
    ct, pt = insp.trace_a, insp.trace_b
    cmp_ = insp.comparison
    if cmp_ is None and ct is not None and pt is not None and ct.samples and pt.samples:
        cmp_ = compare_traces(ct, pt, tol=tol)
    div = cmp_.first_divergence if cmp_ is not None else None
    fields = [f for f in PLOT_FIELDS if trace_series(ct, f) is not None or trace_series(pt, f) is not None]
    rows = max(1, math.ceil(len(fields) / COLS))
    head_h = 92 + 20 * len(notes)
    height = head_h + rows * CELL_H + CELL_H + 10
    img = QtGui.QImage(WIDTH, height, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor("white"))
    p = QtGui.QPainter(img)
    try:
        p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        ink = QtGui.QColor(INK)
        font = p.font()
        font.setPixelSize(18)
        font.setBold(True)
        p.setFont(font)
        p.setPen(ink)
        p.drawText(14, 26, f"Pixel (slow {insp.slow}, fast {insp.fast}): {a} (A) vs {b} (B), per φ tick")
        font.setPixelSize(14)
        p.setFont(font)
        sentence = cmp_.describe() if cmp_ is not None else insp.describe()
        p.setPen(QtGui.QColor(DIV_COLOR if div is not None else "#1a7f1a"))
        p.drawText(14, 50, sentence[:200])
        font.setBold(False)
        font.setPixelSize(13)
        p.setFont(font)
        p.setPen(QtGui.QColor("#b35900"))
        for i, note in enumerate(notes):
            p.drawText(14, 70 + 20 * i, note[:220])
        _legend(p, 14, 74 + 20 * len(notes), [(f"A: {a}", A_COLOR, False, "o"), (f"B: {b}", B_COLOR, True, "t"),
                            ("first divergence" + (f" (tick {div.phi_tic})" if div is not None else ": none"),
                             DIV_COLOR, False, "|")])
        cell_w = (WIDTH - 20) / COLS
        vline = float(div.phi_tic) if div is not None else None
        for i, f in enumerate(fields):
            r, c = divmod(i, COLS)
            lines = []
            for label, tr, color, dashed, marker in ((a, ct, A_COLOR, False, "o"), (b, pt, B_COLOR, True, "t")):
                sr = trace_series(tr, f)
                if sr is not None:
                    lines.append(Line(label, sr[0], sr[1], color, dashed, marker))
            rect = QtCore.QRectF(10 + c * cell_w, head_h + r * CELL_H, cell_w - 8, CELL_H - 8)
            draw_plot(p, rect, FIELD_TITLES.get(f, f), lines, vline)
        field = div.field if div is not None else "k_frac"
        xs, ys = [], []
        for row in (cmp_.rows if cmp_ is not None else []):
            if field in row.delta:
                xs.append(row.phi_tic)
                ys.append(row.delta[field])
        band = tol if field in ("h_frac", "k_frac", "l_frac") else None
        rect = QtCore.QRectF(10, head_h + rows * CELL_H, WIDTH - 20, CELL_H - 8)
        title = f"B − A of {FIELD_TITLES.get(field, field)}" + (f" (green band: ±{tol:g})" if band else "")
        draw_plot(p, rect, title, [Line("B − A", np.array(xs, float), np.array(ys, float), DELTA_COLOR,
                                        marker="d")] if xs else [], vline, band)
    finally:
        p.end()
    return img


def _legend(p, x: float, y: float, entries) -> None:
    from PySide6 import QtCore, QtGui
    fm = p.fontMetrics()
    for label, color, dashed, marker in entries:
        pen = QtGui.QPen(QtGui.QColor(color), 2)
        if dashed:
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        p.setPen(pen)
        if marker == "|":
            p.drawLine(QtCore.QPointF(x + 14, y - 11), QtCore.QPointF(x + 14, y + 3))
        else:
            p.drawLine(QtCore.QPointF(x, y - 4), QtCore.QPointF(x + 28, y - 4))
            _markers(p, [QtCore.QPointF(x + 14, y - 4)], Line(label, np.zeros(0), np.zeros(0), color, dashed,
                                                                 marker))
        p.setPen(QtGui.QColor(INK))
        p.drawText(QtCore.QPointF(x + 34, y), label)
        x += 34 + fm.horizontalAdvance(label) + 28


def pixel_figure_png(insp, names: tuple[str, str] = ("C reference", "PyTorch"), tol: float = ParityThresholds().phi_tol,
                     notes: list[str] | tuple[str, ...] = ()) -> bytes:
    """pixel_figure as PNG bytes."""
    return image_png_bytes(pixel_figure(insp, names, tol, notes))
