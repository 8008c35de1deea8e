"""Pictures for a snapshot, taken from the live window (GUI thread only).

`window_pngs(window)` returns the extra files that ComparisonSession.write_bundle adds to the bundle:
    window.png            the whole window (QWidget.grab)
    panel_c.png, panel_py.png, panel_diff.png
                          each panel with its colour bar, rendered from the raw arrays with the window's current
                          scale, levels, colour map and difference mode (app.panel_png), at full image resolution
                          (or max-aggregated above 1024 px)
    inspector_plots.png   the φ inspector's plots (when a pixel has been traced)
The data files (images, difference, metrics, per-φ tables, logs, manifest) come from write_bundle itself.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from app import panel_png
from app.scaling import Levels

if TYPE_CHECKING:
    from app.main_window import MainWindow


def widget_png(widget: QtWidgets.QWidget) -> bytes:
    """A PNG of the widget as it is drawn now."""
    pix = widget.grab()
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    pix.save(buf, "PNG")
    return bytes(buf.data())


def window_pngs(window: MainWindow) -> dict[str, bytes]:
    """window.png, the panel PNGs and inspector_plots.png (see the module docstring)."""
    files: dict[str, bytes] = {"window.png": widget_png(window)}
    panels = window.panels
    c, py = panels.c_image(), panels.py_image()
    lv = panels.levels()
    specs = panel_png.panel_specs(c, py, scale=panels.scale, percentile=panels.percentile_spin.value(),
                                  cmap=panels.colormap(), diff_mode=panels.mode(), levels=Levels(lv.low, lv.high))
    if "diff" in specs:
        # Keep the levels the user sees on the difference panel too.
        specs["diff"].levels = panels.diff_bar.levels()
    for key, spec in specs.items():
        files[f"panel_{key}.png"] = panel_png.png_bytes(spec)
    if window.inspector.inspection is not None:
        files["inspector_plots.png"] = widget_png(window.inspector.plots_widget())
    return files
