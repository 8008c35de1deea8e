"""A banner over a view that shows data from an earlier command line or an interrupted run.

It is a child label laid over the top edge of the watched widget (it follows its resizes), so no view needs to
know about staleness: the window sets the banner's text from the run model's `stale` signal.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt


class StaleBanner(QtWidgets.QLabel):
    """Amber text over the top of `target`; empty text hides it."""

    def __init__(self, target: QtWidgets.QWidget):
        super().__init__(target)
        self.setObjectName("stale_banner")
        self.setStyleSheet("background: rgba(255, 214, 102, 235); color: #5a3d00; font-weight: bold; "
                           "padding: 3px 8px; border-bottom: 1px solid #b8860b;")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()
        target.installEventFilter(self)

    def set_reason(self, reason: str) -> None:
        """Show `reason` ("" hides the banner)."""
        self.setText(reason)
        self.setToolTip(reason)
        self.setVisible(bool(reason))
        if reason:
            self._place()
            self.raise_()

    def reason(self) -> str:
        return self.text() if self.isVisibleTo(self.parentWidget()) else ""

    def _place(self) -> None:
        parent = self.parentWidget()
        self.setGeometry(0, 0, parent.width(), self.sizeHint().height())

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QtCore.QEvent.Type.Resize and self.isVisibleTo(self.parentWidget()):
            self._place()
        return False
