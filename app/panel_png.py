"""Panel PNGs with a colour bar, drawn without a window (QImage + QPainter), for snapshots and `nbparity compare --png`.

Each PNG holds a title line, the image (slow down, fast right; MAX-aggregated when larger than the target size so
single-pixel peaks survive) and a vertical colour bar labelled in raw units. Works under QT_QPA_PLATFORM=offscreen;
a QGuiApplication is created when none exists (fonts need one).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app import difference as diffmod
from app.scaling import (DEFAULT_PERCENTILE, Levels, colorize, downsample_max, inverse_value, log_floor,
                         percentile_levels, symmetric_levels, transform)

MAX_SIDE = 1024          # image pixels drawn at most per side (larger images are max-aggregated)
BAR_WIDTH = 22
MARGIN = 8


def _ensure_gui_app():
    from PySide6 import QtGui, QtWidgets
    if QtWidgets.QApplication.instance() is None and QtGui.QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _ensure_gui_app.app = QtGui.QGuiApplication([])  # keep a reference for the process' life
    return QtGui


def lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a pyqtgraph colour map."""
    from PySide6 import QtGui  # noqa: F401  (PySide6 before pyqtgraph)
    import pyqtgraph as pg
    from app.image_panels import pg_colormap
    return np.asarray(pg.colormap.get(pg_colormap(name)).getLookupTable(nPts=256, alpha=False), dtype=np.uint8)[:, :3]


@dataclass
class PanelSpec:
    """What to draw: raw values, their display transform and levels (display units), colours and labels."""

    title: str
    raw: np.ndarray
    scale: str                  # linear / log / sqrt (signed panels use linear)
    levels: Levels              # in display units
    cmap: str
    unit: str
    floor: float = 1e-30
    signed: bool = False


def render_panel(spec: PanelSpec):
    """A QImage of the panel (image + colour bar + title)."""
    QtGui = _ensure_gui_app()
    from PySide6 import QtCore
    display = transform(spec.raw, spec.scale, spec.floor) if not spec.signed else spec.raw.astype(np.float32)
    s, f = display.shape
    factor = max(1, int(math.ceil(max(s, f) / MAX_SIDE)))
    shown = downsample_max(display, factor, factor, signed=spec.signed) if factor > 1 else display
    rgb = np.ascontiguousarray(colorize(shown, spec.levels, lut(spec.cmap)))
    h, w = rgb.shape[:2]
    img = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    # Small images are enlarged with nearest neighbour so pixels stay square and visible.
    zoom = max(1, min(4, 512 // max(h, w))) if max(h, w) < 512 else 1
    img_w, img_h = w * zoom, h * zoom

    title_h, label_w = 38, 86
    width = MARGIN + img_w + MARGIN + BAR_WIDTH + label_w
    height = title_h + img_h + MARGIN
    out = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    out.fill(QtGui.QColor("white"))
    p = QtGui.QPainter(out)
    try:
        p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        font = p.font()
        font.setPixelSize(13)
        p.setFont(font)
        p.setPen(QtGui.QColor("black"))
        p.drawText(MARGIN, 16, spec.title)
        font.setPixelSize(11)
        p.setFont(font)
        note = f"{s} x {f} px (slow ↓, fast →)" + (f", max of {factor}x{factor} blocks" if factor > 1 else "")
        p.drawText(MARGIN, 32, note)
        p.drawImage(QtCore.QRect(MARGIN, title_h, img_w, img_h), img)
        # Colour bar: top = high level.
        bx = MARGIN + img_w + MARGIN
        bar = np.ascontiguousarray(lut(spec.cmap)[::-1][:, None, :].repeat(BAR_WIDTH, axis=1))
        bar_img = QtGui.QImage(bar.data, BAR_WIDTH, 256, 3 * BAR_WIDTH, QtGui.QImage.Format.Format_RGB888).copy()
        p.drawImage(QtCore.QRect(bx, title_h, BAR_WIDTH, img_h), bar_img)
        p.drawRect(bx, title_h, BAR_WIDTH, img_h)
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            disp = spec.levels.low + frac * (spec.levels.high - spec.levels.low)
            raw = disp if spec.signed else inverse_value(disp, spec.scale)
            y = title_h + int(round((1.0 - frac) * img_h))
            p.drawLine(bx + BAR_WIDTH, y, bx + BAR_WIDTH + 4, y)
            p.drawText(bx + BAR_WIDTH + 6, min(max(y + 4, title_h + 10), title_h + img_h), f"{raw:.3g}")
        p.save()
        p.translate(width - 4, title_h + img_h // 2)
        p.rotate(-90)
        label = spec.unit + ("" if spec.signed or spec.scale == "linear" else f" ({spec.scale} scale)")
        p.drawText(-len(label) * 3, 0, label)
        p.restore()
    finally:
        p.end()
    return out


def png_bytes(spec: PanelSpec) -> bytes:
    """The rendered panel as PNG bytes (for snapshot extra files)."""
    _ensure_gui_app()
    from PySide6 import QtCore
    img = render_panel(spec)
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(buf.data())


def panel_specs(c_img: np.ndarray | None, py_img: np.ndarray | None, *, scale: str = "log",
                percentile: float = DEFAULT_PERCENTILE, cmap: str = "viridis", diff_mode: str = "diff",
                levels: Levels | None = None, diff_cmap: str = "CET-D1") -> dict[str, PanelSpec]:
    """Specs for the C, PyTorch and difference panels (shared levels for C and PyTorch, as in the window)."""
    present = [a for a in (c_img, py_img) if a is not None]
    floor = log_floor(*present)
    lv = levels if levels is not None else percentile_levels(present, percentile, scale, floor)
    unit = "photons"
    specs: dict[str, PanelSpec] = {}
    if c_img is not None:
        specs["c"] = PanelSpec("C reference", c_img, scale, lv, cmap, unit, floor)
    if py_img is not None:
        specs["py"] = PanelSpec("PyTorch", py_img, scale, lv, cmap, unit, floor)
    if c_img is not None and py_img is not None and c_img.shape == py_img.shape:
        d = diffmod.difference(c_img, py_img, diff_mode)
        specs["diff"] = PanelSpec(f"Difference: {diffmod.MODES[diff_mode]}", d, "linear",
                                  symmetric_levels(d, percentile), diff_cmap, diffmod.UNITS[diff_mode], signed=True)
    return specs


def write_panel_pngs(folder: str | Path, c_img: np.ndarray | None, py_img: np.ndarray | None, *,
                     scale: str = "log", percentile: float = DEFAULT_PERCENTILE, cmap: str = "viridis",
                     diff_mode: str = "diff") -> list[Path]:
    """Write panel_c.png, panel_py.png and panel_diff.png (those that exist) into `folder`; returns their paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, spec in panel_specs(c_img, py_img, scale=scale, percentile=percentile, cmap=cmap,
                                 diff_mode=diff_mode).items():
        path = out / f"panel_{key}.png"
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(png_bytes(spec))
        os.replace(tmp, path)  # whole file or none
        paths.append(path)
    return paths
