"""Where the inspector sits: in the main window, in its own top-level window, or maximised over its neighbours.

`InspectorPlacement` moves the inspector's content (everything below its pixel boxes) into an `InspectorWindow`
and back, and hides / restores the other parts of the splitters the inspector sits in. It keeps the toggle buttons
in step; closing the own window brings the content back.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

OWN_WINDOW_SIZE = (1200, 800)   # px


class InspectorWindow(QtWidgets.QMainWindow):
    """The inspector's own window; closing it calls `on_close` (which brings the content back)."""

    def __init__(self, on_close: Callable[[InspectorWindow], None], owner: QtWidgets.QWidget):
        # Owned by the host (still a top-level window): a parentless window would outlive the inspector and be torn
        # down by a garbage collection at a random moment, its pyqtgraph scene half cleared (a crash).
        super().__init__(owner, QtCore.Qt.WindowType.Window)
        self._on_close = on_close

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self._on_close(self)
        super().closeEvent(event)


class InspectorPlacement:
    """Moves `content` (a widget at index 1 of `host_layout` in `host`) between the host and its own window."""

    def __init__(self, host: QtWidgets.QWidget, host_layout: QtWidgets.QVBoxLayout, content: QtWidgets.QWidget,
                 placeholder: QtWidgets.QWidget, own_button: QtWidgets.QAbstractButton,
                 max_button: QtWidgets.QAbstractButton):
        self.host, self.host_layout, self.content, self.placeholder = host, host_layout, content, placeholder
        self.own_button, self.max_button = own_button, max_button
        self.own_window: QtWidgets.QMainWindow | None = None
        self._saved_splits: list[tuple[QtWidgets.QSplitter, list[int], list[QtWidgets.QWidget]]] = []

    def _closed(self, win: QtWidgets.QMainWindow) -> None:
        if self.own_window is win:
            self.set_own_window(False)

    def set_own_window(self, on: bool) -> None:
        """Move the content into a top-level window (on) or back into the host."""
        if self.own_button.isChecked() != on:
            self.own_button.setChecked(on)  # the button's toggled signal re-enters with it in step
            return
        if on and self.own_window is None:
            win = InspectorWindow(self._closed, self.host)
            win.setWindowTitle("nbparity — φ inspector")
            self.host_layout.removeWidget(self.content)
            win.setCentralWidget(self.content)
            win.resize(*OWN_WINDOW_SIZE)
            self.own_window = win
            self.placeholder.setVisible(True)
            win.show()
        elif not on and self.own_window is not None:
            win, self.own_window = self.own_window, None
            content = win.takeCentralWidget()
            self.host_layout.insertWidget(1, content, 1)
            content.show()
            self.placeholder.setVisible(False)
            win.close()
            win.deleteLater()

    def set_maximised(self, on: bool) -> None:
        """The host takes the room of everything beside it in the window's splitters (on: the other parts are
        hidden), or the layout comes back as it was (off)."""
        if on and not self._saved_splits:
            child, parent = self.host, self.host.parentWidget()
            while parent is not None:
                if isinstance(parent, QtWidgets.QSplitter):
                    others = [parent.widget(i) for i in range(parent.count())
                              if parent.widget(i) is not child and parent.widget(i).isVisible()]
                    self._saved_splits.append((parent, parent.sizes(), others))
                    for w in others:
                        w.setVisible(False)
                child, parent = parent, parent.parentWidget()
        elif not on:
            for splitter, sizes, others in reversed(self._saved_splits):
                for w in others:
                    w.setVisible(True)
                splitter.setSizes(sizes)
            self._saved_splits = []
        if self.max_button.isChecked() != on:
            self.max_button.setChecked(on)
