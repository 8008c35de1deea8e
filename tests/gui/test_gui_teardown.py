"""Every graphics view goes with the widget it serves (the CI crash of stop 23).

A pyqtgraph scene whose widget has no Qt parent outlives the widget it serves once that is deleted, held only by
Python references. When those are reference cycles, the cyclic garbage collector tears the scene down at a random
moment (inside a later test's event processing, or at interpreter exit): it clears the items' Python attributes
first and deletes the C++ objects after, while Qt still calls the items' Python overrides (`sizeHint`,
`boundingRect`) on half-cleared objects: an AttributeError at best, a segmentation fault at worst (`make test`
ended with signal 11 after "1326 passed").

So each test checks ownership, which does not depend on when the collector runs: every graphics view a widget made
has that widget among its Qt ancestors, and is deleted with it, deterministically.
"""
from __future__ import annotations

import gc

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402

pytestmark = pytest.mark.gui


def _views() -> set[int]:
    import shiboken6
    return {id(o) for o in gc.get_objects()
            if issubclass(type(o), QtWidgets.QGraphicsView) and shiboken6.isValid(o)}


def _orphans(owner: QtCore.QObject, before: set[int]) -> list[str]:
    """Graphics views made since `before` whose chain of Qt parents does not reach `owner`."""
    import shiboken6
    out = []
    for o in gc.get_objects():
        if issubclass(type(o), QtWidgets.QGraphicsView) and id(o) not in before and shiboken6.isValid(o):
            p = o
            while p is not None and p is not owner:
                p = p.parent()
            if p is None:
                out.append(f"{type(o).__name__} in {type(o.parent()).__name__ if o.parent() else 'no parent'}")
    return out


def _delete(widget: QtWidgets.QWidget) -> None:
    widget.close()
    widget.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)


def test_image_panels_own_their_profile_plot(qtbot):
    """The line-profile plot (a GraphicsLayoutWidget) was a parentless widget until a window docked it."""
    from app.widgets.image_panels import ImagePanels
    before = _views()
    panels = ImagePanels()   # not given to qtbot: the test deletes it itself
    panels.show()
    assert _orphans(panels, before) == []
    assert panels.profile.plot.isHidden()   # a child of the panels, not drawn over them
    _delete(panels)


def test_window_docks_the_profile_plot_visible(qtbot, make_window, c_binary):
    """Docked, the plot is shown again (it was hidden only while it was the panels' child)."""
    before = _views()
    w = make_window(None, c_binary)
    assert _orphans(w, before) == []
    w.profile_dock.show()
    assert w.profile_dock.widget() is w.panels.profile.plot and w.panels.profile.plot.isVisibleTo(w.profile_dock)


def test_inspector_owns_its_own_window(qtbot):
    """The inspector's own top-level window (with its plots' scene) was parentless too."""
    from app.widgets.inspector import PhiInspector
    before = _views()
    insp = PhiInspector()
    insp.show()
    insp.set_own_window(True)
    assert insp.own_window is not None and insp.own_window.isWindow()
    assert _orphans(insp, before) == []
    _delete(insp)


def test_garbage_is_collected_in_the_gui_thread_only(qtbot, make_window):
    """Issue 19 (threads of the run and display): once a window exists, automatic collection is off (a worker
    allocating thousands of cycles collects nothing) and the GUI thread's timer collects them: its `collected`
    signal reports at least the 5,000 cycles a worker thread made, and the collection ran in the GUI thread."""
    import gc
    import threading

    from PySide6 import QtCore, QtWidgets

    from app.qt import gui_gc

    make_window()
    collector = gui_gc.install()
    assert collector is not None and collector is gui_gc.install()      # one per application
    assert not gc.isenabled()
    gc.collect()
    seen_threads: list[bool] = []
    collector.collected.connect(
        lambda _n: seen_threads.append(QtCore.QThread.currentThread() is QtWidgets.QApplication.instance().thread()))

    def make_cycles() -> None:
        for _ in range(5_000):
            a: list = []
            a.append(a)

    before = gc.get_count()[0]
    worker = threading.Thread(target=make_cycles)
    worker.start()
    worker.join()
    assert gc.get_count()[0] >= before + 5_000       # nothing collected them in the worker
    with qtbot.waitSignal(collector.collected, timeout=10_000,
                          check_params_cb=lambda n: n >= 5_000) as blocker:
        pass
    assert blocker.args[0] >= 5_000 and seen_threads and all(seen_threads)
