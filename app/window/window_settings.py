"""What the window remembers between starts (app.qt.settings keys): geometry, docks, splitters, C binary, command
line and the view (app.qt.settings.ViewSettings)."""
from __future__ import annotations

from PySide6 import QtCore
from PySide6.QtCore import Qt

from app.qt.settings import AppSettings, ViewSettings


def _splitters(win) -> dict:
    """The window's splitters by settings key (the vertical one and the metrics | inspector one below it)."""
    out = {"window/splitter": win.splitter}
    bottom = win.splitter.widget(1)
    if bottom is not None and hasattr(bottom, "saveState"):
        out["window/bottom_splitter"] = bottom
    return out


def restore_window(win, s: AppSettings, c_binary: str | None) -> None:
    """Geometry, docks and splitters, the C binary (an explicit one wins; a remembered one that cannot run is
    forgotten and reported once, in win.settings_note), and every view choice.

    The defaults are kept first (win.default_layout), so Reset can put them back at once."""
    win.default_layout = {"state": win.saveState(),
                          **{k: sp.saveState() for k, sp in _splitters(win).items()}}
    geo, state = s.get_bytes("window/geometry"), s.get_bytes("window/state")
    if geo is not None:
        win.restoreGeometry(geo)
    if state is not None:
        win.restoreState(state)
    else:  # first start: a narrow parameter dock (after the first layout pass, or it keeps its size hint)
        QtCore.QTimer.singleShot(0, lambda: win.resizeDocks([win.params_dock], [370], Qt.Orientation.Horizontal))
    for key, sp in _splitters(win).items():
        blob = s.get_bytes(key)
        if blob is not None:
            sp.restoreState(blob)
    win.settings_note = None
    win.engines.restore()
    if c_binary:
        win.engines.set_c_binary(c_binary)
    else:
        path, problem = s.take_c_binary()
        if path:
            win.engines.set_c_binary(path)
        win.settings_note = problem
    if s.note:  # a newer schema's file: kept unchanged, defaults used; said once, at this start
        win.settings_note = " ".join(n for n in (s.note, win.settings_note) if n)
    # Read every choice before showing any: showing one saves the view, which must not overwrite the others.
    win.panels.apply_view_settings(ViewSettings.load(s))


def save_view(win, s: AppSettings) -> None:
    win.panels.view_settings().save(s)


def save_window(win, s: AppSettings) -> None:
    s.set("window/geometry", win.saveGeometry())
    s.set("window/state", win.saveState())
    for key, sp in _splitters(win).items():
        s.set(key, sp.saveState())
    s.set("engines/c_binary", win.engines.c_binary())
    win.engines.save()
    if win.editor.is_valid():
        s.set_argv(win.editor.argv())
    save_view(win, s)
    s.sync()


def reset_window(win, s: AppSettings) -> None:
    """Forget every setting and show the defaults now: view choices, C binary, docks and splitters."""
    s.reset()
    win.panels.apply_view_settings(ViewSettings())
    win.engines.set_c_binary(None)
    layout = getattr(win, "default_layout", None)
    if layout:
        win.restoreState(layout["state"])
        for key, sp in _splitters(win).items():
            if key in layout:
                sp.restoreState(layout[key])
    s.reset()  # showing the defaults saved them again: leave the file empty, as a first start finds it
