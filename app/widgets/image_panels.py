"""Three linked image panels: side A, side B, and their difference.

- Pan and zoom are linked (ViewBox X/Y links); a crosshair follows the cursor in all three panels.
- A and B share one colour scale driven by one colour bar (linear / log / sqrt, percentile auto-contrast or
  manual levels), or one each (app.widgets.panel_levels). The difference panel has its own diverging colour bar
  with symmetric levels centred on zero.
- Orientation: image row = slow index (down), column = fast index (right); pixel (s, f) covers [f, f+1) x [s, s+1)
  in view coordinates, so its centre is at (f+0.5, s+0.5) px.
- Zoomed out, each panel shows a MAX-aggregated copy of its image (app.widgets.panel_zoom) so single-pixel Bragg
  peaks stay visible; readouts always come from the raw arrays.

The pieces: one panel (app.widgets.image_panel), colour bars (app.widgets.colour_bar), the Qt-free display plan
computed off the GUI thread (app.core.display_plan), the controls (app.widgets.panel_controls), colour levels
(app.widgets.panel_levels), and the view actions and context menu (app.widgets.panel_actions).
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets
from PySide6.QtCore import Signal, Slot

from app.core import difference as diffmod
from app.widgets.colour_bar import DIVERGING_COLORMAP, IMAGE_COLORMAPS, ColorBarView
from app.core.display_plan import DisplayPlan, identical_note, level_sample, plan_display
from app.widgets.image_panel import ImagePanel
from app.widgets.panel_actions import PanelsActionsMixin
from app.widgets.panel_controls import PanelsControlsMixin
from app.widgets.panel_levels import PanelsLevelsMixin
from app.core.scaling import Levels, symmetric_levels


class ImagePanels(PanelsControlsMixin, PanelsLevelsMixin, PanelsActionsMixin, QtWidgets.QWidget):
    """Side A, side B and difference panels with shared scaling controls.

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
        self.panel_a = ImagePanel(side_names[0])
        self.panel_b = ImagePanel(side_names[1])
        self.panel_a.setObjectName("panel_a")
        self.panel_b.setObjectName("panel_b")
        self.diff_panel = ImagePanel("Difference", signed=True)
        self.panels = (self.panel_a, self.panel_b, self.diff_panel)
        for p in (self.panel_b, self.diff_panel):
            p.vb.setXLink(self.panel_a.vb)
            p.vb.setYLink(self.panel_a.vb)
        self.image_bar = ColorBarView(IMAGE_COLORMAPS[0], "photons")
        self.image_bar.attach([self.panel_a.image_item, self.panel_b.image_item])
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

        self._build_controls()

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.grid, 1)
        self._build_view_actions()
        self._connect_controls()

    def set_side_names(self, a: str, b: str) -> None:
        """Name the two sides (any engine, or a loaded file): panel titles and readouts use them."""
        for panel, name in ((self.panel_a, a), (self.panel_b, b)):
            panel.set_title(name)

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

    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_mode(self, key: str) -> None:
        idx = self.mode_combo.findData(key)
        if idx >= 0:
            self.mode_combo.setCurrentIndex(idx)

    def image_a(self) -> np.ndarray | None:
        return self.panel_a.raw

    def image_b(self) -> np.ndarray | None:
        return self.panel_b.raw

    def set_images(self, a: np.ndarray | None = None, b: np.ndarray | None = None, *, which: str = "both") -> None:
        """Show new raw images ('a', 'b' or 'both') at once, on this thread (small images, tests)."""
        a2, b2 = self.images_for(a, b, which)
        self.apply_plan(self.plan(a2, b2))

    def images_for(self, a: np.ndarray | None, b: np.ndarray | None, which: str):
        """(A, B) after replacing the side(s) named by `which` ('a', 'b', 'both')."""
        a2 = a if which in ("a", "both") else self.panel_a.raw
        b2 = b if which in ("b", "both") else self.panel_b.raw
        return a2, b2

    def plan(self, a: np.ndarray | None, b: np.ndarray | None) -> DisplayPlan:
        """plan_display with the current controls; safe to call from a worker with values read here first."""
        return plan_display(a, b, **self.plan_options())

    def plan_options(self) -> dict:
        """The controls' state as plan_display keyword arguments (read on the GUI thread)."""
        rect = self.panel_a.vb.boundingRect()
        return dict(scale=self.scale, percentile=self.percentile_spin.value(), mode=self.mode(),
                    tolerance=self.tolerance, factors=(self.panel_a.view_factor(),),
                    view_px=(rect.height(), rect.width()), sharing=self.sharing(),
                    b_to_a_sum=self.b_sum_check.isChecked())

    def apply_plan(self, plan: DisplayPlan) -> None:
        """Hand a DisplayPlan's arrays to the panels (cheap: no per-pixel work unless the zoom changed since)."""
        self._floor = plan.floor
        pyr = plan.pyramids
        for panel, raw, disp, key in ((self.panel_a, plan.a, plan.display_a, "a"),
                                      (self.panel_b, plan.b, plan.display_b, "b")):
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
        n = max((a.size for a in (self.panel_a.raw, self.panel_b.raw) if a is not None), default=0)
        if n < self.async_threshold:
            return False
        self.replanRequested.emit(kind)
        return True

    def apply_difference(self, plan: DisplayPlan) -> None:
        """Hand only the difference part of a DisplayPlan to the difference panel (after a mode or rtol change)."""
        self._apply_difference(plan)

    def _apply_difference(self, plan: DisplayPlan) -> None:
        self.diff_bar.set_label(diffmod.BAR_LABELS[plan.mode])
        if plan.a is None or plan.b is None:
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
        self.diff_panel.set_note(identical_note(plan.diff))
        self.diff_bar.set_levels(plan.diff_levels)
        self.beyond_label.setText(f"{plan.n_beyond} px beyond")
        self._mask = plan.mask
        self._mask_pyramid = plan.pyramids.get("mask")
        self.diff_panel.set_mask(plan.mask if self.overlay_check.isChecked() else None, self._mask_pyramid)

    def clear(self) -> None:
        for p in self.panels:
            p.set_image(None)
        self.diff_raw = None

    @Slot()
    def _on_rtol(self) -> None:
        try:
            self.tolerance = diffmod.Tolerance(rtol=float(self.rtol_edit.text()), floor_frac=self.tolerance.floor_frac)
        except ValueError:
            self.rtol_edit.setText(f"{self.tolerance.rtol:g}")
        self.refresh_difference()

    @Slot()
    def refresh_difference(self, *args) -> None:
        a, b = self.panel_a.raw, self.panel_b.raw
        mode = self.mode()
        self.diff_bar.set_label(diffmod.BAR_LABELS[mode])
        if a is None or b is None:
            self.diff_raw = None
            self.diff_panel.set_image(None)
            self.diff_panel.set_note("needs both images")
            self.beyond_label.setText("")
            return
        if a.shape != b.shape:
            self.diff_raw = None
            self.diff_panel.show_error(f"Cannot compare: the images differ in shape (slow, fast): A {a.shape}, "
                                       f"B {b.shape}.")
            return
        if self.sender() is self.overlay_check and self._mask is not None:
            # Only the overlay switched: reuse the mask.
            self.diff_panel.set_mask(self._mask if self.overlay_check.isChecked() else None, self._mask_pyramid)
            return
        if self._defer("diff"):
            self.diff_panel.set_note("updating…")
            return
        d = diffmod.difference(a, b, mode)
        self.diff_raw = d
        self.diff_panel.set_image(d)
        self.diff_panel.set_note(identical_note(d))
        self.diff_bar.set_levels(symmetric_levels(level_sample(d), self.percentile_spin.value()))
        bad = diffmod.beyond_tolerance(a, b, self.tolerance)
        self._mask, self._mask_pyramid = bad.astype(np.float32), None
        self.beyond_label.setText(f"{int(bad.sum())} px beyond")
        self.diff_panel.set_mask(self._mask if self.overlay_check.isChecked() else None)

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
