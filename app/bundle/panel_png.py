"""Panel PNGs a colleague can read without the program, drawn without a window (QImage + QPainter).

Used by snapshots (on the export worker: QPainter on a QImage is safe off the GUI thread) and `nbparity compare
--png`. Each PNG holds:
- a title (the side's engine name, or "Difference: A − B"), the image size and any aggregation;
- the image (slow down, fast right; MAX-aggregated when larger than MAX_SIDE so single-pixel peaks survive) with
  pixel axes: fast (px) along the bottom, slow (px) on the left, tick labels in image pixel indices;
- the inspected pixels marked (red squares with their (slow, fast));
- a vertical colour bar labelled in raw units, with its unit and scale written beside it;
- for a difference, a line saying where the colour scale clips and how many pixels lie beyond it.
Works under QT_QPA_PLATFORM=offscreen; a QGuiApplication is created when none exists (fonts need one).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import difference as diffmod
from app.core.colormaps import pg_colormap
from app.core.scaling import (DEFAULT_PERCENTILE, Levels, colorize, downsample_max, inverse_value, log_floor,
                              percentile_levels, symmetric_levels, transform)

MAX_SIDE = 1024          # image pixels drawn at most per side (larger images are max-aggregated)
BAR_WIDTH = 22
MARGIN = 8
AXIS_LEFT = 52           # room for the slow-axis tick labels and title
AXIS_BOTTOM = 36         # room for the fast-axis tick labels and title
INK = "#111111"          # text and axes: dark, for print and projectors


# The offscreen application made by _ensure_gui_app: Qt allows one per process, and it must outlive the images
# drawn with it, so the reference is kept for the process' life.
_GUI_APP: list[object] = []


def _ensure_gui_app():
    from PySide6 import QtGui, QtWidgets
    if QtWidgets.QApplication.instance() is None and QtGui.QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _GUI_APP.append(QtGui.QGuiApplication([]))
    return QtGui


def lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a colour map (a shown name of app.core.colormaps.COLORMAPS or a pyqtgraph
    name)."""
    from PySide6 import QtGui  # noqa: F401  (PySide6 before pyqtgraph)
    import pyqtgraph as pg

    return np.asarray(pg.colormap.get(pg_colormap(name)).getLookupTable(nPts=256, alpha=False), dtype=np.uint8)[:, :3]


