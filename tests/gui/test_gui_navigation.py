"""Navigation in the image panels: fit view, zoom limits, box zoom, context menu, single-key difference modes."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

pytestmark = pytest.mark.gui

S_N, F_N = 200, 300   # slow, fast: a wide image, so the fit is tight on the fast axis


@pytest.fixture
def panels(qtbot):
    from app.widgets.image_panels import ImagePanels
    p = ImagePanels()
    qtbot.addWidget(p)
    p.resize(1200, 500)
    p.show()
    qtbot.waitExposed(p)
    c = np.zeros((S_N, F_N), np.float32)
    c[50, 60] = 1000.0
    py = c.copy()
    py[50, 60] = 900.0
    p.set_images(c, py)
    return p


def wheel(panel, steps: int) -> None:
    """Real wheel events over the centre of a panel's view (negative steps zoom out)."""
    view = panel.graphics.viewport()
    pos = QtCore.QPointF(view.width() / 2, view.height() / 2)
    for _ in range(abs(steps)):
        ev = QtGui.QWheelEvent(pos, view.mapToGlobal(pos), QtCore.QPoint(0, 0),
                               QtCore.QPoint(0, 120 if steps > 0 else -120), QtCore.Qt.MouseButton.NoButton,
                               QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.ScrollPhase.NoScrollPhase, False)
        QtWidgets.QApplication.sendEvent(view, ev)


def view_rect(panel) -> tuple[float, float, float, float]:
    (x0, x1), (y0, y1) = panel.vb.viewRange()
    return x0, x1, y0, y1


def test_zoom_out_is_limited_and_fit_restores_the_image_bounds(qtbot, panels):
    from app.widgets.panel_zoom import MIN_VIEW_PX, VIEW_MARGIN
    c = panels.panel_a
    x0, x1, _, _ = view_rect(c)
    with qtbot.waitSignal(c.vb.sigRangeChanged, timeout=10_000):
        wheel(c, -60)   # far more than enough to lose a 300 px image without limits (each step ~ x1.1)
    x0, x1, y0, y1 = view_rect(c)
    # Out to the fit view (the whole image in the panel's aspect ratio) plus VIEW_MARGIN of it on each side.
    r = c.vb.height() / c.vb.width()
    fit_x = max(F_N, S_N / r)
    assert x1 - x0 <= (1 + 2 * VIEW_MARGIN) * fit_x + 1e-6
    assert y1 - y0 <= (1 + 2 * VIEW_MARGIN) * fit_x * r + 1e-6
    assert x1 - x0 > 1.2 * fit_x   # it did zoom out, to the limit
    assert x0 >= F_N / 2 - (0.5 + VIEW_MARGIN) * fit_x - 1e-6
    # F on the focused panel (the single-key shortcut) fits: the view range is the image bounds on the axis the
    # aspect lock makes tight, and contains them on the other.
    c.graphics.setFocus()
    qtbot.keyClick(c.graphics, QtCore.Qt.Key.Key_F)
    x0, x1, y0, y1 = view_rect(c)
    tight_x = (x0, x1) == pytest.approx((0.0, F_N), abs=0.5)
    tight_y = (y0, y1) == pytest.approx((0.0, S_N), abs=0.5)
    assert tight_x or tight_y, (x0, x1, y0, y1)
    assert x0 <= 0.5 and x1 >= F_N - 0.5 and y0 <= 0.5 and y1 >= S_N - 0.5
    fitted = (x0, x1, y0, y1)
    # The linked panels show the same range, to within a screen pixel (the layout may leave them 1 px apart).
    one_px = (x1 - x0) / c.vb.width()
    for other in (panels.panel_b, panels.diff_panel):
        assert view_rect(other)[:2] == pytest.approx((x0, x1), abs=1.5 * one_px)
    # Zooming in stops at MIN_VIEW_PX pixels across.
    wheel(c, 80)
    x0, x1, y0, y1 = view_rect(c)
    assert min(x1 - x0, y1 - y0) >= MIN_VIEW_PX - 1e-6
    # Ctrl+0 (the menu action's shortcut) fits again, also without the panel focus.
    panels.fit_action.trigger()
    assert view_rect(c) == pytest.approx(fitted, abs=0.5)


def test_panels_are_equally_wide(qtbot, panels):
    """Both colour bars are equally wide, so the difference panel is as wide as the two image panels."""
    widths = [p.graphics.width() for p in panels.panels]
    assert max(widths) - min(widths) <= 2, widths


def test_box_zoom_and_difference_mode_keys(qtbot, panels):
    from pyqtgraph import ViewBox
    c = panels.panel_a
    c.graphics.setFocus()
    qtbot.keyClick(c.graphics, QtCore.Qt.Key.Key_B)
    assert panels.box_zoom_action.isChecked()
    assert all(p.vb.state["mouseMode"] == ViewBox.RectMode for p in panels.panels)
    qtbot.keyClick(c.graphics, QtCore.Qt.Key.Key_B)
    assert all(p.vb.state["mouseMode"] == ViewBox.PanMode for p in panels.panels)
    # Single keys 2 / 3 / 1 switch the difference mode; the actions form one exclusive group.
    qtbot.keyClick(c.graphics, QtCore.Qt.Key.Key_2)
    assert panels.mode() == "relative" and panels.mode_actions["relative"].isChecked()
    assert panels.diff_raw[50, 60] == pytest.approx(0.1)   # (1000 − 900) / 1000
    qtbot.keyClick(c.graphics, QtCore.Qt.Key.Key_1)
    assert panels.mode() == "diff" and panels.diff_raw[50, 60] == pytest.approx(100.0)
    assert sum(a.isChecked() for a in panels.mode_actions.values()) == 1
    # The combo box and the actions stay in step.
    panels.mode_combo.setCurrentIndex(panels.mode_combo.findData("logratio"))
    assert panels.mode_actions["logratio"].isChecked()


def test_context_menu_offers_inspect_and_navigation(qtbot, panels):
    menu = panels.context_menu(50, 60)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[0] == "Inspect pixel (slow 50, fast 60)"
    assert "Fit view" in texts and "Box zoom" in texts and "Centre the view here" in texts
    with qtbot.waitSignal(panels.pixelClicked) as blocker:
        menu.actions()[0].trigger()
    assert blocker.args == [50, 60]
    outside = [a.text() for a in panels.context_menu(-1, -1).actions() if a.text()]
    assert not any(t.startswith("Inspect") for t in outside) and "Fit view" in outside


def test_enter_in_the_pixel_box_inspects_and_centres(qtbot, make_window, c_binary):
    """In the real window: type slow and fast, press Enter → that pixel is traced and the view is centred on it."""
    from gui_util import RUN_TIMEOUT_MS, run_and_wait
    w = make_window(None, c_binary)
    run_and_wait(qtbot, w)
    w.panels.fit_view()
    insp = w.inspector
    insp.slow_spin.setValue(40)
    insp.fast_spin.lineEdit().setText("200")
    insp.fast_spin.setFocus()
    with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.keyClick(insp.fast_spin, QtCore.Qt.Key.Key_Return)
    got = blocker.args[0]
    assert (got.slow, got.fast) == (40, 200)
    # Centred: the view's middle is the pixel's centre (40.5, 200.5), zoomed in from the whole image.
    x0, x1, y0, y1 = view_rect(w.panels.panel_a)
    assert (x0 + x1) / 2 == pytest.approx(200.5, abs=1.0) and (y0 + y1) / 2 == pytest.approx(40.5, abs=1.0)
    assert x1 - x0 < 200
    assert w.panels.panel_a.marker.data.size == 1
