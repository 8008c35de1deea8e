"""Retake the README screenshots under a virtual X server (run from the repository root):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py demo
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py engines
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py cli-flags-003
    xvfb-run -s "-screen 0 1366x768x24" .venv/bin/python docs/screenshots.py golden-vs-port

`demo` runs the built-in demo, traces the pixel of largest |A − B| (whole detector in view) and writes
docs/screenshot.png; `engines` does the same with side A = our C reference and side B = an external PyTorch port
started as a command (`cmd:python tests/support/fakes/fake_port.py`, the test suite's stand-in for a user's port, which
prints the §11.3 trace dialect) and writes docs/screenshot-engines.png; `cli-flags-003` runs the CLI-FLAGS-003
command (../shared/data/cli-flags-003), traces pixel (685, 1039) zoomed in, and writes
docs/screenshot-cli-flags-003.png; `golden-vs-port` runs the users' real engines (../shared/clients, built by
clients.py: the golden C build as side A, the port as side B) on CLI-FLAGS-003 in a 64 x 64 ROI around pixel
(685, 1039), traces that pixel, and writes docs/screenshot-golden-vs-port.png (the Plots tab) and
docs/screenshot-golden-vs-port-pipeline.png (the Pipeline tab) at the screen's 1366 x 768. The window fills the
screen; `import -window root` (ImageMagick) takes the picture (Qt's screen grab where ImageMagick is missing).
Settings are throw-away (a temporary INI file), so the picture shows the defaults.
"""
from __future__ import annotations

import os
import shutil
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

    def __init__(self, win, pixel, shots: list[tuple[Path, str]]):
        super().__init__()
        self.win, self.pixel = win, pixel
        self.shots = list(shots)   # (file, inspector tab to show first: "" for the default)
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
            self.show_tab(self.shots[0][1])
            QtCore.QTimer.singleShot(1500, self.shoot)

    @QtCore.Slot()
    def shoot(self) -> None:
        out, _tab = self.shots.pop(0)
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(out)], check=True)
        else:   # no ImageMagick: the screen as Qt sees it (the same pixels under Xvfb)
            QtWidgets.QApplication.primaryScreen().grabWindow(0).save(str(out))
        print(f"wrote {out}; status: {self.win.statusBar().currentMessage()}")
        if self.shots:
            self.show_tab(self.shots[0][1])
            QtCore.QTimer.singleShot(800, self.shoot)
            return
        self.rc = 0
        QtWidgets.QApplication.quit()

    def show_tab(self, name: str) -> None:
        tabs = self.win.inspector.tabs
        for i in range(tabs.count()):
            if tabs.tabText(i) == name:
                tabs.setCurrentIndex(i)

    @QtCore.Slot()
    def give_up(self) -> None:
        print(f"timed out in stage {self.stage}", file=sys.stderr)
        QtWidgets.QApplication.quit()


def main(which: str) -> int:
    from app.core.known_cases import CLI_FLAGS_003_PIXEL, cli_flags_003_args, roi_around
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings

    app = QtWidgets.QApplication(sys.argv[:1])
    tmp = tempfile.mkdtemp(prefix="nbparity-shot-")
    settings = AppSettings(QtCore.QSettings(os.path.join(tmp, "s.ini"), QtCore.QSettings.Format.IniFormat))
    if which == "demo":
        win = MainWindow(None, settings=settings, autorun=True)
        pixel, shots = None, [(REPO / "docs" / "screenshot.png", "")]
    elif which == "engines":
        from app.core.demo import demo_argv
        port = f"cmd:{sys.executable} {REPO / 'tests' / 'support' / 'fakes' / 'fake_port.py'}"
        win = MainWindow(demo_argv(), settings=settings, autorun=True, a="cref", b=port)
        pixel, shots = None, [(REPO / "docs" / "screenshot-engines.png", "")]
    elif which == "cli-flags-003":
        data = REPO.parent / "shared" / "data" / "cli-flags-003"
        win = MainWindow(cli_flags_003_args(data), settings=settings, autorun=True)
        pixel, shots = CLI_FLAGS_003_PIXEL, [(REPO / "docs" / "screenshot-cli-flags-003.png", "")]
    elif which == "golden-vs-port":
        sys.path.insert(0, str(REPO / "tests" / "support"))
        import clients  # the test suite's builder of the real clients (cached)
        data = REPO.parent / "shared" / "data" / "cli-flags-003"
        golden, port = clients.c_program("golden"), clients.port()
        win = MainWindow(cli_flags_003_args(data, roi=roi_around(*CLI_FLAGS_003_PIXEL, half=32)), settings=settings,
                         autorun=True, a=f"bin:{golden}", b=f"bin:{port.command}")
        pixel = CLI_FLAGS_003_PIXEL
        shots = [(REPO / "docs" / "screenshot-golden-vs-port.png", "Plots"),
                 (REPO / "docs" / "screenshot-golden-vs-port-pipeline.png", "Pipeline")]
    else:
        raise SystemExit(f"unknown screenshot {which!r}: expected demo, engines, cli-flags-003 or golden-vs-port")
    screen = app.primaryScreen().geometry()
    win.setGeometry(screen)
    win.show()
    driver = Driver(win, pixel, shots)
    app.exec()
    win.shutdown()
    return driver.rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "demo"))
