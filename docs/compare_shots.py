"""Screenshots of the compare modes, a line profile and the rings with predicted reflections on CLI-FLAGS-003
(side A our C reference, side B our PyTorch engine) at 1366 x 768. Run from the repository root:

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python docs/compare_shots.py [SNAPSHOT_PARENT]

Writes docs/compare-swipe.png, docs/compare-overlay.png, docs/compare-profile.png, docs/compare-rings.png (whole
detector) and docs/compare-spots.png (zoomed on reflection 2 2 -13), the window as Qt draws it (QWidget.grab), and
a snapshot taken in the swipe mode with the profile drawn (its panel_compare.png, profile.csv and profile.png)
under SNAPSHOT_PARENT (default: a temporary folder; the path is printed). Driven by the run model's signals;
settings are throw-away (defaults shown).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from PySide6 import QtCore, QtWidgets  # noqa: E402

SETTLE_MS = 1500
SPOT = (1039, 685)      # (slow, fast): the strongest predicted reflection, (2 2 -13)


class Driver(QtCore.QObject):
    """run finished → idle → each picture in turn (a timer lets the view settle) → snapshot → rings → quit."""

    def __init__(self, win, snap_parent: Path):
        super().__init__()
        self.win, self.snap_parent = win, snap_parent
        self.stage = "run"
        self.rc = 1
        win.idle_reached.connect(self.on_idle)
        win.model.exported.connect(self.on_exported)
        win.panels.marks.ready.connect(self.on_marks)
        QtCore.QTimer.singleShot(30 * 60 * 1000, self.give_up)

    def grab(self, name: str) -> None:
        out = REPO / "docs" / name
        self.win.grab().save(str(out), "PNG")
        print(f"wrote {out}", flush=True)

    @QtCore.Slot()
    def on_idle(self) -> None:
        w = self.win
        if self.stage == "run" and w.model.outcome("a") is not None and w.model.outcome("b") is not None:
            print("run done:", w.statusBar().currentMessage(), flush=True)
            self.stage = "swipe"
            w.panels.center_on(*SPOT, half_width=40)
            w.panels.set_compare_mode("swipe_v")
            w.panels.compare.set_split(SPOT[1] + 3.0)
            w.panels.hovered.emit(*SPOT)   # the readout line as if the cursor were on the spot
            QtCore.QTimer.singleShot(SETTLE_MS, self.step)

    @QtCore.Slot()
    def step(self) -> None:
        w, p = self.win, self.win.panels
        if self.stage == "swipe":
            self.grab("compare-swipe.png")
            self.stage = "overlay"
            p.set_compare_mode("overlay")
            QtCore.QTimer.singleShot(SETTLE_MS, self.step)
        elif self.stage == "overlay":
            self.grab("compare-overlay.png")
            self.stage = "profile"
            p.set_compare_mode("diff")
            p.profile.draw_line_here(p.panel_a)
            p.profile.set_roi_ends((SPOT[1] - 25.0, SPOT[0] + 0.5), (SPOT[1] + 25.0, SPOT[0] + 0.5))
            QtCore.QTimer.singleShot(SETTLE_MS, self.step)
        elif self.stage == "profile":
            self.grab("compare-profile.png")
            self.stage = "export"
            p.set_compare_mode("swipe_v")
            w.export_snapshot(self.snap_parent)

    @QtCore.Slot(object)
    def on_exported(self, path) -> None:
        print(f"snapshot {path}: {sorted(os.listdir(path))}", flush=True)
        p = self.win.panels
        self.stage = "rings"
        p.profile.clear()
        self.win.profile_dock.hide()
        p.set_compare_mode("side")   # side by side: A and B larger
        p.fit_view()
        p.marks.d_edit.setText("4 3 2")
        p.marks.rings_action.setChecked(True)
        p.marks.spots_action.setChecked(True)   # marks.ready follows when both are computed

    @QtCore.Slot()
    def on_marks(self) -> None:
        m = self.win.panels.marks
        if self.stage == "rings" and m.spots and m.rings:
            print(f"{len(m.spots)} predicted reflections, rings at {[round(r[0], 2) for r in m.rings]} Å", flush=True)
            self.stage = "rings-shot"
            self.win.panels.hovered.emit(*SPOT)
            QtCore.QTimer.singleShot(SETTLE_MS, self.final)

    @QtCore.Slot()
    def final(self) -> None:
        if self.stage == "rings-shot":
            self.grab("compare-rings.png")
            self.stage = "spots-shot"
            self.win.panels.center_on(*SPOT, half_width=120)   # few spots in view: their h k l show
            self.win.panels.hovered.emit(*SPOT)
            QtCore.QTimer.singleShot(SETTLE_MS, self.final)
            return
        self.grab("compare-spots.png")
        print("readout:", self.win.readout.text(), flush=True)
        self.rc = 0
        QtWidgets.QApplication.quit()

    @QtCore.Slot()
    def give_up(self) -> None:
        print(f"timed out in stage {self.stage}", file=sys.stderr)
        QtWidgets.QApplication.quit()


def main() -> int:
    from app.core.known_cases import cli_flags_003_args
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings

    app = QtWidgets.QApplication(sys.argv[:1])
    tmp = tempfile.mkdtemp(prefix="nbparity-shot-")
    snap_parent = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
    settings = AppSettings(QtCore.QSettings(os.path.join(tmp, "s.ini"), QtCore.QSettings.Format.IniFormat))
    data = REPO.parent / "shared" / "data" / "cli-flags-003"
    win = MainWindow(cli_flags_003_args(data), settings=settings, autorun=True, a="cref", b="torch")
    win.setGeometry(0, 0, 1366, 768)
    win.show()
    driver = Driver(win, snap_parent)
    app.exec()
    win.shutdown()
    return driver.rc


if __name__ == "__main__":
    raise SystemExit(main())
