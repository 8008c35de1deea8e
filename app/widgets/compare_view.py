"""The compare modes in the window: one exclusive action group (side by side, difference, swipe, overlay) on
single keys, the swipe's split line (dragged with the mouse, the same line in every panel) and the overlay's blend
slider. The pictures come from app.core.compare_modes; this module only shows them in the third panel.

The third panel keeps its difference image (and readouts) underneath; swipe and overlay draw an opaque RGBA image
over it, built from the two sides' displayed (max-aggregated) images at the current zoom factor, so a drag of the
split line recolours at most a screen's worth of pixels.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from app.bundle.compare_png import CompareInput
from app.core import compare_modes as cm

_TITLES = {"diff": "Difference", "swipe_v": "Swipe: A | B", "swipe_h": "Swipe: A over B",
           "overlay": "Overlay: A magenta, B green"}


class CompareView(QtCore.QObject):
    """Compare-mode state and drawing for an app.widgets.image_panels.ImagePanels (`panels`)."""

    modeChanged = Signal(str)

    def __init__(self, panels, parent: QtCore.QObject | None = None):
        super().__init__(parent or panels)
        self.panels = panels
        self._mode = "diff"
        self.split: dict[str, float] = {"v": float("nan"), "h": float("nan")}  # view coordinate (px) per orientation
        panel = panels.diff_panel
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(6)  # over the difference and the tolerance overlay, under crosshair and marker
        self.item.setVisible(False)
        panel.plot.addItem(self.item)
        # The split line: one movable line per panel (A, B and the compare panel), kept at one position.
        self.lines: list[pg.InfiniteLine] = []
        for p in panels.panels:
            line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((255, 255, 255), width=2),
                                   hoverPen=pg.mkPen((255, 200, 0), width=3))
            line.setZValue(12)
            line.setVisible(False)
            line.setToolTip("Swipe split line: drag it (in any panel)")
            p.plot.addItem(line, ignoreBounds=True)
            line.sigPositionChanged.connect(self._on_line_moved)
            self.lines.append(line)
        self.blend_slider = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.blend_slider.setRange(0, 100)
        self.blend_slider.setValue(50)
        self.blend_slider.setMaximumWidth(110)
        self.blend_slider.setToolTip("Overlay blend: left shows A only, right B only, the middle both at full strength")
        self.blend_label = QtWidgets.QLabel("Blend A↔B")
        self.blend_slider.valueChanged.connect(self.redraw)
        self._set_blend_visible(False)

        self.group = QtGui.QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QtGui.QAction] = {}
        for key, text in cm.MODES.items():
            a = QtGui.QAction(f"Compare: {text}", self)
            tip = f"Compare mode: {text} ({cm.KEYS[key]} on an image)"
            a.setToolTip(tip)
            a.setStatusTip(tip)
            a.setCheckable(True)
            a.setData(key)
            a.triggered.connect(self._on_action)
            self.group.addAction(a)
            self.actions[key] = a
        self.actions[self._mode].setChecked(True)
        self.shortcuts = []
        for key, a in self.actions.items():
            sc = QtGui.QShortcut(QtGui.QKeySequence(cm.KEYS[key]), panels)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(a.trigger)
            self.shortcuts.append(sc)
        for p in (panels.panel_a, panels.panel_b):
            p.displayChanged.connect(self.redraw)
        panels.image_bar.bar.sigLevelsChanged.connect(self.redraw)

    # ---- mode ------------------------------------------------------------------------------------------------------
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Show compare mode `mode` (a key of app.core.compare_modes.MODES; unknown keys are ignored)."""
        if mode not in cm.MODES:
            return
        self._mode = mode
        if not self.actions[mode].isChecked():
            self.actions[mode].setChecked(True)
        p = self.panels
        side = mode == "side"
        p.diff_panel.setVisible(not side)
        p.grid.setColumnStretch(3, 0 if side else 1)  # side by side: A and B take the third panel's room
        drawn = mode in ("swipe_v", "swipe_h", "overlay")
        p.diff_bar.setVisible(not side and not drawn)
        p.diff_panel.set_title(_TITLES.get(mode, "Difference"))
        self._set_blend_visible(mode == "overlay")
        orient = "v" if mode == "swipe_v" else "h"
        for line in self.lines:
            line.setVisible(mode in ("swipe_v", "swipe_h"))
            line.setAngle(90 if orient == "v" else 0)
        if mode in ("swipe_v", "swipe_h"):
            self._place_line(orient)
        self.redraw()
        self.modeChanged.emit(mode)

    @Slot()
    def _on_action(self) -> None:
        a = self.sender()
        if isinstance(a, QtGui.QAction):
            self.set_mode(a.data())

    def _set_blend_visible(self, on: bool) -> None:
        self.blend_slider.setVisible(on)
        self.blend_label.setVisible(on)

    # ---- split line ------------------------------------------------------------------------------------------------
    def _place_line(self, orient: str) -> None:
        raw = self.panels.panel_a.raw if self.panels.panel_a.raw is not None else self.panels.panel_b.raw
        pos = self.split[orient]
        if raw is not None and not (0 <= pos <= raw.shape[1 if orient == "v" else 0]):
            pos = raw.shape[1 if orient == "v" else 0] / 2.0
            self.split[orient] = pos
        if np.isfinite(pos):
            self.set_split(pos)

    def set_split(self, position_px: float) -> None:
        """Put the split line of the current swipe at view coordinate `position_px` (fast px for a vertical line,
        slow px for a horizontal one) in every panel."""
        orient = "v" if self._mode != "swipe_h" else "h"
        self.split[orient] = float(position_px)
        for line in self.lines:
            if line.value() != position_px:
                line.blockSignals(True)
                line.setValue(position_px)
                line.blockSignals(False)
        self.redraw()

    @Slot(object)
    def _on_line_moved(self, line) -> None:
        self.set_split(float(line.value()))

    # ---- drawing ---------------------------------------------------------------------------------------------------
    def blend(self) -> float:
        return self.blend_slider.value() / 100.0

    def capture(self, marks: list[tuple[int, int]]) -> CompareInput | None:
        """What the compare panel shows, for the snapshot's panel_compare.png (GUI thread, no per-pixel work);
        None outside swipe and overlay."""
        panels, mode = self.panels, self.mode()
        if mode not in ("swipe_v", "swipe_h", "overlay"):
            return None
        a, b = panels.panel_a.display_at(1), panels.panel_b.display_at(1)
        if a is None or b is None or a.shape != b.shape:
            return None
        la, lb = panels.side_levels()
        split = self.split["v" if mode == "swipe_v" else "h"]
        return CompareInput(mode, a, b, la, lb, panels.colormap(), panels.scale, split, self.blend(),
                            (panels.panel_a.title, panels.panel_b.title), list(marks))

    def rgba(self) -> np.ndarray | None:
        """The picture the current swipe/overlay mode shows (uint8 RGBA at the current zoom factor), or None."""
        p = self.panels
        if self._mode not in ("swipe_v", "swipe_h", "overlay"):
            return None
        factor = max(p.panel_a.current_factor(), 1)
        a, b = p.panel_a.display_at(factor), p.panel_b.display_at(factor)
        if a is None or b is None or a.shape != b.shape:
            return None
        la, lb = p.side_levels()
        if self._mode == "overlay":
            return cm.overlay_rgba(a, b, la, lb, self.blend())
        orient = "v" if self._mode == "swipe_v" else "h"
        n = a.shape[1 if orient == "v" else 0]
        split = cm.split_index(self.split[orient], factor, n)
        return cm.swipe_rgba(a, b, split, orient, la, lb, p.image_lut())

    @Slot()
    def redraw(self, *args) -> None:
        img = self.rgba()
        if img is None:
            self.item.setVisible(False)
            self.item.clear()
            return
        factor = max(self.panels.panel_a.current_factor(), 1)
        self.item.setImage(img, autoLevels=False, levels=(0, 255),
                           rect=QtCore.QRectF(0, 0, img.shape[1] * factor, img.shape[0] * factor))
        self.item.setVisible(True)
