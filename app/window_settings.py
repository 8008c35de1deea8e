"""What the window remembers between starts (app.settings keys): geometry, dock state, C binary, view."""
from __future__ import annotations

from PySide6 import QtCore
from PySide6.QtCore import Qt

from app.settings import AppSettings


def restore_window(win, s: AppSettings, c_binary: str | None) -> None:
    """Geometry and dock layout, the C binary (an explicit one wins), colour map and scale."""
    geo, state = s.get_bytes("window/geometry"), s.get_bytes("window/state")
    if geo is not None:
        win.restoreGeometry(geo)
    if state is not None:
        win.restoreState(state)
    else:  # first start: a narrow parameter dock (after the first layout pass, or it keeps its size hint)
        QtCore.QTimer.singleShot(0, lambda: win.resizeDocks([win.params_dock], [370], Qt.Orientation.Horizontal))
    win.editor.set_c_binary(c_binary or s.get_str("engines/c_binary", ""))
    win.panels.set_colormap(s.get_str("view/colormap", "viridis"))
    win.panels.set_scale(s.get_str("view/scale", "log"))


def save_view(win, s: AppSettings) -> None:
    s.set("view/colormap", win.panels.colormap())
    s.set("view/scale", win.panels.scale)


def save_window(win, s: AppSettings) -> None:
    s.set("window/geometry", win.saveGeometry())
    s.set("window/state", win.saveState())
    s.set("engines/c_binary", win.editor.c_binary_edit.text().strip())
    save_view(win, s)
    s.sync()


def reset_window(win, s: AppSettings) -> None:
    s.reset()
    win.panels.set_colormap("viridis")
    win.panels.set_scale("log")
    win.editor.set_c_binary(None)
