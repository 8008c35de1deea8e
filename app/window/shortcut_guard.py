"""The window's shortcuts while a text field has the focus.

Qt lets a focused text field claim a key first (a ShortcutOverride event): QLineEdit and QPlainTextEdit take
Ctrl+E (end of line), Ctrl+D (delete) and others under the X11 key bindings, so Ctrl+E (export) did nothing while
the command-line editor or a level box had the focus. This filter gives the window's own actions their keys back:
a key sequence that one of the window's enabled actions claims is not overridden by the focused widget; every
other key (Ctrl+C, Ctrl+A, Ctrl+Z, typing) stays the text field's.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ShortcutGuard(QtCore.QObject):
    """Application event filter for one window (removed with it: the guard is the window's child)."""

    def __init__(self, window: QtWidgets.QWidget):
        super().__init__(window)
        self.window = window

    def claimed(self, seq: QtGui.QKeySequence) -> QtGui.QAction | None:
        """The window's enabled action whose shortcut is `seq` (None when no action claims it)."""
        for a in QtWidgets.QWidget.actions(self.window):  # (MainWindow.actions is its namespace of actions)
            if a.isEnabled() and any(s == seq for s in a.shortcuts()):
                return a
        return None

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() != QtCore.QEvent.Type.ShortcutOverride or not isinstance(obj, QtWidgets.QWidget):
            return False
        if obj.window() is not self.window:
            return False
        mods = event.modifiers() & ~QtCore.Qt.KeyboardModifier.KeypadModifier
        if not mods & (QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.AltModifier):
            return False  # plain typing (and Esc, F1) is never stolen from a text field
        seq = QtGui.QKeySequence(QtCore.QKeyCombination(mods, QtCore.Qt.Key(event.key())))
        if self.claimed(seq) is None:
            return False
        event.ignore()  # not overridden: the shortcut map triggers the window's action
        return True


def install(window: QtWidgets.QWidget) -> ShortcutGuard:
    """Install the guard for `window` on the application; returns it (owned by the window)."""
    guard = ShortcutGuard(window)
    QtWidgets.QApplication.instance().installEventFilter(guard)
    return guard
