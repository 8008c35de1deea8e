"""Line profiles in the window: draw a segment on any panel (L on an image, or the right-click menu), or take the
row (R) or column (C) through the cursor; a plot shows A and B (top, photons) and A − B (below) along it, with
values read from the images' own pixels (app.core.line_profile). The window puts the plot in a dock
(`install`); a snapshot exports profile.csv and profile.png while a profile is drawn."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from app.bundle.panel_png import image_png_bytes
from app.core import line_profile as lp

COLOURS = {"a": (31, 95, 191), "b": (214, 98, 0), "diff": (60, 60, 60)}
LINE_COLOUR = (255, 0, 170)   # the segment on the images: magenta shows on every colour map's bright and dark end


class ProfilePlot(QtWidgets.QWidget):
    """A, B (top) and A − B (bottom) against distance along the segment (px); x axes linked."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.top = self.graphics.addPlot(row=0, col=0)
        self.bottom = self.graphics.addPlot(row=1, col=0)
        self.bottom.setXLink(self.top)
        self.top.setLabel("left", "photons")
        self.bottom.setLabel("left", "A − B")
        self.bottom.setLabel("bottom", "distance along the line (px)")
        self.top.addLegend(offset=(-10, 10))
        for p in (self.top, self.bottom):
            p.showGrid(x=True, y=True, alpha=0.3)
            p.getAxis("left").enableAutoSIPrefix(False)
        self.curve_a = self.top.plot([], [], pen=pg.mkPen(COLOURS["a"], width=2), name="A")
        self.curve_b = self.top.plot([], [], pen=pg.mkPen(COLOURS["b"], width=2, style=Qt.PenStyle.DashLine),
                                     name="B")
        self.curve_d = self.bottom.plot([], [], pen=pg.mkPen(COLOURS["diff"], width=1.5))
        self.label = QtWidgets.QLabel("No profile: press L on an image to draw a line, R / C for the row / column "
                                      "through the cursor.")
        self.label.setWordWrap(True)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.label)
        lay.addWidget(self.graphics, 1)
        self.setMinimumHeight(150)  # enough for two readable plots; the window still fits 1366x768

    def show_profile(self, prof: lp.Profile | None, names: tuple[str, str]) -> None:
        if prof is None:
            for c in (self.curve_a, self.curve_b, self.curve_d):
                c.setData([], [])
            return
        legend = self.top.legend
        if legend is not None:
            legend.clear()
            legend.addItem(self.curve_a, f"A: {names[0]}")
            legend.addItem(self.curve_b, f"B: {names[1]}")
        x = prof.distance
        self.curve_a.setData(x, prof.a if prof.a is not None else [])
        self.curve_b.setData(x, prof.b if prof.b is not None else [])
        d = prof.diff
        self.curve_d.setData(x, d if d is not None else [])
        self.label.setText(prof.describe())


