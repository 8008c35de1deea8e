"""Retake the README screenshots under a virtual X server (run from the repository root):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py demo
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py engines
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py cli-flags-003

`demo` runs the built-in demo, traces the pixel of largest |A − B| (whole detector in view) and writes
docs/screenshot.png; `engines` does the same with side A = our C reference and side B = an external PyTorch port
started as a command (`cmd:python tests/fakes/fake_port.py`, the test suite's stand-in for a user's port, which
prints the §11.3 trace dialect) and writes docs/screenshot-engines.png; `cli-flags-003` runs the CLI-FLAGS-003
command (../shared/data/cli-flags-003), traces pixel (685, 1039) zoomed in, and writes
docs/screenshot-cli-flags-003.png. The window fills the 1600 x 1000 screen; `import -window root` (ImageMagick)
takes the picture. Settings are throw-away (a temporary INI file), so the picture shows the defaults.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from PySide6 import QtCore, QtWidgets  # noqa: E402

TIMEOUT_S = 900


class Driver(QtCore.QObject):
    """Follows the run model's signals: run finished → idle → inspect → idle → settle → screenshot → quit."""

    def __init__(self, win, pixel, out: Path):
        super().__init__()
        self.win, self.pixel, self.out = win, pixel, out
        self.stage = "run"
        self.rc = 1
        win.idle_reached.connect(self.on_idle)
        QtCore.QTimer.singleShot(TIMEOUT_S * 1000, self.give_up)

    @QtCore.Slot()
    def on_idle(self) -> None:
        w = self.win
        a, b = w.model.outcome("a"), w.model.outcome("b")
        if self.stage == "run" and a is not None and b is not None:
            if not (a.ok and b.ok):
                print(f"run failed: {w.names[0]} {a.error}; {w.names[1]} {b.error}", file=sys.stderr)
            self.stage = "inspect"
            if self.pixel is not None:
                w.jump_to(*self.pixel)  # zoom in: one pixel of a 6-megapixel detector
            else:
                w.inspect_pixel(*w.metrics_panel.max_pixel())  # the whole demo detector, marker on the pixel
        elif self.stage == "inspect" and w.inspector.inspection is not None:
            self.stage = "settle"
            QtCore.QTimer.singleShot(1500, self.shoot)

    @QtCore.Slot()
    def shoot(self) -> None:
        subprocess.run(["import", "-window", "root", str(self.out)], check=True)
        print(f"wrote {self.out}; status: {self.win.statusBar().currentMessage()}")
        self.rc = 0
        QtWidgets.QApplication.quit()

    @QtCore.Slot()
    def give_up(self) -> None:
        print(f"timed out in stage {self.stage}", file=sys.stderr)
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
    elif which == "engines":
        from app.demo import demo_argv
        port = f"cmd:{sys.executable} {REPO / 'tests' / 'fakes' / 'fake_port.py'}"
        win = MainWindow(demo_argv(), settings=settings, autorun=True, a="cref", b=port)
        pixel, out = None, REPO / "docs" / "screenshot-engines.png"
    elif which == "cli-flags-003":
        data = REPO.parent / "shared" / "data" / "cli-flags-003"
        win = MainWindow(cli_flags_003_args(data), settings=settings, autorun=True)
        pixel, out = CLI_FLAGS_003_PIXEL, REPO / "docs" / "screenshot-cli-flags-003.png"
    else:
        raise SystemExit(f"unknown screenshot {which!r}: expected demo, engines or cli-flags-003")
    screen = app.primaryScreen().geometry()
    win.setGeometry(screen)
    win.show()
    driver = Driver(win, pixel, out)
    app.exec()
    win.shutdown()
    return driver.rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "demo"))
