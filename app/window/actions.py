"""The window's actions, menus and toolbar, its keyboard-shortcut list and its small dialogs.

`build_actions(win)` creates the QActions on the window (so their shortcuts work wherever the focus is) and
connects them to the window's slots; the window stays a composition of widgets.
"""
from __future__ import annotations

from types import SimpleNamespace

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt

from app.core.session import nbparity_version
from app.window import shortcut_guard, window_io

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+R", "Run both engines"),
    ("Ctrl+Enter", "Run (from the command-line editor)"),
    ("Esc", "Cancel the running engines and traces"),
    ("Ctrl+E", "Export a snapshot (new timestamped folder)"),
    ("Ctrl+O", "Load an image as side A"),
    ("Ctrl+Shift+O", "Load an image as side B"),
    ("Ctrl+M", "Trace the pixel of largest |A − B|"),
    ("Ctrl+D", "Reload the demo command line"),
    ("Ctrl+1 / Ctrl+2 / Ctrl+3 (1 / 2 / 3 on an image)", "Difference: A − B / relative / log10 ratio"),
    ("Ctrl+0 (F on an image)", "Fit the view to the whole image"),
    ("B (on an image)", "Box zoom on/off (drag a box)"),
    ("S / D / W / H / O (on an image)", "Compare: side by side / difference / swipe (vertical, horizontal split: "
                                        "drag the line) / overlay (A magenta, B green; blend slider)"),
    ("L / R / C (on an image)", "Line profile: draw a line / the row / the column through the cursor"),
    ("G / P (on an image)", "Resolution rings / predicted reflections (h k l) on or off"),
    ("Right click (on an image)", "Inspect, centre, copy values, fit, box zoom, difference modes"),
    ("Enter (slow/fast box)", "Inspect that pixel and bring it into view"),
    ("Ctrl+L", "Cycle the colour scale (linear, log, sqrt)"),
    ("Ctrl+C (table)", "Copy the φ table as TSV"),
    ("Ctrl+Q", "Quit"),
)


def _action(win: QtWidgets.QMainWindow, text: str, shortcut: str | None, slot, tip: str = "") -> QtGui.QAction:
    a = QtGui.QAction(text, win)
    if shortcut:
        a.setShortcut(QtGui.QKeySequence(shortcut))
    a.setToolTip(tip or text)
    a.setStatusTip(tip or text)
    a.triggered.connect(slot)
    win.addAction(a)  # shortcuts work wherever the focus is
    return a


def build_actions(win) -> SimpleNamespace:
    """Actions, menus and the run toolbar of the MainWindow `win`; returns the actions by name."""
    a = SimpleNamespace(
        run=_action(win, "Run", "Ctrl+R", win.run, "Run both engines on the command line (Ctrl+R)"),
        cancel=_action(win, "Cancel", "Esc", win.cancel, "Stop both engines and any trace (Esc)"),
        export=_action(win, "Export snapshot…", "Ctrl+E", lambda: window_io.export_dialog(win),
                       "Write a new timestamped snapshot folder (Ctrl+E)"),
        load_a=_action(win, "Load image as side A…", "Ctrl+O", lambda: window_io.open_image_dialog(win, "a")),
        load_b=_action(win, "Load image as side B…", "Ctrl+Shift+O", lambda: window_io.open_image_dialog(win, "b")),
        demo=_action(win, "Load demo", "Ctrl+D", win.load_demo),
        max=_action(win, "Go to max |Δ|", "Ctrl+M", win.goto_max),
        quit=_action(win, "Quit", "Ctrl+Q", win.close),
        reset=_action(win, "Reset settings", None, win.reset_settings),
        shortcuts=_action(win, "Shortcuts", "F1", lambda: shortcuts_dialog(win)),
        about=_action(win, "About nbparity", None, lambda: about_dialog(win)),
        scale=_action(win, "Cycle colour scale", "Ctrl+L", lambda: cycle_scale(win.panels)),
    )
    a.cancel.setEnabled(False)
    win._shortcut_guard = shortcut_guard.install(win)  # Ctrl+E & co. work while a text field has the focus
    # Fit view, box zoom and the exclusive difference modes belong to the panels (app.widgets.image_panels).
    a.view = win.panels.view_actions()
    win.addActions(a.view)

    mb = win.menuBar()
    menus = (("&File", (a.load_a, a.load_b, a.demo, None, a.export, None, a.quit)),
             ("&Run", (a.run, a.cancel, a.max)),
             ("&View", (*a.view, None, a.scale)),
             ("&Settings", (a.reset,)),
             ("&Help", (a.shortcuts, a.about)))
    for title, items in menus:
        m = mb.addMenu(title)
        for item in items:
            m.addSeparator() if item is None else m.addAction(item)

    tb = win.addToolBar("Run")
    tb.setObjectName("run_toolbar")
    tb.setMovable(False)
    for item in (a.run, a.cancel, None, win.a_bar, win.b_bar, None, a.export, None, win.panels.fit_action,
                 win.panels.box_zoom_action):
        if item is None:
            tb.addSeparator()
        elif isinstance(item, QtWidgets.QWidget):
            tb.addWidget(item)
        else:
            tb.addAction(item)
    return a


def cycle_scale(panels) -> None:
    combo = panels.scale_combo
    combo.setCurrentIndex((combo.currentIndex() + 1) % combo.count())


def shortcuts_dialog(parent: QtWidgets.QWidget) -> None:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setText(f"<table>{rows}</table><p>Mouse: wheel zooms, drag pans (all three panels together); "
                "click a pixel to trace it.</p>")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def about_dialog(parent: QtWidgets.QWidget) -> None:
    QtWidgets.QMessageBox.about(
        parent, "About nbparity",
        f"<b>nbparity {nbparity_version()}</b><p>Runs two nanoBragg engines (side A and side B: our C reference, "
        "our PyTorch engine, any nanoBragg binary or external command) on the same command line, shows both images "
        "and their difference, and traces any pixel across the φ ticks (h, k, l, F_latt) with the first divergence "
        "marked.</p><p>Images: float32 (slow, fast), photons per pixel; pixel (s, f) has its centre at "
        "(s+0.5, f+0.5) px.</p>")
