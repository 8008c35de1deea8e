"""Python's cyclic garbage collection only in the GUI thread, on a timer.

Qt objects (pyqtgraph's items, plots and views among them) must be destroyed in the thread that owns them. With
automatic collection, a collection starts in whichever thread happens to allocate: the engine, display-plan, metrics
and trace workers allocate a great deal, so a cycle holding a widget's Python side could be torn down there, with
the GUI thread in the middle of painting the same scene (a crash inside QGraphicsScene, or threads waiting on each
other's locks). Here automatic collection is switched off once the window exists, and a timer in the GUI thread
collects the generations whose counts passed Python's own thresholds, so collection still happens as often as the
allocations call for it, only never in a worker.
"""
from __future__ import annotations

import gc

from PySide6 import QtCore
from PySide6.QtCore import Signal, Slot

INTERVAL_MS = 500
NAME = "nbparity-gui-gc"


class GuiThreadCollector(QtCore.QObject):
    """Child of the QApplication: gc disabled, generations collected by a GUI-thread timer when due.

    Signal collected(int): after a check that collected something, the number of unreachable objects found."""

    collected = Signal(int)

    def __init__(self, app: QtCore.QCoreApplication, interval_ms: int = INTERVAL_MS):
        super().__init__(app)
        self.setObjectName(NAME)
        self.threshold = gc.get_threshold()
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        gc.disable()
        self.timer.start(interval_ms)

    @Slot()
    def collect_due(self) -> int:
        """Collect generation 0, and the older ones in turn when their counts passed the thresholds (as Python's
        automatic collection decides); the number of unreachable objects found."""
        counts = gc.get_count()
        found = 0
        for gen in range(3):
            if counts[gen] <= self.threshold[gen]:
                break
            found += gc.collect(gen)
        if found:
            self.collected.emit(found)
        return found


def install(app: QtCore.QCoreApplication | None = None) -> GuiThreadCollector | None:
    """The application's collector, made on the first call (None without a QApplication), with automatic collection
    switched off (again: whatever switched it on since). Call from the GUI thread."""
    app = app if app is not None else QtCore.QCoreApplication.instance()
    if app is None:
        return None
    found = app.findChild(GuiThreadCollector, NAME)
    if found is None:
        return GuiThreadCollector(app)
    gc.disable()
    return found
