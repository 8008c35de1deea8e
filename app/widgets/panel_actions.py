"""The image panels' view actions (fit view, box zoom, difference modes, with their Ctrl and single-key
shortcuts) and the right-click menu of a pixel."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Slot

from app.core import difference as diffmod


class PanelsActionsMixin:
    """Actions and context menu for app.widgets.image_panels.ImagePanels (needs its panels, profile, compare view,
    marks, pixelClicked and set_mode / mode)."""

    def _build_view_actions(self) -> None:
        """Fit view, box zoom and the difference modes as QActions (for the window's View menu and toolbar).

        Their Ctrl shortcuts work anywhere in the window once it adds them; the single keys (F, B, 1, 2, 3) only
        while an image panel has the focus, so they never fire while typing a command line."""
        def act(text: str, tip: str, shortcut: str | None = None) -> QtGui.QAction:
            a = QtGui.QAction(text, self)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if shortcut:
                a.setShortcut(QtGui.QKeySequence(shortcut))
            return a
        self.fit_action = act("Fit view", "Show the whole image in all three panels (F or Ctrl+0)", "Ctrl+0")
        self.fit_action.triggered.connect(self.fit_view)
        self.box_zoom_action = act("Box zoom", "Drag a box on an image to zoom into it (B toggles; the wheel "
                                   "always zooms, right click for more)")
        self.box_zoom_action.setCheckable(True)
        self.box_zoom_action.toggled.connect(self.set_box_zoom)
        self.mode_group = QtGui.QActionGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_actions: dict[str, QtGui.QAction] = {}
        for i, (key, text) in enumerate(diffmod.MODES.items()):
            a = act(f"Difference: {text}", f"Show the difference as {text} ({i + 1}, or Ctrl+{i + 1})",
                    f"Ctrl+{i + 1}")
            a.setCheckable(True)
            a.setData(key)
            a.triggered.connect(self._on_mode_action)
            self.mode_group.addAction(a)
            self.mode_actions[key] = a
        self._sync_mode_actions()
        keys = [("F", self.fit_action.trigger), ("B", self.box_zoom_action.toggle)]
        keys += [(str(i + 1), a.trigger) for i, a in enumerate(self.mode_actions.values())]
        self._key_shortcuts = []
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
            self._key_shortcuts.append(sc)

    def view_actions(self) -> list[QtGui.QAction]:
        """Fit view, box zoom, then the difference modes: for the window's View menu."""
        return [self.fit_action, self.box_zoom_action, *self.mode_actions.values(), *self.compare.actions.values(),
                *self.marks.actions()]

    @Slot()
    def fit_view(self) -> None:
        """Show the whole image in the (linked) panels."""
        panel = self.panel_a if self.panel_a.raw is not None else self.panel_b
        panel.fit_view()  # the other panels follow through the X/Y links

    @Slot(bool)
    def set_box_zoom(self, on: bool) -> None:
        for p in self.panels:
            p.set_box_zoom(on)
        if self.box_zoom_action.isChecked() != on:
            self.box_zoom_action.setChecked(on)

    def center_on(self, slow: int, fast: int, half_width: float = 25.0) -> None:
        """Zoom all (linked) panels onto pixel (slow, fast)."""
        self.panel_a.center_on(slow, fast, half_width)

    @Slot()
    def _on_mode_action(self) -> None:
        a = self.sender()
        if isinstance(a, QtGui.QAction):
            self.set_mode(a.data())

    @Slot()
    def _sync_mode_actions(self, *args) -> None:
        a = self.mode_actions.get(self.mode())
        if a is not None and not a.isChecked():
            a.setChecked(True)

    @Slot(int, int, QtCore.QPoint)
    def _on_context(self, slow: int, fast: int, where: QtCore.QPoint) -> None:
        menu = self.context_menu(slow, fast)
        menu.popup(where)

    def context_menu(self, slow: int, fast: int) -> QtWidgets.QMenu:
        """The right-click menu for pixel (slow, fast) (-1, -1: outside the image)."""
        menu = QtWidgets.QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if slow >= 0:
            inspect = menu.addAction(f"Inspect pixel (slow {slow}, fast {fast})")
            inspect.triggered.connect(lambda: self.pixelClicked.emit(slow, fast))
            centre = menu.addAction("Centre the view here")
            centre.triggered.connect(lambda: self.center_on(slow, fast))
            values = [f"{p.title}: {v:.6g}" for p in self.panels if (v := p.value_at(slow, fast)) is not None]
            copy = menu.addAction("Copy the values")
            text = f"slow {slow}\tfast {fast}\t" + "\t".join(values)
            copy.triggered.connect(lambda: QtWidgets.QApplication.clipboard().setText(text))
            row = menu.addAction(f"Profile of row {slow} (R)")
            row.triggered.connect(lambda: self.profile.row_at_cursor(slow))
            col = menu.addAction(f"Profile of column {fast} (C)")
            col.triggered.connect(lambda: self.profile.column_at_cursor(fast))
            line = menu.addAction("Draw a profile line (L)")
            line.triggered.connect(lambda: self.profile.draw_line_here())
            menu.addSeparator()
        menu.addAction(self.fit_action)
        menu.addAction(self.box_zoom_action)
        menu.addSeparator()
        for a in self.mode_actions.values():
            menu.addAction(a)
        menu.addSeparator()
        for a in self.compare.actions.values():
            menu.addAction(a)
        return menu
