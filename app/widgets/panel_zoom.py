"""Navigation of one image panel and its zoomed-out display: view limits, fit, box zoom, centring, and the
MAX-aggregated copies (app.core.scaling.downsample_max) that keep single-pixel Bragg peaks visible when zoomed out."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from PySide6.QtCore import Slot

import pyqtgraph as pg

from app.core.scaling import downsample_factor, downsample_max

# Navigation limits: the view may show at most this fraction of the image's size as margin on each side, and no
# fewer than MIN_VIEW_PX image pixels across (a few pixels: the smallest view where a pixel's neighbours show).
VIEW_MARGIN = 0.25
MIN_VIEW_PX = 4.0


class PanelZoomMixin:
    """Zoom and aggregation for app.widgets.image_panel.ImagePanel (needs its vb, raw, _display, _pyramid, _factor,
    _mask, _mask_pyramid, image_item, overlay_item, signed and displayChanged)."""

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

    def center_on(self, slow: int, fast: int, half_width: float = 25.0) -> None:
        """Zoom the (linked) view onto a pixel."""
        self.vb.setRange(xRange=(fast + 0.5 - half_width, fast + 0.5 + half_width),
                         yRange=(slow + 0.5 - half_width, slow + 0.5 + half_width), padding=0)

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
