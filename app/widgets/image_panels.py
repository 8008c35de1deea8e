"""Three linked image panels: C reference, PyTorch, and their difference.

- Pan and zoom are linked (ViewBox X/Y links); a crosshair follows the cursor in all three panels.
- C and PyTorch share one colour scale driven by one colour bar (linear / log / sqrt, percentile auto-contrast or
  manual levels). The difference panel has its own diverging colour bar with symmetric levels centred on zero.
- Orientation: image row = slow index (down), column = fast index (right); pixel (s, f) covers [f, f+1) x [s, s+1)
  in view coordinates, so its centre is at (f+0.5, s+0.5) px.
- Zoomed out, each panel shows a MAX-aggregated copy of its image (scaling.downsample_max) so single-pixel Bragg
  peaks stay visible; readouts always come from the raw arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401  (PySide6 before pyqtgraph)
from PySide6.QtCore import Qt, Signal, Slot

import pyqtgraph as pg

from app.core import compare_modes
from app.core import difference as diffmod
from app.core.colormaps import COLORMAPS, DIVERGING_COLORMAP, IMAGE_COLORMAPS, pg_colormap  # noqa: F401 (re-export)
from app.core.scaling import (DEFAULT_PERCENTILE, SCALES, Levels, downsample_factor, downsample_max, inverse_value,
                              log_floor, percentile_levels, symmetric_levels, transform, transform_value)

BAR_WIDTH_PX = 128        # every colour bar is this wide, so the three image panels share one width
# Navigation limits: the view may show at most this fraction of the image's size as margin on each side, and no
# fewer than MIN_VIEW_PX image pixels across (a few pixels: the smallest view where a pixel's neighbours show).
VIEW_MARGIN = 0.25
MIN_VIEW_PX = 4.0


# Above this many pixels, percentiles are estimated from a strided sample (keeps the GUI thread under ~20 ms).
_PERCENTILE_SAMPLE = 1_000_000


def _sample(a: np.ndarray) -> np.ndarray:
    """A strided sample of at most ~_PERCENTILE_SAMPLE pixels (the whole array when small)."""
    if a.size <= _PERCENTILE_SAMPLE:
        return a
    step = int(math.ceil(a.size / _PERCENTILE_SAMPLE))
    return a.ravel()[::step]


@dataclass
class DisplayPlan:
    """Everything the panels need to show two raw images, computed off the GUI thread (plan_display).

    Display arrays are in the display units of `scale`; `pyramids` maps a panel key ('c', 'py', 'diff', 'mask')
    to {factor: max-aggregated array} for the zoom factors asked for, so the GUI thread only hands arrays over.
    """

    c: np.ndarray | None
    py: np.ndarray | None
    scale: str
    floor: float
    c_display: np.ndarray | None
    py_display: np.ndarray | None
    levels: Levels | None
    mode: str
    diff: np.ndarray | None = None
    diff_levels: Levels | None = None
    mask: np.ndarray | None = None
    n_beyond: int | None = None
    diff_error: str | None = None
    pyramids: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    levels_b: Levels | None = None     # B's levels (display units): the same as `levels` when shared
    shared: bool = True                # one colour scale for both sides (app.core.compare_modes.side_scales)
    b_factor: float | None = None      # B is shown multiplied by this (display only: "B scaled to A's sum")


def plan_display(c: np.ndarray | None, py: np.ndarray | None, *, scale: str, percentile: float, mode: str,
                 tolerance: diffmod.Tolerance, factors: tuple[int, ...] = (),
                 view_px: tuple[float, float] | None = None, sharing: str = "auto",
                 b_to_a_sum: bool = False) -> DisplayPlan:
    """Scale, auto-contrast, difference, tolerance mask and zoomed-out copies of two images (Qt-free, any thread).

    factors: aggregation factors to pre-compute; view_px: (height, width) of a panel's view in screen pixels, so
    the factor of a whole-detector view is pre-computed too (that is what a new image is first shown at).
    sharing: 'auto' | 'shared' | 'per side' colour levels; b_to_a_sum: show B multiplied by sum(A)/sum(B) (display
    only: the difference, mask and readouts keep the raw values).
    """
    b_factor = compare_modes.sum_factor(c, py) if b_to_a_sum else None
    py_shown = py * np.float32(b_factor) if b_factor is not None else py
    present = [a for a in (c, py_shown) if a is not None]
    if view_px is not None and present and min(view_px) > 0:
        s_n, f_n = present[0].shape
        full = downsample_factor(max(s_n / view_px[0], f_n / view_px[1]))
        # Every power of two up to the whole-detector factor: zooming in then needs no per-pixel work here.
        # (One more level than the estimate: padding and the aspect lock can tip the view over a power of two.)
        factors = tuple(factors) + tuple(1 << k for k in range(1, full.bit_length() + 1))
    floor = log_floor(*present)
    c_disp = transform(c, scale, floor) if c is not None else None
    py_disp = transform(py_shown, scale, floor) if py is not None else None
    levels = percentile_levels([_sample(a) for a in present], percentile, scale, floor) if present else None
    plan = DisplayPlan(c, py, scale, floor, c_disp, py_disp, levels, mode, b_factor=b_factor)
    if c is not None and py is not None:
        own = [percentile_levels([_sample(a)], percentile, scale, floor) for a in (c, py_shown)]
        scales = compare_modes.side_scales(own[0], own[1], scale, sharing)
        plan.shared = scales.shared
        plan.levels, plan.levels_b = (levels, levels) if scales.shared else (scales.a, scales.b)
    else:
        plan.levels_b = levels
    if c is not None and py is not None:
        if c.shape != py.shape:
            plan.diff_error = (f"Cannot compare: the images differ in shape (slow, fast): C {c.shape}, "
                               f"PyTorch {py.shape}.")
        else:
            plan.diff = diffmod.difference(c, py, mode)
            plan.diff_levels = symmetric_levels(_sample(plan.diff), percentile)
            mask = diffmod.beyond_tolerance(c, py, tolerance)
            plan.n_beyond = int(mask.sum())
            plan.mask = mask.astype(np.float32)
    for f in sorted(set(factors)):
        if f <= 1:
            continue
        for key, arr, signed in (("c", c_disp, False), ("py", py_disp, False), ("diff", plan.diff, True),
                                 ("mask", plan.mask, False)):
            if arr is not None:
                plan.pyramids.setdefault(key, {})[f] = downsample_max(arr, f, f, signed=signed)
    return plan


def _identical_note(diff: np.ndarray | None) -> str:
    """The difference panel's note: say so when C and PyTorch agree exactly (the panel is then one flat colour)."""
    return "identical: zero everywhere" if diff is not None and diff.size and not np.any(diff) else ""


