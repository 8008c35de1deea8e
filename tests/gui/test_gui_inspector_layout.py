"""The φ inspector is readable: plot sizes and label rectangles at 1366x768, its own window, enlarged plots, names."""
from __future__ import annotations

import itertools

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from gui_util import wait_laid_out  # noqa: E402

from test_gui_widgets import FakeInspection, make_trace  # noqa: E402

from tracing.records import PLOT_FIELDS  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def small_window(qtbot, tmp_path):
    """The real window (demo command line, not run) at 1366x768, showing a synthetic inspection."""
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(None, None, settings=AppSettings(qs), install_hook=False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    with qtbot.waitSignal(w.inspector.inspectionShown):
        w.inspector.show_inspection(FakeInspection(make_trace("c", dk0=0.018), make_trace("torch")))
    wait_laid_out(qtbot, w)  # one layout pass of the plots (no signal for it: its state is waited on)
    yield w
    w.shutdown()


def test_inspector_plots_keep_their_size_and_labels_never_overlap_at_1366x768(small_window):
    from app.widgets.inspector import MIN_PLOT_HEIGHT
    insp = small_window.inspector
    assert small_window.width() <= 1366 and small_window.height() <= 768
    plots = [insp.plots[f] for f in insp.plots_page.shown_fields] + [insp.delta_plot]
    assert len(plots) == 10   # both traces have all nine fields
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
    assert insp.curves[("k_frac", "b")].opts["name"] == "torch float64"
    headers = [insp.table.horizontalHeaderItem(c).text() for c in range(insp.table.columnCount())]
    assert "k_frac nanoBragg upstream" in headers and "Δk_frac (torch float64−nanoBragg upstream)" in headers
    dlg = insp.enlarge("delta")
    assert dlg.windowTitle().endswith("torch float64 − nanoBragg upstream: k (fractional)")
    dlg.close()


def test_maximise_gives_the_inspector_the_room_and_restores_the_layout(qtbot, small_window):
    insp = small_window.inspector
    before_h, before_sizes = insp.height(), small_window.splitter.sizes()
    insp.maximise_button.click()
    wait_laid_out(qtbot, small_window)
    assert insp.height() > 1.4 * before_h, (before_h, insp.height())
    assert not small_window.panels.isVisible()
    insp.maximise_button.click()
    wait_laid_out(qtbot, small_window)
    assert small_window.panels.isVisible() and small_window.splitter.sizes() == before_sizes


# Engine names as the registry makes them for the real clients (binary name + sha256 prefix).
GOLDEN_NAME, PORT_NAME = "nb_golden e7b3dae4", "nanobrag_torch_cmd 18772e75"


def k_only_trace(engine: str, n: int = 10):
    """A trace with k alone per φ tick (the golden C's TRACE_C_PHI before its F_latt columns were read)."""
    from tracing.records import PathKey, PhiSample, PixelTrace
    samples = [PhiSample(i, 0.1 * i, PathKey(), {"k_frac": -0.6 + 0.002 * i}) for i in range(n)]
    return PixelTrace(engine, 5, 7, samples=samples, dialect="golden")


def window_rect(w, insp, p) -> QtCore.QRect:
    """A plot item's rectangle in the main window's coordinates, px."""
    r = p.sceneBoundingRect()
    view = insp.graphics
    tl = view.viewport().mapTo(w, view.mapFromScene(r.topLeft()))
    br = view.viewport().mapTo(w, view.mapFromScene(r.bottomRight()))
    return QtCore.QRect(tl, br)


@pytest.mark.parametrize("case", ["golden vs port", "k only vs rich", "k only vs k only"])
def test_every_plot_lies_in_the_visible_area_at_1366x768(qtbot, tmp_path, case):
    """Only the fields a side traces get a plot, and each lies inside the plots' visible area: none is pushed past
    the right edge (issue 16: golden C vs the port laid out nine plots, six empty, and clipped k and F_latt b)."""
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(None, None, settings=AppSettings(qs), install_hook=False)
    qtbot.addWidget(w)
    try:
        w.resize(1366, 768)
        w.show()
        qtbot.waitExposed(w)
        insp = w.inspector
        insp.set_side_names(GOLDEN_NAME, PORT_NAME)
        a, b = {"golden vs port": (make_trace("c", dialect="golden"), make_trace("py", dialect="golden")),
                "k only vs rich": (k_only_trace("c"), make_trace("py")),
                "k only vs k only": (k_only_trace("c"), k_only_trace("py"))}[case]
        with qtbot.waitSignal(insp.inspectionShown):
            insp.show_inspection(FakeInspection(a, b))
        wait_laid_out(qtbot, w)  # one layout pass of the plots (no signal for it: its state is waited on)
        expected = {"golden vs port": ("k_frac", "F_latt_b", "F_latt"), "k only vs k only": ("k_frac",),
                    "k only vs rich": PLOT_FIELDS}[case]
        assert insp.plots_page.shown_fields == expected
        assert all(not insp.plots[f].isVisible() for f in PLOT_FIELDS if f not in expected)
        assert w.frameGeometry().width() <= 1366 + 8 and w.width() <= 1366
        vp = insp.plots_page.plots_scroll.viewport()
        visible = QtCore.QRect(vp.mapTo(w, QtCore.QPoint(0, 0)), vp.size())
        assert visible.right() < 1366
        plots = {f: insp.plots[f] for f in expected} | {"delta": insp.delta_plot}
        for name, p in plots.items():
            r = window_rect(w, insp, p)
            # Horizontally always inside the visible area (the page never scrolls sideways).
            assert r.left() >= visible.left() and r.right() <= visible.right() + 1, (name, r, visible)
            assert r.width() >= 100, (name, r)   # 55 px of value axis and room for the data
            if len(expected) <= 3:
                # Up to three fields fit one row with the difference plot: nothing to scroll to at 1366x768.
                assert r.top() >= visible.top() and r.bottom() <= visible.bottom() + 1, (name, r, visible)
        # Each curve is drawn inside its own plot: every data point maps into the plot's data area (a plot shown
        # after being left out once drew its curves with a stale transform, off its area).
        for name in expected:
            for eng in ("a", "b"):
                curve = insp.curves[(name, eng)]
                xs, ys = insp.curve_data(name, eng)
                area = insp.plots[name].getViewBox().sceneBoundingRect().adjusted(-1, -1, 1, 1)
                for x, y in zip(xs, ys, strict=True):
                    pt = curve.mapToScene(QtCore.QPointF(x, y))
                    assert area.contains(pt), (name, eng, x, y, pt, area)
        if len(expected) > 3:
            # Nine fields take rows of MIN_PLOT_HEIGHT that scroll vertically; the last one is reachable.
            bar = insp.plots_page.plots_scroll.verticalScrollBar()
            assert bar.maximum() > 0
            bar.setValue(bar.maximum())
            wait_laid_out(qtbot, w)
            r = window_rect(w, insp, insp.delta_plot)
            assert r.bottom() <= visible.bottom() + 1 and r.top() >= visible.top(), (r, visible)
        # A pan or zoom of one plot's φ range moves the other shown plots with it.
        insp.plots[expected[0]].setXRange(2.0, 5.0, padding=0)
        for name in expected[1:]:
            assert insp.plots[name].viewRange()[0] == pytest.approx([2.0, 5.0]), name
        # The titles say which side alone traces a field, by letter (the legend pairs letters and names).
        if case == "k only vs rich":
            assert "(only in B)" in insp.plots["h_frac"].titleLabel.text
            assert "only" not in insp.plots["k_frac"].titleLabel.text
            legend = insp.legend.text()
            assert f"A ● {GOLDEN_NAME}" in legend and f"B ▽ {PORT_NAME}" in legend
    finally:
        w.shutdown()
