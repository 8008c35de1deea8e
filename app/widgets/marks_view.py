"""Resolution rings and predicted reflections drawn over the three panels (the numbers come from app.core.predict).

- Rings (G on an image, or View menu): at the d-spacings typed in the "Rings (Å)" box and at the edge's resolution
  (the largest ring that stays on the detector all round), each labelled with its d.
- Predicted reflections (P on an image, or View menu): the lattice's spots over the φ range of the command line,
  circled, the strongest labelled with h k l; the readout names the nearest one to the cursor.
They are computed on a worker thread from the run's command line (`set_config`), only while shown.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from app.core import predict
from app.qt.workers import JobRunner

log = logging.getLogger(__name__)
RING_PEN = (255, 255, 255)
SPOT_PEN = (255, 140, 0)
MAX_LABELS = 25   # h k l labels show once the view holds at most this many spots (every spot is circled)


class ReflectionMarks(QtCore.QObject):
    """Rings and predicted spots for an app.widgets.image_panels.ImagePanels. Signal ready() after new marks are
    drawn."""

    ready = Signal()

    def __init__(self, panels, parent: QtCore.QObject | None = None):
        super().__init__(parent or panels)
        self.panels = panels
        self.config = None
        self.spots: list[predict.Spot] = []
        self.rings: list[tuple[float, np.ndarray, np.ndarray, str]] = []   # d (Å), x, y, label
        self.error = ""
        self._gen = 0
        self.runner = JobRunner("nbparity-predict")
        self.runner.result.connect(self._on_result)
        self.runner.error.connect(self._on_error)
        self.d_edit = QtWidgets.QLineEdit()
        self.d_edit.setPlaceholderText("d (Å): 3.5 2.0")
        self.d_edit.setMaximumWidth(110)
        self.d_edit.setToolTip("Resolution rings at these d-spacings (Å, separated by spaces or commas), besides "
                               "the ring at the detector edge's resolution; Enter applies (G shows the rings)")
        self._d_tip = self.d_edit.toolTip()
        self.d_edit.editingFinished.connect(self.refresh)

        def act(text: str, key: str, tip: str) -> QtGui.QAction:
            a = QtGui.QAction(text, self)
            a.setCheckable(True)
            a.setToolTip(f"{tip} ({key} on an image)")
            a.setStatusTip(a.toolTip())
            a.toggled.connect(self.refresh)
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), panels)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(a.toggle)
            self._shortcuts.append(sc)
            return a
        self._shortcuts: list[QtGui.QShortcut] = []
        self.rings_action = act("Resolution rings", "G", "Rings at the listed d-spacings and at the edge's resolution")
        self.spots_action = act("Predicted reflections", "P", "The lattice's spots over the command line's φ range, "
                                "with h k l")
        self.items: list[list] = [[] for _ in panels.panels]
        self.labels: list[list[tuple[predict.Spot, pg.TextItem]]] = [[] for _ in panels.panels]
        panels.panel_a.vb.sigRangeChanged.connect(self._update_labels)  # the panels' views are linked
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close)

    def actions(self) -> list[QtGui.QAction]:
        return [self.rings_action, self.spots_action]

    def set_config(self, config) -> None:
        """The command line of the images shown (NanoBraggConfig; None forgets it)."""
        self.config = config
        self.spots, self.rings, self.error = [], [], ""
        self.refresh()

    def close(self) -> None:
        self.runner.close()

    # ---- computing -------------------------------------------------------------------------------------------------
    @Slot()
    def refresh(self, *args) -> None:
        """Recompute (on a worker) and redraw what is switched on."""
        self._gen += 1
        want_rings, want_spots = self.rings_action.isChecked(), self.spots_action.isChecked()
        if self.config is None or not (want_rings or want_spots):
            self._draw()
            return
        try:
            d_list = predict.parse_d_list(self.d_edit.text())
        except ValueError as exc:
            self.error = str(exc)
            self.d_edit.setStyleSheet("background: #fde2e2")
            self.d_edit.setToolTip(str(exc))
            d_list = []
        else:
            self.d_edit.setStyleSheet("")
            self.d_edit.setToolTip(self._d_tip)
        cfg, gen = self.config, self._gen

        def work(_progress, _cancel):
            from simulator.setup import build_setup
            setup = build_setup(cfg)
            frame = predict.DetectorFrame.from_setup(setup)
            rings = []
            if want_rings:
                edge = predict.edge_resolution(frame)
                for d, label in [(d, f"{d:g} Å") for d in d_list] + [(edge, f"edge {edge:.2f} Å")]:
                    x, y = predict.ring_points(frame, d)
                    if x.size:
                        rings.append((d, x, y, label))
            spots = predict.predict_spots(setup) if want_spots else []
            return gen, rings, spots

        self.runner.start("marks", work)

    @Slot(int, str, object)
    def _on_result(self, _job: int, _tag: str, value) -> None:
        gen, rings, spots = value
        if gen != self._gen:
            return
        self.rings, self.spots, self.error = rings, spots, ""
        self._draw()

    @Slot(int, str, str, str)
    def _on_error(self, _job: int, _tag: str, message: str, _tb: str) -> None:
        self.error = f"Rings and predicted reflections: {message}"
        log.warning("%s", self.error)
        self._draw()

    # ---- drawing ---------------------------------------------------------------------------------------------------
    def _draw(self) -> None:
        for panel, items in zip(self.panels.panels, self.items, strict=True):
            for it in items:
                panel.plot.removeItem(it)
                it.deleteLater()  # deleted by the event loop, not by a garbage collection at a random moment
            items.clear()
            if self.rings_action.isChecked():
                for _d, x, y, label in self.rings:
                    curve = pg.PlotCurveItem(x, y, pen=pg.mkPen(RING_PEN, width=2), connect="finite")
                    items.append(curve)
                    s_n, f_n = panel.raw.shape if panel.raw is not None else (np.inf, np.inf)
                    ok = np.flatnonzero(np.isfinite(x) & (x >= 0) & (x <= f_n) & (y >= 0) & (y <= s_n))
                    if ok.size:
                        i = ok[np.argmin(y[ok])]  # label at the ring's topmost point on the image
                        text = pg.TextItem(label, color=RING_PEN, anchor=(0.5, 1.0))
                        text.setPos(float(x[i]), float(y[i]))
                        items.append(text)
            if self.spots_action.isChecked() and self.spots:
                xy = np.array([[s.x, s.y] for s in self.spots])
                scatter = pg.ScatterPlotItem(xy[:, 0], xy[:, 1], size=10, symbol="o", brush=None,
                                             pen=pg.mkPen(SPOT_PEN, width=1.5), pxMode=True)
                items.append(scatter)
            for it in items:
                it.setZValue(9)
                panel.plot.addItem(it, ignoreBounds=True)
        self._update_labels()
        self.ready.emit()

    @Slot()
    def _update_labels(self, *args) -> None:
        """h k l beside the spots in view, once the view holds at most MAX_LABELS of them (none otherwise)."""
        for panel, labels in zip(self.panels.panels, self.labels, strict=True):
            for _s, text in labels:
                panel.plot.removeItem(text)
                text.deleteLater()
            labels.clear()
        if not (self.spots_action.isChecked() and self.spots):
            return
        (x0, x1), (y0, y1) = self.panels.panel_a.vb.viewRange()
        shown = [s for s in self.spots if x0 <= s.x <= x1 and min(y0, y1) <= s.y <= max(y0, y1)]
        # Many spots in view (the whole detector): small dots, so the image and the rings still show.
        few = len(shown) <= 4 * MAX_LABELS
        for items in self.items:
            for it in items:
                if isinstance(it, pg.ScatterPlotItem):
                    it.setSize(10 if few else 3)
                    it.setPen(pg.mkPen(SPOT_PEN, width=1.5 if few else 1))
        if len(shown) > MAX_LABELS:
            return
        for panel, labels in zip(self.panels.panels, self.labels, strict=True):
            for s in shown:
                text = pg.TextItem(f"{s.h} {s.k} {s.l}", color=SPOT_PEN, anchor=(0.0, 1.0))
                text.setPos(s.x + 2, s.y - 2)
                text.setZValue(9)
                panel.plot.addItem(text, ignoreBounds=True)
                labels.append((s, text))

    # ---- readout ---------------------------------------------------------------------------------------------------
    def readout(self, slow: int, fast: int) -> str:
        """'nearest predicted (h k l) at r px, d Å' while predicted reflections are shown ('' otherwise)."""
        if not self.spots_action.isChecked():
            return ""
        near = predict.nearest_spot(self.spots, slow, fast)
        if near is None:
            return ""
        s, dist = near
        return f"nearest predicted ({s.h} {s.k} {s.l}) {dist:.1f} px, d {s.d_A:.3f} Å, φ {s.phi_deg:.3g}°"
