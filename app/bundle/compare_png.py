"""The swipe or overlay the window shows, as a snapshot picture (panel_compare.png): the inputs are captured on
the GUI thread (app.widgets.compare_view.CompareView.capture: arrays by reference, levels, split line, blend), the
picture is drawn on the export worker from the sides' max-aggregated display images, like the window's
(app.core.compare_modes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.core import compare_modes as cm
from app.bundle import panel_png
from app.core.scaling import Levels, downsample_max


@dataclass
class CompareInput:
    """What the compare panel shows: mode 'swipe_v' | 'swipe_h' | 'overlay', both sides' display images (S, F),
    their levels (display units), the image colour map, the split line (view px) and the blend (0–1)."""

    mode: str
    a: np.ndarray
    b: np.ndarray
    levels_a: Levels
    levels_b: Levels
    cmap: str
    scale: str
    split_px: float
    blend: float
    names: tuple[str, str]
    marks: list[tuple[int, int]] = field(default_factory=list)


def picture(ci: CompareInput) -> tuple[np.ndarray, int]:
    """(RGBA image, aggregation factor) of the swipe or overlay, at most panel_png.MAX_SIDE pixels a side."""
    s, f = ci.a.shape
    factor = max(1, int(math.ceil(max(s, f) / panel_png.MAX_SIDE)))
    a = downsample_max(ci.a, factor, factor) if factor > 1 else ci.a
    b = downsample_max(ci.b, factor, factor) if factor > 1 else ci.b
    if ci.mode == "overlay":
        return cm.overlay_rgba(a, b, ci.levels_a, ci.levels_b, ci.blend), factor
    orient = "v" if ci.mode == "swipe_v" else "h"
    n = a.shape[1 if orient == "v" else 0]
    lut = panel_png.lut(ci.cmap)
    return cm.swipe_rgba(a, b, cm.split_index(ci.split_px, factor, n), orient, ci.levels_a, ci.levels_b, lut), factor


def render(ci: CompareInput) -> dict[str, bytes]:
    """{'panel_compare.png': PNG bytes} (any thread)."""
    rgba, factor = picture(ci)
    if ci.mode != "overlay":  # the split line, white, one drawn pixel wide
        rgba = rgba.copy()
        axis = 1 if ci.mode == "swipe_v" else 0
        i = cm.split_index(ci.split_px, factor, rgba.shape[axis])
        if 0 < i < rgba.shape[axis]:
            (rgba[:, i - 1] if axis == 1 else rgba[i - 1])[...] = 255
    a_name, b_name = ci.names
    if ci.mode == "overlay":
        title = f"Overlay: A = {a_name} magenta, B = {b_name} green"
        note = (f"blend {ci.blend:.2f} (0: A only, 1: B only); grey where A = B; each side as a fraction of its "
                "colour levels (the bar shows A's)")
    else:
        where = "left of" if ci.mode == "swipe_v" else "above"
        axis_name = "fast" if ci.mode == "swipe_v" else "slow"
        title = f"Swipe: A = {a_name} {where} the line, B = {b_name} beyond it"
        note = f"split line at {axis_name} {ci.split_px:.1f} px"
    spec = panel_png.PanelSpec(title, ci.a, ci.scale, ci.levels_a, ci.cmap, "photons", marks=ci.marks, note=note,
                               rgb=rgba)
    return {"panel_compare.png": panel_png.png_bytes(spec)}
