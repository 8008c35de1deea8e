"""Unexpected errors: a readable dialog (message first, traceback collapsed under "Show Details") and a log file.

`install_excepthook(parent)` replaces sys.excepthook for the life of the window. Every unexpected exception is
appended to `<cache dir>/nbparity/errors.log` with a timestamp, and the dialog names that file.
"""
from __future__ import annotations

import datetime as _dt
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6 import QtCore, QtWidgets


def log_dir() -> Path:
    """The user's cache folder for nbparity (created on demand)."""
    base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.GenericCacheLocation)
    path = Path(base or Path.home() / ".cache") / "nbparity"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_file() -> Path:
    return log_dir() / "errors.log"


def friendly_message(exc: BaseException) -> str:
    """One or two sentences for the dialog's main text: what happened, in words, without a traceback."""
    name = type(exc).__name__
    text = str(exc).strip() or "(no message)"
    if isinstance(exc, MemoryError):
        return "The program ran out of memory. Try a smaller detector, fewer φ steps, or float32."
    if isinstance(exc, OSError):
        return f"A file operation failed: {text}"
    return f"Something went wrong inside nbparity ({name}): {text}"


def write_log(exc_type, exc: BaseException, tb: TracebackType | None) -> Path | None:
    """Append the traceback to the log file; None when even that fails (never raise from the hook)."""
    try:
        path = log_file()
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {_dt.datetime.now().isoformat(timespec='seconds')} ---\n")
            fh.write("".join(traceback.format_exception(exc_type, exc, tb)))
            fh.write("\n")
        return path
    except Exception:  # noqa: BLE001
        return None


def show_error_dialog(parent: QtWidgets.QWidget | None, title: str, message: str, details: str = "",
                      log_path: Path | None = None) -> QtWidgets.QMessageBox:
    """Non-blocking error box: `message` as the text, `details` collapsed (Show Details…)."""
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    info = "The program keeps running; you can continue or save a snapshot."
    if log_path is not None:
        info += f"\nDetails were written to {log_path}."
    box.setInformativeText(info)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class ExceptionHook(QtCore.QObject):
    """sys.excepthook replacement; shows dialogs on the GUI thread (exceptions from other threads are queued)."""

    raised = QtCore.Signal(str, str, str)

    def __init__(self, parent: QtWidgets.QWidget | None):
        super().__init__(parent)
        self._parent = parent
        self._previous = sys.excepthook
        self.raised.connect(self._show, QtCore.Qt.ConnectionType.QueuedConnection)
        self.last_dialog: QtWidgets.QMessageBox | None = None

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous(exc_type, exc, tb)
            return
        path = write_log(exc_type, exc, tb)
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.raised.emit(friendly_message(exc), details, str(path) if path else "")

    @QtCore.Slot(str, str, str)
    def _show(self, message: str, details: str, path: str) -> None:
        self.last_dialog = show_error_dialog(self._parent, "nbparity: unexpected error", message, details,
                                             Path(path) if path else None)

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous


def install_excepthook(parent: QtWidgets.QWidget | None) -> ExceptionHook:
    hook = ExceptionHook(parent)
    sys.excepthook = hook
    return hook