class ProfileController(QtCore.QObject):
    """The segment (a LineSegmentROI on one panel) or row/column, and the profile it gives; `profile` is the last
    one (None until one is drawn). Signal changed(profile)."""

    changed = Signal(object)

    def __init__(self, panels, parent: QtCore.QObject | None = None):
        super().__init__(parent or panels)
        self.panels = panels
        # A child of the panels, hidden until a window docks it (install): a parentless plot would outlive the panels
        # and be destroyed by a garbage collection at a random moment, its pyqtgraph items half torn down (a crash).
        self.plot = ProfilePlot(panels)
        self.plot.hide()
        self.profile: lp.Profile | None = None
        self.roi: pg.LineSegmentROI | None = None
        self._roi_panel = None
        self._cursor: tuple[int, int] | None = None
        self._guide = []
        for p in panels.panels:
            guide = pg.PlotCurveItem(pen=pg.mkPen(LINE_COLOUR, width=2))
            guide.setZValue(13)
            p.plot.addItem(guide, ignoreBounds=True)
            self._guide.append(guide)
        panels.hovered.connect(self._on_hover)
        self.shortcuts = []
        for key, slot in (("L", self.draw_line_here), ("R", self.row_at_cursor), ("C", self.column_at_cursor)):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), panels)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
            self.shortcuts.append(sc)

    # ---- making a profile ------------------------------------------------------------------------------------------
    def images(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self.panels.panel_a.raw, self.panels.panel_b.raw

    def show_segment(self, start: tuple[float, float], end: tuple[float, float]) -> lp.Profile | None:
        """Profile along start→end (x = fast, y = slow, view px) through both images; None without an image."""
        a, b = self.images()
        if a is None and b is None:
            return None
        if a is not None and b is not None and a.shape != b.shape:
            b = None  # different shapes: A alone
        prof = lp.line_profile(a, b, start, end)
        self._set(prof)
        return prof

    def row_at_cursor(self, slow: int | None = None) -> lp.Profile | None:
        """The row through the cursor (or `slow`)."""
        if slow is None:
            if self._cursor is None:
                return None
            slow = self._cursor[0]
        a, b = self.images()
        ref = a if a is not None else b
        if ref is None:
            return None
        self._remove_roi()
        return self.show_segment((0.0, slow + 0.5), (ref.shape[1] - 1e-9, slow + 0.5))

    def column_at_cursor(self, fast: int | None = None) -> lp.Profile | None:
        """The column through the cursor (or `fast`)."""
        if fast is None:
            if self._cursor is None:
                return None
            fast = self._cursor[1]
        a, b = self.images()
        ref = a if a is not None else b
        if ref is None:
            return None
        self._remove_roi()
        return self.show_segment((fast + 0.5, 0.0), (fast + 0.5, ref.shape[0] - 1e-9))

    @Slot()
    def draw_line_here(self, panel=None) -> None:
        """A segment with two draggable ends on `panel` (default: the panel with the focus, else A), across the
        middle half of the view; the profile follows every drag."""
        if panel is None:
            focus = QtWidgets.QApplication.focusWidget()
            panel = next((p for p in self.panels.panels if p.graphics is focus), self.panels.panel_a)
        (x0, x1), (y0, y1) = panel.vb.viewRange()
        cy = (y0 + y1) / 2
        self._remove_roi()
        roi = pg.LineSegmentROI([[x0 + 0.25 * (x1 - x0), cy], [x0 + 0.75 * (x1 - x0), cy]],
                                pen=pg.mkPen(LINE_COLOUR, width=2))
        roi.setZValue(14)
        panel.plot.addItem(roi, ignoreBounds=True)
        roi.sigRegionChanged.connect(self._on_roi)
        self.roi, self._roi_panel = roi, panel
        self._on_roi()

    def roi_ends(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        if self.roi is None:
            return None
        pts = [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]
        return (pts[0].x(), pts[0].y()), (pts[1].x(), pts[1].y())

    def set_roi_ends(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Move the drawn segment's ends (view px), as dragging its handles does."""
        if self.roi is None:
            self.draw_line_here()
        h0, h1 = self.roi.getHandles()
        self.roi.movePoint(h0, QtCore.QPointF(*start), finish=False, coords="parent")
        self.roi.movePoint(h1, QtCore.QPointF(*end), coords="parent")

    @Slot()
    def _on_roi(self, *args) -> None:
        ends = self.roi_ends()
        if ends is not None:
            self.show_segment(*ends)

    def _remove_roi(self) -> None:
        if self.roi is not None and self._roi_panel is not None:
            self._roi_panel.plot.removeItem(self.roi)
            self.roi.deleteLater()  # deleted by the event loop, not by a garbage collection at a random moment
        self.roi, self._roi_panel = None, None

    def clear(self) -> None:
        self._remove_roi()
        self.profile = None
        for g in self._guide:
            g.setData([], [])
        self.plot.show_profile(None, self.names())

    def names(self) -> tuple[str, str]:
        return self.panels.panel_a.title, self.panels.panel_b.title

    def _set(self, prof: lp.Profile) -> None:
        self.profile = prof
        (x0, y0), (x1, y1) = prof.start, prof.end
        for g in self._guide:  # the segment in every panel (the ROI's own panel shows its handles on top)
            g.setData([x0, x1], [y0, y1])
        self.plot.show_profile(prof, self.names())
        self.changed.emit(prof)

    @Slot(int, int)
    def _on_hover(self, slow: int, fast: int) -> None:
        self._cursor = (slow, fast)

    # ---- snapshot --------------------------------------------------------------------------------------------------
    def export_files(self) -> dict[str, bytes]:
        """profile.csv and profile.png while a profile is drawn (GUI thread: the PNG grabs the plot)."""
        if self.profile is None:
            return {}
        return {"profile.csv": self.profile.csv(self.names()).encode("utf-8"),
                "profile.png": image_png_bytes(self.plot.grab())}


def install(window) -> QtWidgets.QDockWidget:
    """Put the panels' profile plot in a bottom dock of `window`, shown when a profile is made."""
    ctl = window.panels.profile
    dock = QtWidgets.QDockWidget("Line profile", window)
    dock.setObjectName("profile_dock")
    dock.setWidget(ctl.plot)
    ctl.plot.show()   # hidden while it was only the panels' child; the dock now decides
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    ctl.changed.connect(lambda _p: dock.show())
    toggle = dock.toggleViewAction()
    toggle.setText("Line profile")
    for menu in window.menuBar().findChildren(QtWidgets.QMenu):
        if menu.title() == "&View":
            menu.addAction(toggle)
    window.profile_dock = dock
    return dock
