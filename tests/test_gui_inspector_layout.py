"""The φ inspector is readable: plot sizes and label rectangles at 1366x768, its own window, enlarged plots, names."""
from __future__ import annotations

import itertools

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from test_gui_widgets import FakeInspection, make_trace  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def small_window(qtbot, tmp_path):
    """The real window (demo command line, not run) at 1366x768, showing a synthetic inspection."""
    from app.main_window import MainWindow
    from app.settings import AppSettings
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(None, None, settings=AppSettings(qs), install_hook=False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    with qtbot.waitSignal(w.inspector.inspectionShown):
        w.inspector.show_inspection(FakeInspection(make_trace("c", dk0=0.018), make_trace("torch")))
    qtbot.wait(50)  # one layout pass of the plots
    yield w
    w.shutdown()


def test_inspector_plots_keep_their_size_and_labels_never_overlap_at_1366x768(small_window):
    from app.inspector import MIN_PLOT_HEIGHT
    insp = small_window.inspector
    assert small_window.width() <= 1366 and small_window.height() <= 768
    plots = list(insp.plots.values()) + [insp.delta_plot]
    for p in plots:
        # The whole small plot (title, axes, data) is at least MIN_PLOT_HEIGHT px tall; its data area at least half.
        assert p.sceneBoundingRect().height() >= MIN_PLOT_HEIGHT - 1, p.titleLabel.text
        assert p.getViewBox().sceneBoundingRect().height() >= MIN_PLOT_HEIGHT / 2 - 10
    # No label rectangle (titles, value axes, tick axes) of one plot meets one of another plot.
    rects = [[p.titleLabel.sceneBoundingRect(), p.getAxis("left").sceneBoundingRect(),
              p.getAxis("bottom").sceneBoundingRect()] for p in plots]
    for (i, ri), (j, rj) in itertools.combinations(enumerate(rects), 2):
        for a in ri:
            for b in rj:
                inter = a.intersected(b)
                assert inter.width() <= 0.5 or inter.height() <= 0.5, (i, j, a, b)


def test_inspector_own_window_and_enlarged_plot(qtbot, small_window):
    insp = small_window.inspector
    insp.own_window_button.click()
    assert insp.own_window is not None and insp.own_window.isVisible()
    assert insp.content.window() is insp.own_window and insp.placeholder.isVisibleTo(insp)
    insp.own_window.close()   # closing it brings the inspector back
    assert insp.own_window is None and insp.content.window() is small_window
    assert not insp.own_window_button.isChecked()
    # A double-click on a small plot opens it large, with both sides' curves, a legend and the divergence line.
    p = insp.plots["k_frac"]
    class DoubleClick:  # what pyqtgraph's scene hands sigMouseClicked for a double click
        def double(self):
            return True

        def button(self):
            return QtCore.Qt.MouseButton.LeftButton

        def scenePos(self):  # noqa: N802
            return p.getViewBox().sceneBoundingRect().center()
    insp.graphics.scene().sigMouseClicked.emit(DoubleClick())
    assert len(insp.enlarged) == 1
    dlg = insp.enlarged[0]
    assert dlg.isVisible() and dlg.width() >= 800 and dlg.height() >= 500
    assert "k (fractional)" in dlg.windowTitle()
    import pyqtgraph as pg
    big = dlg.findChild(pg.PlotWidget).getPlotItem()
    assert [it.opts["name"] for it in big.listDataItems()] == list(insp.side_names)   # both engines' names
    assert len(big.legend.items) == 2
    assert any(isinstance(it, pg.InfiniteLine) and it.value() == 0 for it in big.items)  # divergence at tick 0
    dlg.close()


def test_legend_and_table_name_both_sides(small_window):
    insp = small_window.inspector
    a, b = insp.side_names
    assert a in insp.legend.text() and b in insp.legend.text()
    insp.set_side_names("nanoBragg upstream", "torch float64")
    assert "nanoBragg upstream" in insp.legend.text() and "torch float64" in insp.legend.text()
    assert insp.curves[("k_frac", "py")].opts["name"] == "torch float64"
    headers = [insp.table.horizontalHeaderItem(c).text() for c in range(insp.table.columnCount())]
    assert "k_frac nanoBragg upstream" in headers and "Δk_frac (torch float64−nanoBragg upstream)" in headers
    dlg = insp.enlarge("delta")
    assert dlg.windowTitle().endswith("torch float64 − nanoBragg upstream: k (fractional)")
    dlg.close()


def test_maximise_gives_the_inspector_the_room_and_restores_the_layout(qtbot, small_window):
    insp = small_window.inspector
    before_h, before_sizes = insp.height(), small_window.splitter.sizes()
    insp.maximise_button.click()
    qtbot.wait(20)
    assert insp.height() > 1.4 * before_h, (before_h, insp.height())
    assert not small_window.panels.isVisible()
    insp.maximise_button.click()
    qtbot.wait(20)
    assert small_window.panels.isVisible() and small_window.splitter.sizes() == before_sizes