class ImagePanel(QtWidgets.QWidget):
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

    # ---- content -------------------------------------------------------------------------------------------------
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

    # ---- navigation ------------------------------------------------------------------------------------------------
    def image_rect(self) -> QtCore.QRectF | None:
        """The image's bounds in view coordinates: [0, fast) x [0, slow) px (None without an image)."""
        if self.raw is None:
            return None
        s_n, f_n = self.raw.shape
        return QtCore.QRectF(0, 0, f_n, s_n)

    def set_view_limits(self, shape: tuple[int, int] | None = None) -> None:
        """Zoom limits for the image (slow, fast): out to the whole-image (fit) view enlarged by VIEW_MARGIN on each
        side, so the image can never be lost; in to MIN_VIEW_PX image pixels across.

        The fit view depends on the panel's aspect ratio (the aspect is locked), so this runs again on resize."""
        if shape is None:
            if self.raw is None:
                return
            shape = self.raw.shape
        s_n, f_n = shape
        w, h = self.vb.width(), self.vb.height()
        r = h / w if w > 0 and h > 0 else 1.0          # screen height per screen width
        fit_x = max(float(f_n), s_n / r)              # the fit view's extent in image pixels
        fit_y = fit_x * r
        half_x, half_y = (0.5 + VIEW_MARGIN) * fit_x, (0.5 + VIEW_MARGIN) * fit_y
        cx, cy = f_n / 2.0, s_n / 2.0
        self.vb.setLimits(xMin=cx - half_x, xMax=cx + half_x, yMin=cy - half_y, yMax=cy + half_y,
                          minXRange=MIN_VIEW_PX, minYRange=MIN_VIEW_PX, maxXRange=2 * half_x, maxYRange=2 * half_y)

    def fit_view(self) -> None:
        """Show the whole image, tight on its longer side (the aspect lock widens the other)."""
        rect = self.image_rect()
        if rect is not None:
            self.vb.setRange(rect, padding=0)

    @Slot()
    def _on_resized(self, *args) -> None:
        self.set_view_limits()

    def set_box_zoom(self, on: bool) -> None:
        """Left-drag draws a box that becomes the view (on) or pans (off); the wheel zooms either way."""
        self.vb.setMouseMode(pg.ViewBox.RectMode if on else pg.ViewBox.PanMode)

    def view_factor(self) -> int:
        """The aggregation factor the current view needs (for planning off the GUI thread)."""
        try:
            px = self.vb.viewPixelSize()
            return downsample_factor(max(abs(px[0]), abs(px[1])))
        except Exception:  # noqa: BLE001 - not laid out yet
            return 1

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

    def center_on(self, slow: int, fast: int, half_width: float = 25.0) -> None:
        """Zoom the (linked) view onto a pixel."""
        self.vb.setRange(xRange=(fast + 0.5 - half_width, fast + 0.5 + half_width),
                         yRange=(slow + 0.5 - half_width, slow + 0.5 + half_width), padding=0)

    # ---- max-aggregated display ------------------------------------------------------------------------------------
    def current_factor(self) -> int:
        return self._factor

    @Slot()
    def _update_downsampling(self, *args) -> None:
        if self._display is None:
            return
        try:
            px = self.vb.viewPixelSize()
            per_screen = max(abs(px[0]), abs(px[1]))
        except Exception:  # view not laid out yet (no size): show full resolution
            per_screen = 1.0
        factor = downsample_factor(per_screen)
        if factor == self._factor:
            return
        self._factor = factor
        img = self._pyramid.get(factor)
        if img is None:
            img = downsample_max(self._display, factor, factor, signed=self.signed)
            self._pyramid[factor] = img
        s_pad, f_pad = img.shape[0] * factor, img.shape[1] * factor
        levels = self.image_item.getLevels()
        self.image_item.setImage(img, autoLevels=False, levels=levels if levels is not None else (0, 1),
                                 rect=QtCore.QRectF(0, 0, f_pad, s_pad), autoDownsample=False)
        if self._mask is not None:
            m = self._mask_pyramid.get(factor)
            if m is None:
                m = downsample_max(self._mask, factor, factor)
                self._mask_pyramid[factor] = m
            rgba = np.zeros(m.shape + (4,), dtype=np.uint8)
            rgba[m > 0] = (255, 0, 255, 200)
            self.overlay_item.setImage(rgba, autoLevels=False, rect=QtCore.QRectF(0, 0, f_pad, s_pad))
        self.displayChanged.emit()

    def display_at(self, factor: int) -> np.ndarray | None:
        """The scaled image max-aggregated by `factor` (the full-resolution one for 1), None without an image."""
        if self._display is None:
            return None
        if factor <= 1:
            return self._display
        img = self._pyramid.get(factor)
        if img is None:
            img = downsample_max(self._display, factor, factor, signed=self.signed)
            self._pyramid[factor] = img
        return img

    # ---- mouse -----------------------------------------------------------------------------------------------------
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


