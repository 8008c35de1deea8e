"""Open the real window as `nbparity gui` does (app.window.lifecycle.run_gui) and close it at a chosen moment.

    python gui_launcher.py MODE ENGINE_A ENGINE_B -- <nanoBragg args>

MODE run-close: the run starts at once; the window is closed 0.3 s after side A's engine reported its first
progress (the fake engine prints it once it runs and has written its pid).
MODE trace-close: nothing runs; pixel (slow 1, fast 2) is traced at once; the window is closed 0.3 s after
the fake engine of side A's trace has written its pid to $FAKE_PIDS (a trace reports no progress to wait on).
Prints "STARTED <t>" when the run or trace has started and "CLOSING <t>" just before close() (t: time.monotonic(),
the same clock in every process), then exits with run_gui's status.
"""
from __future__ import annotations

import os
import sys
import time

from PySide6 import QtCore

from app.window import lifecycle, main_window

CLOSE_AFTER_MS = 300


def say(word: str) -> None:
    print(f"{word} {time.monotonic():.6f}", flush=True)


def main(argv: list[str]) -> int:
    mode, a, b = argv[:3]
    nb_args = argv[argv.index("--") + 1:]
    base = main_window.MainWindow

    class Timed(base):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self._said = False
            if mode == "run-close":
                self.model.engine_progress.connect(self._started)
            else:
                self._pid_timer = QtCore.QTimer(self)
                self._pid_timer.setInterval(20)
                self._pid_timer.timeout.connect(self._check_pid)
                self.model.inspection_started.connect(self._pid_timer.start)
            if mode == "trace-close":
                QtCore.QTimer.singleShot(0, self._trace)

        @QtCore.Slot()
        def _trace(self) -> None:
            self.inspect_pixel(1, 2)

        @QtCore.Slot()
        def _check_pid(self) -> None:
            if os.path.exists(os.environ["FAKE_PIDS"]):
                self._pid_timer.stop()
                self._started()

        @QtCore.Slot()
        def _started(self, *_args) -> None:
            if self._said:
                return
            self._said = True
            say("STARTED")
            QtCore.QTimer.singleShot(CLOSE_AFTER_MS, self._close)

        @QtCore.Slot()
        def _close(self) -> None:
            say("CLOSING")
            self.close()

    main_window.MainWindow = Timed
    return lifecycle.run_gui(nb_args, None, autorun=(mode == "run-close"), leave_at_once=True, a=a, b=b)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
