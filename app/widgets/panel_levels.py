"""Colour scale and levels of the image panels: scale and colour map, shared or per-side levels (B's own scale
and its display factor), auto-contrast, manual levels; values in the scale's display units unless said."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Slot

from app.core import compare_modes
from app.core.display_plan import level_sample
from app.core.scaling import Levels, inverse_value, log_floor, percentile_levels, transform, transform_value


class PanelsLevelsMixin:
    """Levels for app.widgets.image_panels.ImagePanels (needs its panels, image_bar, scale/level controls and
    _defer)."""

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
            self.panel_b.image_item.setLookupTable(self.image_lut())
        self.compare.redraw()

    def image_lut(self) -> np.ndarray:
        """The image colour map's (256, 4) uint8 table."""
        return self.image_bar.bar.colorMap().getLookupTable(nPts=256, alpha=True)

    def colormap(self) -> str:
        return self.cmap_combo.currentText()

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

    @Slot()
    def _on_sharing_changed(self, *args) -> None:
        self._on_scale_changed(self.scale)

    def _apply_side_levels(self, la: Levels, lb: Levels | None, shared: bool, b_factor: float | None) -> None:
        """Shared: the colour bar drives both images. Per side: it drives A; B keeps its own levels (its panel
        says so). Both panels name their scale; B's names the display factor."""
        if shared != self._shared:  # re-attaching re-renders both images: only when the sharing changes
            items = [self.panel_a.image_item] + ([self.panel_b.image_item] if shared else [])
            self.image_bar.attach(items)
        self._shared, self._levels_b, self._b_factor = shared, lb, b_factor
        self.image_bar.set_levels(la)
        if not shared and lb is not None:
            self.panel_b.image_item.setLookupTable(self.image_lut())
            self.panel_b.image_item.setLevels(lb.as_tuple())
        def span(lv: Levels) -> str:
            return f"{inverse_value(lv.low, self.scale):.3g}–{inverse_value(lv.high, self.scale):.3g}"
        if shared:
            self.panel_a.set_scale_text("shared scale")
            self.panel_b.set_scale_text("shared scale")
        else:
            self.panel_a.set_scale_text("own scale (the bar)")
            self.panel_b.set_scale_text(f"own scale {span(lb)}" if lb is not None else "")
        if b_factor is not None:
            self.panel_b.set_scale_text(self.panel_b.scale_text() + f", shown ×{b_factor:.4g}")
        self.image_bar.set_label(self._unit_label() + ("" if shared else " (A)"))
        self.compare.redraw()

    def _unit_label(self) -> str:
        return {"linear": "photons", "log": "log10(photons)", "sqrt": "√photons"}[self.scale]

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

    def _b_shown(self) -> tuple[np.ndarray | None, float | None]:
        """B as displayed (multiplied by A's-sum factor when that is on) and the factor."""
        a, b = self.panel_a.raw, self.panel_b.raw
        k = compare_modes.sum_factor(a, b) if self.b_sum_check.isChecked() else None
        return (b * np.float32(k) if k is not None else b), k

    def _rescale(self) -> None:
        a, (b, _k) = self.panel_a.raw, self._b_shown()
        self._floor = log_floor(a, b)
        for p, raw in ((self.panel_a, a), (self.panel_b, b)):
            if raw is not None:
                p.set_display(transform(raw, self.scale, self._floor))
        unit = {"linear": "photons", "log": "log10(photons)", "sqrt": "√photons"}[self.scale]
        self.image_bar.set_label(unit)

    @Slot()
    def auto_levels(self, *args) -> None:
        a, (b, k) = self.panel_a.raw, self._b_shown()
        arrays = [level_sample(x) for x in (a, b) if x is not None]
        if not arrays:
            return
        pct = self.percentile_spin.value()
        lv = percentile_levels(arrays, pct, self.scale, self._floor)
        la, lb, shared = lv, lv, True
        if a is not None and b is not None:
            own = [percentile_levels([level_sample(x)], pct, self.scale, self._floor) for x in (a, b)]
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
