"""How the window's process ends: Unix signals reach the Qt event loop, and nothing outlives the program.

SIGINT (Ctrl-C), SIGTERM and SIGHUP close the window exactly as its close button does (exit status 0). Python
runs signal handlers only between bytecodes of the main thread, which sits inside Qt's C++ event loop: so the
handler's C half writes the signal number to a socket (`signal.set_wakeup_fd`) that a QSocketNotifier watches, and
the event loop wakes up and emits `SignalRelay.received` on the GUI thread.

`run_gui` opens the window and, once the event loop has returned, makes sure the process ends now: every job was
cancelled by the window's close (engine process groups killed by their drivers, which ends those threads, and their
scratch folders removed). If an in-process computation is still finishing after the bounded wait, the process
leaves without waiting for it (`os._exit` after flushing), since such a thread holds no child process or scratch
folder. With `leave_at_once` (what `nbparity gui` asks for) it always leaves that way once everything is closed:
the interpreter's own teardown with torch loaded takes seconds on a busy machine (2.3 s measured for `import
torch` plus one matmul), and there is nothing left for it to do (settings synced, logs and streams flushed).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys

from PySide6 import QtCore
from PySide6.QtCore import Signal, Slot

log = logging.getLogger(__name__)
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalRelay(QtCore.QObject):
    """Turns SIGINT/SIGTERM/SIGHUP into `received(signum)` on the GUI thread while installed."""

    received = Signal(int)

    def __init__(self, signals: tuple[int, ...] = HANDLED, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._rsock, self._wsock = socket.socketpair()
        for s in (self._rsock, self._wsock):
            s.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._wsock.fileno())
        # A Python-level handler must be installed for the C handler to write to the wakeup fd; the work happens
        # in _on_readable, on the event loop.
        self._old = {s: signal.signal(s, _noop) for s in signals}
        self._notifier = QtCore.QSocketNotifier(self._rsock.fileno(), QtCore.QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_readable)

    @Slot()
    def _on_readable(self, *_args) -> None:
        try:
            data = self._rsock.recv(64)
        except OSError:
            return
        for signum in data:
            log.info("signal %s received: closing", signal.Signals(signum).name)
            self.received.emit(int(signum))

    def uninstall(self) -> None:
        """Restore the previous handlers and wakeup fd."""
        if self._notifier is None:
            return
        self._notifier.setEnabled(False)
        self._notifier = None
        for s, old in self._old.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._old_fd)
        self._rsock.close()
        self._wsock.close()


def _noop(_signum, _frame) -> None:
    pass


def run_gui(argv: list[str] | None = None, c_binary: str | None = None, *, autorun: bool = True,
            leave_at_once: bool = False, bundle: tuple | None = None, **window_kw) -> int:
    """Open the window (argv None → the demo), run it at once unless `autorun` is False, and return the exit code
    once it has closed (with `leave_at_once`, end the process with it instead; see the module docstring).
    window_kw: MainWindow's (a=, b= ENGINE spellings). bundle: (folder, ComparisonRecord) to show instead of a
    run (app.window.bundle_view)."""
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6 import QtWidgets

    from app.window import main_window
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("nbparity")
    app.setApplicationName("nbparity")
    relay = SignalRelay()
    try:
        win = main_window.MainWindow(argv, c_binary, autorun=autorun, **window_kw)
        if bundle is not None:  # (folder, ComparisonRecord): `nbparity gui --bundle DIR`, shown without a run
            from app.window.bundle_view import show_bundle
            show_bundle(win, *bundle)
        relay.received.connect(win.close_on_signal)
        win.show()
        code = int(app.exec())
        all_ended = win.shutdown()
    finally:
        relay.uninstall()
    if leave_at_once or not all_ended:
        # An in-process computation (a torch render or trace) may still be finishing: it owns no process or
        # folder, and waiting for it (or for the interpreter's teardown) would break the promise to close at once.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
