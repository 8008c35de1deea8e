"""One image panel: the image with crosshair, marker, tolerance overlay and an error page; reports the cursor,
clicks and right clicks in (slow, fast). Zoom and zoomed-out display: app.widgets.panel_zoom.

Orientation: image row = slow index (down), column = fast index (right); pixel (s, f) covers [f, f+1) x [s, s+1)
in view coordinates, so its centre is at (f+0.5, s+0.5) px.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from app.widgets.panel_zoom import PanelZoomMixin


class ImagePanel(PanelZoomMixin, QtWidgets.QWidget):
    """One image with crosshair, optional overlay and an error page; reports cursor and clicks in (slow, fast)."""

    cursorMoved = Signal(int, int)
    cursorLeft = Signal()
    pixelClicked = Signal(int, int)
    # A right click: (slow, fast) of the pixel under it (-1, -1 outside the image) and the global screen position.
    contextRequested = Signal(int, int, QtCore.QPoint)
    # The image pushed to the screen changed (new image, new scale or a new zoom factor).
    displayChanged = Signal()

    def __init__(self, title: str, signed: bool = False, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(f"panel_{title.split()[0].lower()}")
        self._title = title
        self.signed = signed
        self.raw: np.ndarray | None = None         # raw values (photons or the difference), for readouts
        self._display: np.ndarray | None = None    # scaled values, full resolution
        self._pyramid: dict[int, np.ndarray] = {}  # factor -> max-aggregated display image
        self._factor = 1
        self._mask: np.ndarray | None = None
        self._mask_pyramid: dict[int, np.ndarray] = {}

        self.title_label = QtWidgets.QLabel()
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        # The title never forces the panel wider: it wraps to the panel's width (so nothing is cut off), the full
        # text is also in the tooltip.
        self.title_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.title_label.setWordWrap(True)
        # A fixed height of three lines: a new note or scale text never changes the panel's layout (a relayout
        # re-measures the plot's axes: ~100+ ms on the GUI thread).
        self.title_label.setFixedHeight(3 * self.title_label.fontMetrics().lineSpacing() + 6)
        self._scale_text = ""
        self._set_title_text("")

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        # Clicking an image gives it the keyboard focus, so the panels' single-key shortcuts (F, B, 1-3) apply.
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plot = self.graphics.addPlot()
        self.plot.setLabel("bottom", "fast (px)")
        self.plot.setLabel("left", "slow (px)")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        # Pixel axes: no SI prefix, and a fixed width/height, so a zoom or a new detector size never relayouts the
        # three linked panels (pyqtgraph re-measures every axis label on each range change otherwise: ~100 ms).
        for name in ("left", "bottom"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self.plot.getAxis("left").setWidth(56)
        self.plot.getAxis("bottom").setHeight(38)
        self.vb: pg.ViewBox = self.plot.getViewBox()
        self.vb.invertY(True)
        self.vb.setAspectLocked(True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(5)
        self.plot.addItem(self.overlay_item)
        pen = pg.mkPen((255, 60, 60, 200), width=1, style=Qt.PenStyle.DashLine)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self.vline, self.hline):
            line.setZValue(10)
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
        self.marker = pg.ScatterPlotItem(size=14, pen=pg.mkPen("r", width=2), brush=None, symbol="s")
        self.marker.setZValue(11)
        self.plot.addItem(self.marker, ignoreBounds=True)

        self.error_view = QtWidgets.QPlainTextEdit()
        self.error_view.setReadOnly(True)
        self.error_view.setObjectName("error_view")
        self.error_label = QtWidgets.QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020; font-weight: bold;")
        error_page = QtWidgets.QWidget()
        el = QtWidgets.QVBoxLayout(error_page)
        el.addWidget(self.error_label)
        el.addWidget(QtWidgets.QLabel("Log tail:"))
        el.addWidget(self.error_view, 1)

        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(self.graphics)
        self.stack.addWidget(error_page)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title_label)
        layout.addWidget(self.stack, 1)

        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.vb.sigRangeChanged.connect(self._update_downsampling)
        self.vb.sigResized.connect(self._update_downsampling)
        self.vb.sigResized.connect(self._on_resized)
        self.graphics.installEventFilter(self)

    @property
    def title(self) -> str:
        return self._title

    def _set_title_text(self, note: str) -> None:
        self._note = note
        # Line 1 the name, line 2 the pixel convention, line 3 the note (run time, "loaded from …") and the colour
        # scale: short lines, so three fit a 240 px panel at 1366x768.
        third = [f"<span style='color:#1f5fbf'>{note}</span>"] if note else []
        third += [f"<span style='color:#555'>{self._scale_text}</span>"] if self._scale_text else []
        self.title_label.setText(f"<b>{self._title}</b><br><span style='color:#555; font-size:small'>pixel (s, f): "
                                 f"centre (s+½, f+½)</span>"
                                 + (f"<br><span style='font-size:small'>{' · '.join(third)}</span>" if third else ""))
        self.title_label.setToolTip("Row = slow index (down), column = fast index (right); pixel (s, f) covers "
                                    "[f, f+1) × [s, s+1) in the view, centre (s+0.5, f+0.5) px")

    def set_title(self, title: str) -> None:
        """Rename the panel (a side's engine or file), keeping its note."""
        self._title = title
        self._set_title_text(getattr(self, "_note", ""))

    def note(self) -> str:
        return getattr(self, "_note", "")

    def set_scale_text(self, text: str) -> None:
        """Which colour scale this panel uses (shared, or its own levels), shown in the subtitle."""
        self._scale_text = text
        self._set_title_text(self.note())

    def scale_text(self) -> str:
        return self._scale_text

    def set_note(self, note: str) -> None:
        """A short note after the title (e.g. the run time, or 'loaded from file.cbf')."""
        self._set_title_text(note)

    def set_image(self, raw: np.ndarray | None, display: np.ndarray | None = None,
                  pyramid: dict[int, np.ndarray] | None = None) -> None:
        """Show `raw` (display = the scaled version; defaults to raw; pyramid = pre-computed zoomed-out copies of
        display). None clears the panel."""
        self.stack.setCurrentIndex(0)
        first = self.raw is None or (raw is not None and self.raw.shape != raw.shape)
        self.raw = raw
        self._pyramid.clear()
        if pyramid:
            self._pyramid.update(pyramid)
        if raw is None:
            self._display = None
            self.image_item.clear()
            self.set_mask(None)
            self.displayChanged.emit()
            return
        self._display = np.asarray(display if display is not None else raw, dtype=np.float32)
        self._factor = 0  # force the next update to push an image
        if first:
            # Frame the whole detector before the first push, so a large image is never drawn at full
            # resolution for a view that shows it in a few hundred screen pixels.
            self.set_view_limits(raw.shape)
            self.fit_view()
        self._update_downsampling()

    def set_display(self, display: np.ndarray, pyramid: dict[int, np.ndarray] | None = None) -> None:
        """Replace the scaled image only (after a scale change), keeping the raw values and the view."""
        if self.raw is None:
            return
        self._display = np.asarray(display, dtype=np.float32)
        self._pyramid.clear()
        if pyramid:
            self._pyramid.update(pyramid)
        self._factor = 0
        self._update_downsampling()

    def set_mask(self, mask: np.ndarray | None, pyramid: dict[int, np.ndarray] | None = None) -> None:
        """Highlight True pixels in magenta over the image (None removes the overlay)."""
        self._mask = None if mask is None else mask.astype(np.float32, copy=False)
        self._mask_pyramid.clear()
        if pyramid:
            self._mask_pyramid.update(pyramid)
        if self._mask is None:
            self.overlay_item.clear()
            return
        self._factor = 0
        self._update_downsampling()

    def show_error(self, message: str, log_tail: str = "") -> None:
        """Replace the image with the engine's error and log tail (the other panels keep theirs)."""
        self.raw = None
        self._display = None
        self.image_item.clear()
        self.error_label.setText(message)
        self.error_view.setPlainText(log_tail or "(no output)")
        self.stack.setCurrentIndex(1)

    def showing_error(self) -> bool:
        return self.stack.currentIndex() == 1

    def show_marker(self, slow: int | None, fast: int | None) -> None:
        """Square marker on the inspected pixel (None hides it)."""
        if slow is None or fast is None:
            self.marker.setData([], [])
        else:
            self.marker.setData([fast + 0.5], [slow + 0.5])

    def set_crosshair(self, slow: float | None, fast: float | None) -> None:
        visible = slow is not None and fast is not None
        self.vline.setVisible(visible)
        self.hline.setVisible(visible)
        if visible:
            self.vline.setPos(fast + 0.5)
            self.hline.setPos(slow + 0.5)

    def value_at(self, slow: int, fast: int) -> float | None:
        if self.raw is None or not (0 <= slow < self.raw.shape[0] and 0 <= fast < self.raw.shape[1]):
            return None
        return float(self.raw[slow, fast])

    def _pixel_at_scene(self, scene_pos) -> tuple[int, int] | None:
        if self.raw is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.vb.mapSceneToView(scene_pos)
        f, s = int(math.floor(p.x())), int(math.floor(p.y()))
        if 0 <= s < self.raw.shape[0] and 0 <= f < self.raw.shape[1]:
            return s, f
        return None

    @Slot(object)
    def _on_mouse_moved(self, scene_pos) -> None:
        hit = self._pixel_at_scene(scene_pos)
        if hit is None:
            self.cursorLeft.emit()
        else:
            self.cursorMoved.emit(*hit)

    @Slot(object)
    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            hit = self._pixel_at_scene(ev.scenePos()) or (-1, -1)
            self.contextRequested.emit(hit[0], hit[1], ev.screenPos().toPoint())
            ev.accept()
            return
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        hit = self._pixel_at_scene(ev.scenePos())
        if hit is not None:
            self.pixelClicked.emit(*hit)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if obj is self.graphics and event.type() == QtCore.QEvent.Type.Leave:
            self.cursorLeft.emit()
        return super().eventFilter(obj, event)