class ColorBarView(pg.GraphicsLayoutWidget):
    """A stand-alone vertical colour bar that drives the levels of one or more panels' images."""

    # pyqtgraph's ColorBarItem: the bar spans the two levels (its end labels); the ◆ handles at 1/4 and 3/4 are
    # adjusters that move a level while dragged and snap back when released, not level markers.
    HANDLE_TIP = ("Colour bar ({unit}): it runs from the lower to the upper level, the values at its two ends. The "
                  "two ◆ handles are adjusters, not levels: drag the upper one to move the upper level (the further, "
                  "the faster), the lower one for the lower level, the band between them to shift both; they snap "
                  "back when released. Values beyond a level show in the end colour. The Levels boxes and Auto set "
                  "them exactly.")

    def __init__(self, colormap: str, label: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setFixedWidth(BAR_WIDTH_PX)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(pg_colormap(colormap)), label=None,
                                   interactive=True, rounding=1e-9, pen="k")
        # Plain numbers on the bar: no "(x0.001)" SI-prefix scaling of the tick labels.
        self.bar.axis.enableAutoSIPrefix(False)
        # Room for tick labels such as "-5e-05" and the axis title beside them (the automatic width forgets the
        # title, which then overlaps the ticks).
        self.bar.axis.setWidth(74)
        self.addItem(self.bar)
        self.set_label(label)

    def attach(self, items: list[pg.ImageItem]) -> None:
        self.bar.setImageItem(items)

    def set_levels(self, levels: Levels) -> None:
        self.bar.rounding = max((levels.high - levels.low) / 1000.0, 1e-30)
        self.bar.setLevels((levels.low, levels.high))

    def levels(self) -> Levels:
        lo, hi = self.bar.levels()
        return Levels(float(lo), float(hi))

    def set_colormap(self, name: str) -> None:
        self.bar.setColorMap(pg.colormap.get(pg_colormap(name)))

    def set_label(self, text: str) -> None:
        self.bar.axis.setLabel(text)
        self.setToolTip(self.HANDLE_TIP.format(unit=text))