def nice_ticks(low: float, high: float, target: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10^k) inside [low, high], about `target` of them."""
    span = high - low
    if not span > 0 or not math.isfinite(span):
        return [low]
    raw = span / max(1, target)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int(math.floor((high - first) / step + 1e-9)) + 1)]


def clip_note(values: np.ndarray, levels: Levels, unit: str) -> str:
    """Where a symmetric colour scale clips, and how many pixels lie beyond it (for a difference panel)."""
    finite = np.abs(values[np.isfinite(values)])
    n_beyond = int(np.count_nonzero(finite > levels.high))
    peak = float(finite.max()) if finite.size else 0.0
    frac = n_beyond / max(1, values.size)
    return (f"colours clip at ±{levels.high:.3g} {unit}: {n_beyond} px ({frac:.2%}) beyond, "
            f"shown in the end colours; max |value| {peak:.3g} {unit}")


@dataclass
class PanelSpec:
    """What to draw: raw values, their display transform and levels (display units), colours and labels.

    marks: inspected pixels (slow, fast) to mark; note: an extra line under the image (e.g. the clipping)."""

    title: str
    raw: np.ndarray
    scale: str                  # linear / log / sqrt (signed panels use linear)
    levels: Levels              # in display units
    cmap: str
    unit: str
    floor: float = 1e-30
    signed: bool = False
    marks: list[tuple[int, int]] = field(default_factory=list)
    note: str = ""
    rgb: np.ndarray | None = None   # a picture drawn instead of the colour-mapped raw values (swipe, overlay)


def render_panel(spec: PanelSpec):
    """A QImage of the panel (title, image with pixel axes and marks, colour bar, notes)."""
    QtGui = _ensure_gui_app()
    from PySide6 import QtCore
    s, f = spec.raw.shape[:2]
    factor = max(1, int(math.ceil(max(s, f) / MAX_SIDE)))
    if spec.rgb is not None:
        rgb = np.ascontiguousarray(spec.rgb[..., :3])
        factor = max(1, int(math.ceil(max(s, f) / max(rgb.shape[:2]))))
    else:
        display = transform(spec.raw, spec.scale, spec.floor) if not spec.signed else spec.raw.astype(np.float32)
        shown = downsample_max(display, factor, factor, signed=spec.signed) if factor > 1 else display
        rgb = np.ascontiguousarray(colorize(shown, spec.levels, lut(spec.cmap)))
    h, w = rgb.shape[:2]
    img = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    # Small images are enlarged with nearest neighbour so pixels stay square and visible.
    zoom = max(1, min(8, 512 // max(h, w))) if max(h, w) < 512 else 1
    img_w, img_h = w * zoom, h * zoom
    px_per_img = img_w / f   # screen px per image pixel (same on both axes)

    title_h, label_w = 40, 92
    note_h = 32 if spec.note else 0
    x0 = MARGIN + AXIS_LEFT
    width = x0 + img_w + MARGIN + BAR_WIDTH + label_w
    height = title_h + img_h + AXIS_BOTTOM + note_h + MARGIN
    out = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    out.fill(QtGui.QColor("white"))
    ink = QtGui.QColor(INK)
    p = QtGui.QPainter(out)
    try:
        p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        font = p.font()
        font.setPixelSize(14)
        font.setBold(True)
        p.setFont(font)
        p.setPen(ink)
        p.drawText(MARGIN, 17, spec.title)
        font.setBold(False)
        font.setPixelSize(11)
        p.setFont(font)
        note = f"{s} × {f} px (slow ↓, fast →)" + (f"; each drawn pixel is the max of {factor}×{factor}"
                                                   if factor > 1 else "")
        p.drawText(MARGIN, 33, note)
        p.drawImage(QtCore.QRect(x0, title_h, img_w, img_h), img)
        p.drawRect(x0 - 1, title_h - 1, img_w + 1, img_h + 1)
        # Pixel axes: tick marks at round pixel indices (a tick at index i sits at the left/top edge of pixel i).
        fm = p.fontMetrics()
        for v in nice_ticks(0, f):
            x = x0 + int(round(v * px_per_img))
            p.drawLine(x, title_h + img_h, x, title_h + img_h + 4)
            text = f"{v:g}"
            p.drawText(x - fm.horizontalAdvance(text) // 2, title_h + img_h + 16, text)
        p.drawText(x0 + img_w // 2 - fm.horizontalAdvance("fast (px)") // 2, title_h + img_h + 31, "fast (px)")
        for v in nice_ticks(0, s):
            y = title_h + int(round(v * px_per_img))
            p.drawLine(x0 - 5, y, x0 - 1, y)
            text = f"{v:g}"
            p.drawText(x0 - 7 - fm.horizontalAdvance(text), y + 4, text)
        p.save()
        p.translate(MARGIN + 9, title_h + img_h // 2 + fm.horizontalAdvance("slow (px)") // 2)
        p.rotate(-90)
        p.drawText(0, 0, "slow (px)")
        p.restore()
        # Inspected pixels: a red square (at least 9 px) around each, with its indices.
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for ms, mf in spec.marks:
            if not (0 <= ms < s and 0 <= mf < f):
                continue
            cx, cy = x0 + (mf + 0.5) * px_per_img, title_h + (ms + 0.5) * px_per_img
            half = max(4.5, px_per_img / 2 + 2)
            p.setPen(QtGui.QPen(QtGui.QColor("white"), 4))
            p.drawRect(QtCore.QRectF(cx - half, cy - half, 2 * half, 2 * half))
            p.setPen(QtGui.QPen(QtGui.QColor("#e00000"), 2))
            p.drawRect(QtCore.QRectF(cx - half, cy - half, 2 * half, 2 * half))
            label = f"({ms}, {mf})"
            lx = min(cx + half + 3, x0 + img_w - fm.horizontalAdvance(label) - 2)
            ly = max(cy - half - 3, title_h + 12)
            # The indices on an opaque white box with a red frame: readable on any colour (a halo alone was not,
            # on the bright end of a colour map such as viridis' yellow).
            box = QtCore.QRectF(lx - 2, ly - fm.ascent() - 1, fm.horizontalAdvance(label) + 4, fm.height() + 2)
            p.setPen(QtGui.QPen(QtGui.QColor("#e00000"), 1))
            p.setBrush(QtGui.QColor("white"))
            p.drawRect(box)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.setPen(QtGui.QColor("#b00000"))
            p.drawText(QtCore.QPointF(lx, ly), label)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.setPen(ink)
        # Colour bar: top = high level.
        bx = x0 + img_w + MARGIN
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
        p.translate(width - 6, title_h + img_h // 2)
        p.rotate(-90)
        label = spec.unit + ("" if spec.signed or spec.scale == "linear" else f" ({spec.scale} scale)")
        p.drawText(-fm.horizontalAdvance(label) // 2, 0, label)
        p.restore()
        if spec.note:
            p.drawText(QtCore.QRect(MARGIN, title_h + img_h + AXIS_BOTTOM + 2, width - 2 * MARGIN, note_h),
                       int(QtCore.Qt.TextFlag.TextWordWrap), spec.note)
    finally:
        p.end()
    return out


def png_bytes(spec: PanelSpec) -> bytes:
    """The rendered panel as PNG bytes (for snapshot extra files)."""
    return image_png_bytes(render_panel(spec))


def image_png_bytes(img) -> bytes:
    """A QImage (or a QPixmap, e.g. a widget's grab) as PNG bytes."""
    _ensure_gui_app()
    from PySide6 import QtCore
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(buf.data().data())


def panel_specs(img_a: np.ndarray | None, img_b: np.ndarray | None, *, scale: str = "log",
                percentile: float = DEFAULT_PERCENTILE, cmap: str = "viridis", diff_mode: str = "diff",
                levels: Levels | None = None, diff_cmap: str = "CET-D1", diff_levels: Levels | None = None,
                names: tuple[str, str] = ("C reference", "PyTorch"), unit: str = "photons",
                marks: list[tuple[int, int]] | None = None, with_diff: bool = True,
                floor: float | None = None) -> dict[str, PanelSpec]:
    """Specs for the two sides' and the difference panels (shared levels for both sides, as in the window).

    names: the sides' engine names (titles); marks: inspected pixels (slow, fast) to mark on every panel;
    with_diff: False leaves the difference out (the window hands over the one it shows: diff_spec); floor: the
    log scale's floor when known (else computed)."""
    present = [a for a in (img_a, img_b) if a is not None]
    floor = floor if floor is not None else log_floor(*present)
    lv = levels if levels is not None else percentile_levels(present, percentile, scale, floor)
    marks = list(marks or [])
    specs: dict[str, PanelSpec] = {}
    if img_a is not None:
        specs["a"] = PanelSpec(names[0], img_a, scale, lv, cmap, unit, floor, marks=marks)
    if img_b is not None:
        specs["b"] = PanelSpec(names[1], img_b, scale, lv, cmap, unit, floor, marks=marks)
    if with_diff and img_a is not None and img_b is not None and img_a.shape == img_b.shape:
        d = diffmod.difference(img_a, img_b, diff_mode)
        dl = diff_levels if diff_levels is not None else symmetric_levels(d, percentile)
        specs["diff"] = diff_spec(d, diff_mode, dl, names, marks, diff_cmap)
        specs["diff"].note = clip_note(d, dl, specs["diff"].unit)
    return specs


def diff_spec(d: np.ndarray, mode: str, levels: Levels, names: tuple[str, str], marks: list[tuple[int, int]],
              cmap: str = "CET-D1") -> PanelSpec:
    """The difference panel's spec (its clipping note is left to the caller: it costs a pass over the image)."""
    mode_text = diffmod.MODES[mode]
    return PanelSpec(f"Difference: {mode_text}  (A = {names[0]}, B = {names[1]})", d, "linear", levels, cmap,
                     diffmod.UNITS[mode], signed=True, marks=list(marks))


def panel_pngs(img_a: np.ndarray | None, img_b: np.ndarray | None, *, scale: str = "log",
               percentile: float = DEFAULT_PERCENTILE, cmap: str = "viridis", diff_mode: str = "diff",
               names: tuple[str, str] = ("C reference", "PyTorch")) -> dict[str, bytes]:
    """{"panel_a.png" | "panel_b.png" | "panel_diff.png": PNG bytes} for the panels that exist (any thread)."""
    return {f"panel_{key}.png": png_bytes(spec)
            for key, spec in panel_specs(img_a, img_b, scale=scale, percentile=percentile, cmap=cmap,
                                         diff_mode=diff_mode, names=names).items()}


def write_panel_pngs(folder: str | Path, img_a: np.ndarray | None, img_b: np.ndarray | None, **options) -> list[Path]:
    """Write panel_pngs(...) into `folder`, each file whole or not at all; returns their paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in panel_pngs(img_a, img_b, **options).items():
        path = out / name
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        paths.append(path)
    return paths
