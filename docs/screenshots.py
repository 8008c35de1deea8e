"""Retake the README screenshots under a virtual X server (run from the repository root):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py demo
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py cli-flags-003

`demo` runs the built-in demo, traces the pixel of largest |C − PyTorch| (whole detector in view) and writes
docs/screenshot.png; `cli-flags-003` runs the CLI-FLAGS-003 command (../shared/data/cli-flags-003), traces pixel
(685, 1039) zoomed in, and writes docs/screenshot-cli-flags-003.png. The window fills the 1600 x 1000 screen;
`import -window root` (ImageMagick) takes the picture. Settings are throw-away (a temporary INI file), so the
picture shows the defaults.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from PySide6 import QtCore, QtWidgets  # noqa: E402

TIMEOUT_S = 900


class Driver(QtCore.QObject):
    """Polls the window with a GUI-thread QTimer: run → wait → inspect → wait → screenshot → quit."""

    def __init__(self, win, pixel, out: Path):
        super().__init__()
        self.win, self.pixel, self.out = win, pixel, out
        self.stage = "run"
        self.t0 = time.monotonic()
        self.settle_until = 0.0
        self.rc = 1
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.step)
        self.timer.start()

    @QtCore.Slot()
    def step(self) -> None:
        w = self.win
        if time.monotonic() - self.t0 > TIMEOUT_S:
            print(f"timed out in stage {self.stage}", file=sys.stderr)
            QtWidgets.QApplication.quit()
            return
        if self.stage == "run":
            if w.c_outcome is not None and w.py_outcome is not None and w.idle() and w.display_ready:
                if not (w.c_outcome.ok and w.py_outcome.ok):
                    print(f"run failed: C {w.c_outcome.error}; PyTorch {w.py_outcome.error}", file=sys.stderr)
                if self.pixel is not None:
                    w.jump_to(*self.pixel)  # zoom in: one pixel of a 6-megapixel detector
                else:
                    w.inspect_pixel(*w.metrics_panel.max_pixel())  # the whole demo detector, marker on the pixel
                self.stage = "inspect"
        elif self.stage == "inspect":
            if w.inspector.inspection is not None and w.idle():
                self.stage = "settle"
                self.settle_until = time.monotonic() + 1.5
        elif self.stage == "settle" and time.monotonic() > self.settle_until:
            subprocess.run(["import", "-window", "root", str(self.out)], check=True)
            print(f"wrote {self.out}; status: {w.statusBar().currentMessage()}")
            self.rc = 0
            QtWidgets.QApplication.quit()


def main(which: str) -> int:
    from app.known_cases import CLI_FLAGS_003_PIXEL, cli_flags_003_args
    from app.main_window import MainWindow
    from app.settings import AppSettings

    app = QtWidgets.QApplication(sys.argv[:1])
    tmp = tempfile.mkdtemp(prefix="nbparity-shot-")
    settings = AppSettings(QtCore.QSettings(os.path.join(tmp, "s.ini"), QtCore.QSettings.Format.IniFormat))
    if which == "demo":
        win = MainWindow(None, settings=settings, autorun=True)
        pixel, out = None, REPO / "docs" / "screenshot.png"
    elif which == "cli-flags-003":
        data = REPO.parent / "shared" / "data" / "cli-flags-003"
        win = MainWindow(cli_flags_003_args(data), settings=settings, autorun=True)
        pixel, out = CLI_FLAGS_003_PIXEL, REPO / "docs" / "screenshot-cli-flags-003.png"
    else:
        raise SystemExit(f"unknown screenshot {which!r}: expected demo or cli-flags-003")
    screen = app.primaryScreen().geometry()
    win.setGeometry(screen)
    win.show()
    driver = Driver(win, pixel, out)
    app.exec()
    win.shutdown()
    return driver.rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "demo"))