class ImagePanels(QtWidgets.QWidget):
    """C, PyTorch and difference panels with shared scaling controls.

    Signals (view coordinates are image indices):
        hovered(slow, fast)   the cursor is over pixel (slow, fast) of any panel
        unhovered()           the cursor left the images
        pixelClicked(s, f)    a left click on a pixel of any panel
    """

    hovered = Signal(int, int)
    unhovered = Signal()
    pixelClicked = Signal(int, int)
    replanRequested = Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None,
                 side_names: tuple[str, str] = ("C reference", "PyTorch")):
        super().__init__(parent)
        # Images of at least this many pixels are not rescaled or re-differenced here, on the GUI thread, when a
        # control changes: replanRequested("scale" | "diff") asks the owner to compute a DisplayPlan on a worker
        # and hand it back (apply_plan / apply_difference). None: always compute here (small images, tests).
        self.async_threshold: int | None = None
        self.c_panel = ImagePanel(side_names[0])
        self.py_panel = ImagePanel(side_names[1])
        self.c_panel.setObjectName("panel_a")
        self.py_panel.setObjectName("panel_b")
        self.diff_panel = ImagePanel("Difference", signed=True)
        self.panels = (self.c_panel, self.py_panel, self.diff_panel)
        for p in (self.py_panel, self.diff_panel):
            p.vb.setXLink(self.c_panel.vb)
            p.vb.setYLink(self.c_panel.vb)
        self.image_bar = ColorBarView(IMAGE_COLORMAPS[0], "photons")
        self.image_bar.attach([self.c_panel.image_item, self.py_panel.image_item])
        self.diff_bar = ColorBarView(DIVERGING_COLORMAP, diffmod.BAR_LABELS["diff"])
        self.diff_bar.attach([self.diff_panel.image_item])
        self.tolerance = diffmod.Tolerance()
        self._floor = 1e-30
        self.diff_raw: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._mask_pyramid: dict[int, np.ndarray] | None = None
        self._shared = True                      # one colour scale for A and B (else the bar drives A only)
        self._levels_b: Levels | None = None     # B's own levels while not shared
        self._b_factor: float | None = None      # B shown × this ("B scaled to A's sum"), display only

        # Controls.
        self.scale_combo = QtWidgets.QComboBox()
        self.scale_combo.addItems(list(SCALES))
        self.scale_combo.setToolTip("Colour scale for the C and PyTorch images (readouts stay raw)")
        self.cmap_combo = QtWidgets.QComboBox()
        self.cmap_combo.addItems(list(IMAGE_COLORMAPS))
        self.percentile_spin = QtWidgets.QDoubleSpinBox()
        self.percentile_spin.setRange(50.0, 100.0)
        self.percentile_spin.setDecimals(2)
        self.percentile_spin.setSingleStep(0.1)
        self.percentile_spin.setValue(DEFAULT_PERCENTILE)
        self.percentile_spin.setSuffix(" %")
        self.percentile_spin.setToolTip("Auto-contrast: the top of the colour scale is this percentile of both images")
        self.auto_button = QtWidgets.QPushButton("Auto")
        self.auto_button.setToolTip("Reset the levels to the auto-contrast percentile")
        self.low_edit = QtWidgets.QLineEdit()
        self.high_edit = QtWidgets.QLineEdit()
        for e, tip in ((self.low_edit, "Lower level (photons)"), (self.high_edit, "Upper level (photons)")):
            e.setValidator(QtGui.QDoubleValidator())
            e.setMaximumWidth(90)
            e.setToolTip(tip + "; press Enter to apply")
        self.mode_combo = QtWidgets.QComboBox()
        for key, text in diffmod.MODES.items():
            self.mode_combo.addItem(text, key)
        self.overlay_check = QtWidgets.QCheckBox("Highlight beyond tol.")
        self.rtol_edit = QtWidgets.QLineEdit(f"{self.tolerance.rtol:g}")
        self.rtol_edit.setValidator(QtGui.QDoubleValidator(0.0, 1e6, 12))
        self.rtol_edit.setMaximumWidth(70)
        self.rtol_edit.setToolTip("Relative tolerance, the metrics' rule: beyond when |C−Py| > rtol·|C| (bright "
                                  "pixels, |C| ≥ 1e-3·max) or > rtol·max|C| (dim pixels)")
        self.beyond_label = QtWidgets.QLabel("")
        self.sharing_combo = QtWidgets.QComboBox()
        for key, text in compare_modes.SHARINGS.items():
            self.sharing_combo.addItem(text, key)
        self.sharing_combo.setToolTip("One colour scale for A and B, or one per side (auto: shared while both "
                                      "sides' upper levels are within 10× of each other)")
        self.b_sum_check = QtWidgets.QCheckBox("B × (A's sum)")
        self.b_sum_check.setToolTip("Show B multiplied by sum(A)/sum(B), for the eye only: metrics, difference "
                                    "and readouts keep the raw values; B's panel names the factor")
        from app.widgets.compare_view import CompareView  # the compare modes draw into the third panel
        from app.widgets.marks_view import ReflectionMarks
        from app.widgets.profile_view import ProfileController
        self.compare = CompareView(self)
        self.profile = ProfileController(self)
        self.marks = ReflectionMarks(self)
        self.compare_combo = QtWidgets.QComboBox()
        for key, text in compare_modes.MODES.items():
            self.compare_combo.addItem(f"{text} ({compare_modes.KEYS[key]})", key)
        self.compare_combo.setCurrentIndex(self.compare_combo.findData(self.compare.mode()))
        self.compare_combo.setToolTip("Compare mode (single keys on an image: S side by side, D difference, W/H "
                                      "swipe with a vertical/horizontal split line, O overlay)")

        # Controls sit above the columns they act on: scaling over C + PyTorch, modes over the difference.
        img_row1, img_row2 = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("Scale"), self.scale_combo, QtWidgets.QLabel("Colours"), self.cmap_combo,
                  QtWidgets.QLabel("Auto-contrast"), self.percentile_spin, self.auto_button):
            img_row1.addWidget(w)
        img_row1.addStretch(1)
        for w in (QtWidgets.QLabel("Levels (photons)"), self.low_edit, QtWidgets.QLabel("–"), self.high_edit,
                  self.sharing_combo, self.b_sum_check):
            img_row2.addWidget(w)
        img_row2.addStretch(1)
        diff_row1, diff_row2 = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (self.compare_combo, self.mode_combo):
            diff_row1.addWidget(w)
        diff_row1.addStretch(1)
        self.rtol_label = QtWidgets.QLabel("rtol")
        # The difference's own controls: shown in the difference mode only (app.widgets.compare_view).
        self.diff_controls = (self.mode_combo, self.overlay_check, self.rtol_label, self.rtol_edit, self.beyond_label)
        for w in (self.overlay_check, self.rtol_label, self.rtol_edit, self.beyond_label):
            diff_row2.addWidget(w)
        diff_row2.addWidget(self.compare.blend_label)   # the overlay's (the difference controls are hidden then)
        diff_row2.addWidget(self.compare.blend_slider)
        diff_row2.addSpacing(8)
        diff_row2.addWidget(QtWidgets.QLabel("Rings"))
        diff_row2.addWidget(self.marks.d_edit)
        diff_row2.addStretch(1)

        # One grid: the three panels take equal stretch and both colour bars the same fixed width, so the linked
        # views show the same range in every panel.
        grid = QtWidgets.QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        grid.addLayout(img_row1, 0, 0, 1, 3)
        grid.addLayout(img_row2, 1, 0, 1, 3)
        grid.addLayout(diff_row1, 0, 3, 1, 2)
        grid.addLayout(diff_row2, 1, 3, 1, 2)
        grid.addWidget(self.c_panel, 2, 0)
        grid.addWidget(self.py_panel, 2, 1)
        grid.addWidget(self.image_bar, 2, 2)
        grid.addWidget(self.diff_panel, 2, 3)
        grid.addWidget(self.diff_bar, 2, 4)
        for col in (0, 1, 3):
            grid.setColumnStretch(col, 1)
        self.grid = grid  # the compare view gives the third column's room to A and B when side by side
        grid.setRowStretch(2, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid, 1)
        self._build_view_actions()

        for p in self.panels:
            p.cursorMoved.connect(self._on_cursor)
            p.cursorLeft.connect(self._on_cursor_left)
            p.pixelClicked.connect(self.pixelClicked)
            p.contextRequested.connect(self._on_context)
        self.scale_combo.currentTextChanged.connect(self._on_scale_changed)
        self.cmap_combo.currentTextChanged.connect(self.set_colormap)
        self.percentile_spin.valueChanged.connect(self.auto_levels)
        self.auto_button.clicked.connect(self.auto_levels)
        self.low_edit.editingFinished.connect(self._on_manual_levels)
        self.high_edit.editingFinished.connect(self._on_manual_levels)
        self.image_bar.bar.sigLevelsChangeFinished.connect(self._on_bar_levels)
        self.mode_combo.currentIndexChanged.connect(self.refresh_difference)
        self.mode_combo.currentIndexChanged.connect(self._sync_mode_actions)
        self.overlay_check.toggled.connect(self.refresh_difference)
        self.rtol_edit.editingFinished.connect(self._on_rtol)
        self.sharing_combo.currentIndexChanged.connect(self._on_sharing_changed)
        self.b_sum_check.toggled.connect(self._on_sharing_changed)
        self.compare_combo.currentIndexChanged.connect(
            lambda _i: self.compare.set_mode(self.compare_combo.currentData()))
        self.compare.modeChanged.connect(self._on_compare_mode)

    # ---- navigation actions ----------------------------------------------------------------------------------------
    def _build_view_actions(self) -> None:
        """Fit view, box zoom and the difference modes as QActions (for the window's View menu and toolbar).

        Their Ctrl shortcuts work anywhere in the window once it adds them; the single keys (F, B, 1, 2, 3) only
        while an image panel has the focus, so they never fire while typing a command line."""
        def act(text: str, tip: str, shortcut: str | None = None) -> QtGui.QAction:
            a = QtGui.QAction(text, self)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if shortcut:
                a.setShortcut(QtGui.QKeySequence(shortcut))
            return a
        self.fit_action = act("Fit view", "Show the whole image in all three panels (F or Ctrl+0)", "Ctrl+0")
        self.fit_action.triggered.connect(self.fit_view)
        self.box_zoom_action = act("Box zoom", "Drag a box on an image to zoom into it (B toggles; the wheel "
                                   "always zooms, right click for more)")
        self.box_zoom_action.setCheckable(True)
        self.box_zoom_action.toggled.connect(self.set_box_zoom)
        self.mode_group = QtGui.QActionGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_actions: dict[str, QtGui.QAction] = {}
        for i, (key, text) in enumerate(diffmod.MODES.items()):
            a = act(f"Difference: {text}", f"Show the difference as {text} ({i + 1}, or Ctrl+{i + 1})",
                    f"Ctrl+{i + 1}")
            a.setCheckable(True)
            a.setData(key)
            a.triggered.connect(self._on_mode_action)
            self.mode_group.addAction(a)
            self.mode_actions[key] = a
        self._sync_mode_actions()
        keys = [("F", self.fit_action.trigger), ("B", self.box_zoom_action.toggle)]
        keys += [(str(i + 1), a.trigger) for i, a in enumerate(self.mode_actions.values())]
        self._key_shortcuts = []
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
            self._key_shortcuts.append(sc)

    def view_actions(self) -> list[QtGui.QAction]:
        """Fit view, box zoom, then the difference modes: for the window's View menu."""
        return [self.fit_action, self.box_zoom_action, *self.mode_actions.values(), *self.compare.actions.values(),
                *self.marks.actions()]

    @Slot()
    def fit_view(self) -> None:
        """Show the whole image in the (linked) panels."""
        panel = self.c_panel if self.c_panel.raw is not None else self.py_panel
        panel.fit_view()  # the other panels follow through the X/Y links

    @Slot(bool)
    def set_box_zoom(self, on: bool) -> None:
        for p in self.panels:
            p.set_box_zoom(on)
        if self.box_zoom_action.isChecked() != on:
            self.box_zoom_action.setChecked(on)

    def center_on(self, slow: int, fast: int, half_width: float = 25.0) -> None:
        """Zoom all (linked) panels onto pixel (slow, fast)."""
        self.c_panel.center_on(slow, fast, half_width)

    @Slot()
    def _on_mode_action(self) -> None:
        a = self.sender()
        if isinstance(a, QtGui.QAction):
            self.set_mode(a.data())

    @Slot()
    def _sync_mode_actions(self, *args) -> None:
        a = self.mode_actions.get(self.mode())
        if a is not None and not a.isChecked():
            a.setChecked(True)

    @Slot(int, int, QtCore.QPoint)
    def _on_context(self, slow: int, fast: int, where: QtCore.QPoint) -> None:
        menu = self.context_menu(slow, fast)
        menu.popup(where)

    def context_menu(self, slow: int, fast: int) -> QtWidgets.QMenu:
        """The right-click menu for pixel (slow, fast) (-1, -1: outside the image)."""
        menu = QtWidgets.QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if slow >= 0:
            inspect = menu.addAction(f"Inspect pixel (slow {slow}, fast {fast})")
            inspect.triggered.connect(lambda: self.pixelClicked.emit(slow, fast))
            centre = menu.addAction("Centre the view here")
            centre.triggered.connect(lambda: self.center_on(slow, fast))
            values = [f"{p.title}: {v:.6g}" for p in self.panels if (v := p.value_at(slow, fast)) is not None]
            copy = menu.addAction("Copy the values")
            text = f"slow {slow}\tfast {fast}\t" + "\t".join(values)
            copy.triggered.connect(lambda: QtWidgets.QApplication.clipboard().setText(text))
            row = menu.addAction(f"Profile of row {slow} (R)")
            row.triggered.connect(lambda: self.profile.row_at_cursor(slow))
            col = menu.addAction(f"Profile of column {fast} (C)")
            col.triggered.connect(lambda: self.profile.column_at_cursor(fast))
            line = menu.addAction("Draw a profile line (L)")
            line.triggered.connect(lambda: self.profile.draw_line_here())
            menu.addSeparator()
        menu.addAction(self.fit_action)
        menu.addAction(self.box_zoom_action)
        menu.addSeparator()
        for a in self.mode_actions.values():
            menu.addAction(a)
        menu.addSeparator()
        for a in self.compare.actions.values():
            menu.addAction(a)
        return menu

    def set_side_names(self, a: str, b: str) -> None:
        """Name the two sides (any engine, or a loaded file): panel titles and readouts use them."""
        for panel, name in ((self.c_panel, a), (self.py_panel, b)):
            panel.set_title(name)

    # ---- settings --------------------------------------------------------------------------------------------------
    def view_settings(self):
        """The view's choices as app.qt.settings.ViewSettings."""
        from app.qt.settings import ViewSettings
        return ViewSettings(scale=self.scale, colormap=self.colormap(), percentile=self.percentile_spin.value(),
                            diff_mode=self.mode(), rtol=self.tolerance.rtol, overlay=self.overlay_check.isChecked())

    def apply_view_settings(self, vs) -> None:
        """Show app.qt.settings.ViewSettings' choices (unknown colour maps keep the current one)."""
        self.set_scale(vs.scale)
        if self.cmap_combo.findText(vs.colormap) >= 0:
            self.set_colormap(vs.colormap)
        self.percentile_spin.setValue(vs.percentile)
        self.set_mode(vs.diff_mode)
        self.rtol_edit.setText(f"{vs.rtol:g}")
        self.tolerance = diffmod.Tolerance(rtol=vs.rtol, floor_frac=self.tolerance.floor_frac)
        self.overlay_check.setChecked(vs.overlay)

    def settings_changed_signals(self) -> list:
        """Signals after which the view's choices should be saved."""
        return [self.scale_combo.currentTextChanged, self.cmap_combo.currentTextChanged,
                self.percentile_spin.valueChanged, self.mode_combo.currentIndexChanged,
                self.rtol_edit.editingFinished, self.overlay_check.toggled, self.compare.modeChanged,
                self.sharing_combo.currentIndexChanged]

    # ---- public API ----------------------------------------------------------------------------------------------
    @property
    def scale(self) -> str:
        return self.scale_combo.currentText()

    def set_scale(self, scale: str) -> None:
        self.scale_combo.setCurrentText(scale)

    def set_colormap(self, name: str) -> None:
        if self.cmap_combo.currentText() != name:
            self.cmap_combo.setCurrentText(name)
        self.image_bar.set_colormap(name)
        if not self._shared:
            self.py_panel.image_item.setLookupTable(self.image_lut())
        self.compare.redraw()

    def image_lut(self) -> np.ndarray:
        """The image colour map's (256, 4) uint8 table."""
        return self.image_bar.bar.colorMap().getLookupTable(nPts=256, alpha=True)

    def side_levels(self) -> tuple[Levels, Levels]:
        """(A's, B's) colour levels in display units (the same pair when shared)."""
        la = self.image_bar.levels()
        return la, (self._levels_b if not self._shared and self._levels_b is not None else la)

    def scales_shared(self) -> bool:
        return self._shared

    def b_factor(self) -> float | None:
        """The factor B is shown multiplied by (None: shown as it is)."""
        return self._b_factor

    def sharing(self) -> str:
        return self.sharing_combo.currentData()

    def set_sharing(self, key: str) -> None:
        idx = self.sharing_combo.findData(key)
        if idx >= 0:
            self.sharing_combo.setCurrentIndex(idx)

    def compare_mode(self) -> str:
        return self.compare.mode()

    def set_compare_mode(self, key: str) -> None:
        self.compare.set_mode(key)

    @Slot(str)
    def _on_compare_mode(self, key: str) -> None:
        idx = self.compare_combo.findData(key)
        if idx >= 0 and idx != self.compare_combo.currentIndex():
            self.compare_combo.setCurrentIndex(idx)
        for w in self.diff_controls:  # room for the blend slider, and for A and B side by side
            w.setVisible(key == "diff")

    @Slot()
    def _on_sharing_changed(self, *args) -> None:
        self._on_scale_changed(self.scale)

    def _apply_side_levels(self, la: Levels, lb: Levels | None, shared: bool, b_factor: float | None) -> None:
        """Shared: the colour bar drives both images. Per side: it drives A; B keeps its own levels (its panel
        says so). Both panels name their scale; B's names the display factor."""
        if shared != self._shared:  # re-attaching re-renders both images: only when the sharing changes
            items = [self.c_panel.image_item] + ([self.py_panel.image_item] if shared else [])
            self.image_bar.attach(items)
        self._shared, self._levels_b, self._b_factor = shared, lb, b_factor
        self.image_bar.set_levels(la)
        if not shared and lb is not None:
            self.py_panel.image_item.setLookupTable(self.image_lut())
            self.py_panel.image_item.setLevels(lb.as_tuple())
        def span(lv: Levels) -> str:
            return f"{inverse_value(lv.low, self.scale):.3g}–{inverse_value(lv.high, self.scale):.3g}"
        if shared:
            self.c_panel.set_scale_text("shared scale")
            self.py_panel.set_scale_text("shared scale")
        else:
            self.c_panel.set_scale_text("own scale (the bar)")
            self.py_panel.set_scale_text(f"own scale {span(lb)}" if lb is not None else "")
        if b_factor is not None:
            self.py_panel.set_scale_text(self.py_panel.scale_text() + f", shown ×{b_factor:.4g}")
        self.image_bar.set_label(self._unit_label() + ("" if shared else " (A)"))
        self.compare.redraw()

    def _unit_label(self) -> str:
        return {"linear": "photons", "log": "log10(photons)", "sqrt": "√photons"}[self.scale]

    def colormap(self) -> str:
        return self.cmap_combo.currentText()

    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_mode(self, key: str) -> None:
        idx = self.mode_combo.findData(key)
        if idx >= 0:
            self.mode_combo.setCurrentIndex(idx)

    def c_image(self) -> np.ndarray | None:
        return self.c_panel.raw

    def py_image(self) -> np.ndarray | None:
        return self.py_panel.raw

    def set_images(self, c: np.ndarray | None = None, py: np.ndarray | None = None, *, which: str = "both") -> None:
        """Show new raw images ('c', 'py' or 'both') at once, on this thread (small images, tests)."""
        c2, py2 = self.images_for(c, py, which)
        self.apply_plan(self.plan(c2, py2))

    def images_for(self, c: np.ndarray | None, py: np.ndarray | None, which: str):
        """(C, PyTorch) after replacing the side(s) named by `which` ('c', 'py', 'both')."""
        c2 = c if which in ("c", "both") else self.c_panel.raw
        py2 = py if which in ("py", "both") else self.py_panel.raw
        return c2, py2

    def plan(self, c: np.ndarray | None, py: np.ndarray | None) -> DisplayPlan:
        """plan_display with the current controls; safe to call from a worker with values read here first."""
        return plan_display(c, py, **self.plan_options())

    def plan_options(self) -> dict:
        """The controls' state as plan_display keyword arguments (read on the GUI thread)."""
        rect = self.c_panel.vb.boundingRect()
        return dict(scale=self.scale, percentile=self.percentile_spin.value(), mode=self.mode(),
                    tolerance=self.tolerance, factors=(self.c_panel.view_factor(),),
                    view_px=(rect.height(), rect.width()), sharing=self.sharing(),
                    b_to_a_sum=self.b_sum_check.isChecked())

    def apply_plan(self, plan: DisplayPlan) -> None:
        """Hand a DisplayPlan's arrays to the panels (cheap: no per-pixel work unless the zoom changed since)."""
        self._floor = plan.floor
        pyr = plan.pyramids
        for panel, raw, disp, key in ((self.c_panel, plan.c, plan.c_display, "c"),
                                      (self.py_panel, plan.py, plan.py_display, "py")):
            if raw is None and panel.showing_error():
                continue  # keep the engine's error on show
            if raw is not None and raw is panel.raw:
                panel.set_display(disp, pyr.get(key))  # same image, new scale: keep the view
            else:
                panel.set_image(raw, disp, pyr.get(key))
        unit = {"linear": "photons", "log": "log10(photons)", "sqrt": "√photons"}[plan.scale]
        self.image_bar.set_label(unit)
        if plan.levels is not None:
            self._apply_side_levels(plan.levels, plan.levels_b, plan.shared, plan.b_factor)
            self._show_level_fields()
        self._apply_difference(plan)

    def _defer(self, kind: str) -> bool:
        """Ask for a worker-side re-plan instead of computing here; True when asked (see async_threshold)."""
        if self.async_threshold is None:
            return False
        n = max((a.size for a in (self.c_panel.raw, self.py_panel.raw) if a is not None), default=0)
        if n < self.async_threshold:
            return False
        self.replanRequested.emit(kind)
        return True

    def apply_difference(self, plan: DisplayPlan) -> None:
        """Hand only the difference part of a DisplayPlan to the difference panel (after a mode or rtol change)."""
        self._apply_difference(plan)

    def _apply_difference(self, plan: DisplayPlan) -> None:
        self.diff_bar.set_label(diffmod.BAR_LABELS[plan.mode])
        if plan.c is None or plan.py is None:
            self.diff_raw = None
            self.diff_panel.set_image(None)
            self.diff_panel.set_note("needs both images")
            self.beyond_label.setText("")
            return
        if plan.diff_error:
            self.diff_raw = None
            self.diff_panel.show_error(plan.diff_error)
            self.beyond_label.setText("")
            return
        self.diff_raw = plan.diff
        self.diff_panel.set_image(plan.diff, None, plan.pyramids.get("diff"))
        self.diff_panel.set_note(_identical_note(plan.diff))
        self.diff_bar.set_levels(plan.diff_levels)
        self.beyond_label.setText(f"{plan.n_beyond} px beyond")
        self._mask = plan.mask
        self._mask_pyramid = plan.pyramids.get("mask")
        self.diff_panel.set_mask(plan.mask if self.overlay_check.isChecked() else None, self._mask_pyramid)

    def clear(self) -> None:
        for p in self.panels:
            p.set_image(None)
        self.diff_raw = None

    def levels(self) -> Levels:
        return self.image_bar.levels()

    def display_floor(self) -> float:
        """The log scale's floor of the images shown (raw photons)."""
        return self._floor

    def set_raw_levels(self, low: float, high: float) -> None:
        """Manual levels in photons (converted to the current scale)."""
        lo = transform_value(low, self.scale, self._floor)
        hi = transform_value(high, self.scale, self._floor)
        if not hi > lo:
            raise ValueError(f"the upper level ({high:g}) must be above the lower level ({low:g})")
        self.image_bar.set_levels(Levels(lo, hi))
        self._show_level_fields()

    # ---- scaling ---------------------------------------------------------------------------------------------------
    def _b_shown(self) -> tuple[np.ndarray | None, float | None]:
        """B as displayed (multiplied by A's-sum factor when that is on) and the factor."""
        c, py = self.c_panel.raw, self.py_panel.raw
        k = compare_modes.sum_factor(c, py) if self.b_sum_check.isChecked() else None
        return (py * np.float32(k) if k is not None else py), k

    def _rescale(self) -> None:
        c, (py, _k) = self.c_panel.raw, self._b_shown()
        self._floor = log_floor(c, py)
        for p, raw in ((self.c_panel, c), (self.py_panel, py)):
            if raw is not None:
                p.set_display(transform(raw, self.scale, self._floor))
        unit = {"linear": "photons", "log": "log10(photons)", "sqrt": "√photons"}[self.scale]
        self.image_bar.set_label(unit)

    @Slot()
    def auto_levels(self, *args) -> None:
        c, (py, k) = self.c_panel.raw, self._b_shown()
        arrays = [_sample(a) for a in (c, py) if a is not None]
        if not arrays:
            return
        pct = self.percentile_spin.value()
        lv = percentile_levels(arrays, pct, self.scale, self._floor)
        la, lb, shared = lv, lv, True
        if c is not None and py is not None:
            own = [percentile_levels([_sample(a)], pct, self.scale, self._floor) for a in (c, py)]
            sc = compare_modes.side_scales(own[0], own[1], self.scale, self.sharing())
            if not sc.shared:
                la, lb, shared = sc.a, sc.b, False
        self._apply_side_levels(la, lb, shared, k)
        self._show_level_fields()

    @Slot(str)
    def _on_scale_changed(self, _scale: str) -> None:
        if self._defer("scale"):
            return
        self._rescale()
        self.auto_levels()

    def _show_level_fields(self) -> None:
        lv = self.image_bar.levels()
        self.low_edit.setText(f"{inverse_value(lv.low, self.scale):.4g}")
        self.high_edit.setText(f"{inverse_value(lv.high, self.scale):.4g}")

    @Slot(object)
    def _on_bar_levels(self, _bar) -> None:
        self._show_level_fields()

    @Slot()
    def _on_manual_levels(self) -> None:
        try:
            self.set_raw_levels(float(self.low_edit.text()), float(self.high_edit.text()))
        except ValueError:
            self._show_level_fields()  # restore the fields rather than leave a bad value shown

    @Slot()
    def _on_rtol(self) -> None:
        try:
            self.tolerance = diffmod.Tolerance(rtol=float(self.rtol_edit.text()), floor_frac=self.tolerance.floor_frac)
        except ValueError:
            self.rtol_edit.setText(f"{self.tolerance.rtol:g}")
        self.refresh_difference()

    # ---- difference ----------------------------------------------------------------------------------------------
    @Slot()
    def refresh_difference(self, *args) -> None:
        c, py = self.c_panel.raw, self.py_panel.raw
        mode = self.mode()
        self.diff_bar.set_label(diffmod.BAR_LABELS[mode])
        if c is None or py is None:
            self.diff_raw = None
            self.diff_panel.set_image(None)
            self.diff_panel.set_note("needs both images")
            self.beyond_label.setText("")
            return
        if c.shape != py.shape:
            self.diff_raw = None
            self.diff_panel.show_error(f"Cannot compare: the images differ in shape (slow, fast): C {c.shape}, "
                                       f"PyTorch {py.shape}.")
            return
        if self.sender() is self.overlay_check and self._mask is not None:
            # Only the overlay switched: reuse the mask.
            self.diff_panel.set_mask(self._mask if self.overlay_check.isChecked() else None, self._mask_pyramid)
            return
        if self._defer("diff"):
            self.diff_panel.set_note("updating…")
            return
        d = diffmod.difference(c, py, mode)
        self.diff_raw = d
        self.diff_panel.set_image(d)
        self.diff_panel.set_note(_identical_note(d))
        self.diff_bar.set_levels(symmetric_levels(_sample(d), self.percentile_spin.value()))
        bad = diffmod.beyond_tolerance(c, py, self.tolerance)
        self._mask, self._mask_pyramid = bad.astype(np.float32), None
        self.beyond_label.setText(f"{int(bad.sum())} px beyond")
        self.diff_panel.set_mask(self._mask if self.overlay_check.isChecked() else None)

    # ---- cursor ----------------------------------------------------------------------------------------------------
    @Slot(int, int)
    def _on_cursor(self, slow: int, fast: int) -> None:
        for p in self.panels:
            p.set_crosshair(slow, fast)
        self.hovered.emit(slow, fast)

    @Slot()
    def _on_cursor_left(self) -> None:
        for p in self.panels:
            p.set_crosshair(None, None)
        self.unhovered.emit()

    def show_marker(self, slow: int | None, fast: int | None) -> None:
        for p in self.panels:
            p.show_marker(slow, fast)
