"""Helpers for tests of the real window: a window factory, and waits on the run model's signals (no polling)."""
from __future__ import annotations

import os
from pathlib import Path

RUN_TIMEOUT_MS = 120_000


def make_window_factory(qtbot, tmp_path):
    """Factory: a MainWindow on a command line (None = demo) with throw-away settings; returns (make, made)."""
    from PySide6 import QtCore

    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    made = []

    def make(argv=None, c_binary=None):
        qs = QtCore.QSettings(str(tmp_path / f"settings{len(made)}.ini"), QtCore.QSettings.Format.IniFormat)
        w = MainWindow(argv, str(c_binary) if c_binary else None, settings=AppSettings(qs), install_hook=False)
        qtbot.addWidget(w)
        w.resize(1500, 950)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w
    return make, made


def wait_idle(qtbot, w, timeout=RUN_TIMEOUT_MS) -> None:
    """Until no engine, display, metrics, trace or export job is left (MainWindow.idle_reached)."""
    if not w.idle():
        with qtbot.waitSignal(w.idle_reached, timeout=timeout, check_params_cb=lambda *a: w.idle()):
            pass


def run_and_wait(qtbot, w, timeout=RUN_TIMEOUT_MS) -> None:
    """Press Run and wait for both engines (run_finished), then for the display plans and metrics."""
    with qtbot.waitSignal(w.model.run_finished, timeout=timeout):
        assert w.run()
    wait_idle(qtbot, w, timeout)
    a, b = w.model.outcome("a"), w.model.outcome("b")
    if a.ok and b.ok:
        assert w.model.metrics is not None


def inspect_and_wait(qtbot, w, slow, fast, timeout=RUN_TIMEOUT_MS):
    """Trace pixel (slow, fast) and wait for inspection_ready; returns the inspection."""
    with qtbot.waitSignal(w.model.inspection_ready, timeout=timeout) as blocker:
        assert w.inspect_pixel(slow, fast)
    wait_idle(qtbot, w, timeout)
    return blocker.args[0]


def demo_with(**changes) -> list[str]:
    """The demo command line with some flag values replaced (flag name without the dash → value)."""
    from app.core.demo import demo_argv
    argv = demo_argv()
    for flag, value in changes.items():
        i = argv.index(f"-{flag}")
        argv[i + 1] = str(value)
    return argv


def _processes() -> dict[int, tuple[int, str, set[str]]]:
    """pid -> (parent pid, state, program names in argv[0:2]) of every live process, from /proc."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(d.name)] = (int(fields[1]), fields[0], {Path(c.decode(errors="replace")).name for c in cmd[:2] if c})
    return table


def processes_named(name: str, under: int | None = None) -> list[int]:
    """Live (not zombie) processes whose program (argv[0] or a script in argv[1]) is called `name`; with `under`,
    only descendants of that pid (engines run under a supervisor, so they are grandchildren)."""
    table = _processes()

    def descends(pid: int) -> bool:
        seen = set()
        while pid in table and pid not in seen:
            seen.add(pid)
            pid = table[pid][0]
            if pid == under:
                return True
        return False
    return [pid for pid, (_pp, state, names) in table.items()
            if state != "Z" and name in names and (under is None or descends(pid))]


def my_children(name: str) -> list[int]:
    """Live descendants of this test process running a program called `name`."""
    return processes_named(name, os.getpid())


def shown_panels(qtbot, width: int = 1300, height: int = 500):
    """A bare ImagePanels widget (no window), shown at width x height px and exposed, owned by qtbot."""
    from app.widgets.image_panels import ImagePanels
    p = ImagePanels()
    qtbot.addWidget(p)
    p.resize(width, height)
    p.show()
    qtbot.waitExposed(p)
    return p


def laid_out(widget) -> bool:
    """True when Qt has no layout work left for `widget`: no visible child with its resize still pending
    (WA_PendingResizeEvent) and every pyqtgraph layout in the scenes it shows activated (QGraphicsLayout.isActivated
    is False from an invalidation until its posted LayoutRequest has been handled)."""
    from PySide6 import QtCore, QtWidgets
    for child in [widget, *widget.findChildren(QtWidgets.QWidget)]:
        if child.isVisible() and child.testAttribute(QtCore.Qt.WidgetAttribute.WA_PendingResizeEvent):
            return False
        if isinstance(child, QtWidgets.QGraphicsView) and child.isVisible() and child.scene() is not None:
            for item in child.scene().items():
                # QGraphicsWidget.layout unbound: pyqtgraph's GraphicsLayout hides the method behind an attribute
                lay = QtWidgets.QGraphicsWidget.layout(item) if isinstance(item, QtWidgets.QGraphicsWidget) else None
                if lay is not None and not lay.isActivated():
                    return False
    return True


def wait_laid_out(qtbot, widget, timeout: int = 5000) -> None:
    """Until the layout pass that a resize, show, hide or new content asked for is done (`laid_out`). Qt announces a
    layout pass with no signal, so this waits on its state (qtbot.waitUntil), never for a fixed time: the posted
    LayoutRequests are delivered first, then the state is checked, the event loop running in between."""
    from PySide6 import QtCore, QtWidgets

    def done() -> bool:
        QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest.value)
        return laid_out(widget)
    qtbot.waitUntil(done, timeout=timeout)
