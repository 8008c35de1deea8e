"""Screenshots of the window on CLI-FLAGS-003 at 1920x1080 and 1366x768 after inspecting pixel (685, 1039), and a
snapshot of that state (for its report.html). Run from the repository root under a virtual X server:

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python docs/window_shots.py [SNAPSHOT_PARENT]

Writes docs/window-1920x1080-cli-flags-003.png and docs/window-1366x768-cli-flags-003.png (ImageMagick's
`import -window root`, cropped to the window), and a snapshot folder under SNAPSHOT_PARENT (default: a temporary
folder; its path is printed). Driven by the run model's signals; settings are throw-away (defaults shown).
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

SETTLE_MS = 2000
SIZES = ((1920, 1080), (1366, 768))


class Driver(QtCore.QObject):
    """run finished → idle → inspect the pixel → idle → photograph each size → export → quit."""

    def __init__(self, win, pixel, snap_parent: Path):
        super().__init__()
        self.win, self.pixel, self.snap_parent = win, pixel, snap_parent
        self.stage = "run"
        self.sizes = list(SIZES)
        self.rc = 1
        win.idle_reached.connect(self.on_idle)
        win.model.exported.connect(self.on_exported)
        QtCore.QTimer.singleShot(30 * 60 * 1000, self.give_up)

    @QtCore.Slot()
    def on_idle(self) -> None:
        w = self.win
        if self.stage == "run" and w.model.outcome("a") is not None and w.model.outcome("b") is not None:
            self.stage = "inspect"
            print("run done:", w.statusBar().currentMessage(), flush=True)
            w.jump_to(*self.pixel)
        elif self.stage == "inspect" and w.inspector.inspection is not None:
            self.stage = "shots"
            QtCore.QTimer.singleShot(SETTLE_MS, self.shoot)

    @QtCore.Slot()
    def shoot(self) -> None:
        width, height = self.sizes.pop(0)
        out = REPO / "docs" / f"window-{width}x{height}-cli-flags-003.png"
        subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+0+0", "+repage", str(out)],
                       check=True)
        print(f"wrote {out}", flush=True)
        if self.sizes:
            w, h = self.sizes[0]
            self.win.setGeometry(0, 0, w, h)
            self.win.panels.center_on(*self.pixel)
            QtCore.QTimer.singleShot(SETTLE_MS, self.shoot)
        else:
            self.stage = "export"
            self.win.export_snapshot(self.snap_parent)

    @QtCore.Slot(object)
    def on_exported(self, path) -> None:
        print(f"snapshot {path}", flush=True)
        self.rc = 0
        QtWidgets.QApplication.quit()

    @QtCore.Slot()
    def give_up(self) -> None:
        print(f"timed out in stage {self.stage}", file=sys.stderr)
        QtWidgets.QApplication.quit()


def main() -> int:
    from app.core.known_cases import CLI_FLAGS_003_PIXEL, cli_flags_003_args
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings

    app = QtWidgets.QApplication(sys.argv[:1])
    tmp = tempfile.mkdtemp(prefix="nbparity-shot-")
    snap_parent = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
    settings = AppSettings(QtCore.QSettings(os.path.join(tmp, "s.ini"), QtCore.QSettings.Format.IniFormat))
    data = REPO.parent / "shared" / "data" / "cli-flags-003"
    win = MainWindow(cli_flags_003_args(data), settings=settings, autorun=True)
    win.setGeometry(0, 0, *SIZES[0])
    win.show()
    driver = Driver(win, CLI_FLAGS_003_PIXEL, snap_parent)
    app.exec()
    win.shutdown()
    return driver.rc


if __name__ == "__main__":
    raise SystemExit(main())
