"""Compare modes (side by side, difference, swipe, overlay) on single keys, per-side colour scales and the
display-only "B scaled to A's sum" (app.core.compare_modes, app.widgets.compare_view, app.widgets.image_panels)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from app.core import compare_modes as cm  # noqa: E402
from app.core.scaling import Levels, colorize, transform  # noqa: E402
from gui_util import shown_panels

pytestmark = pytest.mark.gui

S_N, F_N = 60, 80


def images(scale_b: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A with a peak at (20, 30); B the same peak moved to (20, 50), times scale_b; both with a faint ramp."""
    ramp = np.linspace(1.0, 2.0, F_N, dtype=np.float32)[None, :].repeat(S_N, 0)
    a, b = ramp.copy(), ramp.copy()
    a[20, 30] = 1000.0
    b[20, 50] = 1000.0
    return a, (b * np.float32(scale_b)).astype(np.float32)


@pytest.fixture
def panels(qtbot):
    p = shown_panels(qtbot)
    p.set_scale("linear")
    return p


# ---- Qt-free core --------------------------------------------------------------------------------------------------
def test_swipe_takes_a_before_the_split_and_b_after():
    a, b = images()
    lut = (np.arange(256)[:, None] * np.ones((1, 4))).astype(np.uint8)   # grey ramp: index -> value
    lv = Levels(0.0, 1000.0)
    v = cm.swipe_rgba(a, b, 40, "v", lv, lv, lut)
    assert np.array_equal(v[:, :40], colorize(a[:, :40], lv, lut))
    assert np.array_equal(v[:, 40:], colorize(b[:, 40:], lv, lut))
    assert v[20, 30, 0] == 255 and v[20, 50, 0] == 255          # A's peak left of the line, B's right of it
    h = cm.swipe_rgba(a, b, 21, "h", lv, lv, lut)                  # rows 0..20 are A: B's peak row is A's
    assert h[20, 30, 0] == 255 and h[20, 50, 0] == 0
    assert cm.split_index(40.4, 4, 20) == 10 and cm.split_index(-5, 1, 80) == 0 and cm.split_index(1e9, 1, 80) == 80


def test_overlay_puts_a_in_magenta_and_b_in_green_with_the_blend():
    a, b = images()
    lv = Levels(0.0, 1000.0)
    o = cm.overlay_rgba(a, b, lv, lv, 0.5)
    assert tuple(o[20, 30]) == (255, 0, 255, 255)    # A only: magenta
    assert tuple(o[20, 50]) == (0, 255, 0, 255)      # B only: green
    assert o[0, 0, 0] == o[0, 0, 1] == round(255 * 1.0 / 1000)   # equal: grey (both channels alike)
    assert cm.blend_weights(0.0) == (1.0, 0.0) and cm.blend_weights(1.0) == (0.0, 1.0)
    only_a = cm.overlay_rgba(a, b, lv, lv, 0.0)
    assert not only_a[..., 1].any() and only_a[20, 30, 0] == 255


def test_side_scales_share_within_ten_times_and_split_beyond():
    # Upper levels 100 and 900 photons: within 10x -> one scale spanning both.
    s = cm.side_scales(Levels(0, 100), Levels(1, 900), "linear")
    assert s.shared and s.a == s.b == Levels(0, 900)
    # 1.26e5 apart (golden C vs the port on CLI-FLAGS-003): per side.
    s = cm.side_scales(Levels(0, 1.26e5), Levels(0, 1.0), "linear")
    assert not s.shared and s.a == Levels(0, 1.26e5) and s.b == Levels(0, 1.0)
    assert cm.side_scales(Levels(0, 1.26e5), Levels(0, 1.0), "linear", "shared").shared
    assert not cm.side_scales(Levels(0, 100), Levels(0, 100), "linear", "per side").shared
    # Log scale: levels are log10(photons); 10^5 vs 10^0.
    assert not cm.side_scales(Levels(-1, 5), Levels(-6, 0), "log").shared
    a, b = images(2.0)
    assert cm.sum_factor(a, b) == pytest.approx(float(a.sum(dtype=np.float64) / b.sum(dtype=np.float64)))
    assert cm.sum_factor(a, np.zeros_like(a)) is None


# ---- the window's panels -------------------------------------------------------------------------------------------
def test_single_keys_switch_the_exclusive_compare_modes(qtbot, panels):
    a, b = images()
    panels.set_images(a, b)
    g = panels.panel_a.graphics
    for key, mode in ((QtCore.Qt.Key.Key_W, "swipe_v"), (QtCore.Qt.Key.Key_H, "swipe_h"),
                      (QtCore.Qt.Key.Key_O, "overlay"), (QtCore.Qt.Key.Key_S, "side"), (QtCore.Qt.Key.Key_D, "diff")):
        with qtbot.waitSignal(panels.compare.modeChanged, timeout=2000) as blk:
            qtbot.keyClick(g, key)
        assert blk.args == [mode] and panels.compare_mode() == mode
        assert panels.compare.actions[mode].isChecked()
        assert sum(x.isChecked() for x in panels.compare.actions.values()) == 1
        assert panels.compare_combo.currentData() == mode
        assert panels.diff_panel.isVisibleTo(panels) == (mode != "side")      # side by side: A and B only
        assert panels.compare.item.isVisible() == (mode in ("swipe_v", "swipe_h", "overlay"))
        assert panels.compare.blend_slider.isVisibleTo(panels) == (mode == "overlay")
    # Difference mode: the A − B panel as before (the difference values are raw photons).
    assert panels.diff_raw[20, 30] == pytest.approx(1000.0 - b[20, 30])


def test_swipe_line_is_dragged_in_one_panel_and_moves_in_all(qtbot, panels):
    a, b = images()
    panels.set_images(a, b)
    panels.set_compare_mode("swipe_v")
    lines = panels.compare.lines
    assert len(lines) == 3 and all(line.isVisible() and line.angle == 90 for line in lines)
    assert lines[0].value() == pytest.approx(F_N / 2)    # starts at the image's centre
    assert panels.panel_a.current_factor() == 1
    lines[1].setValue(45.0)   # what a mouse drag of the line in panel B does (InfiniteLine.mouseDragEvent)
    assert all(line.value() == pytest.approx(45.0) for line in lines)
    la, lb = panels.side_levels()
    expected = cm.swipe_rgba(panels.panel_a.display_at(1), panels.panel_b.display_at(1), 45, "v", la, lb,
                             panels.image_lut())
    shown = panels.compare.item.image
    assert np.array_equal(shown, expected)
    # Both peaks left of column 45 and right of it: A's peak (col 30) drawn, B's (col 50) drawn, both bright.
    top = panels.image_lut()[255]
    assert tuple(shown[20, 30]) == tuple(top) and tuple(shown[20, 50]) == tuple(top)
    lines[0].setValue(60.0)   # now column 50 is A's side, where A is faint
    assert tuple(panels.compare.item.image[20, 50]) != tuple(top)
    # Horizontal split: a horizontal line, A above.
    panels.set_compare_mode("swipe_h")
    assert all(line.angle == 0 for line in lines) and lines[2].value() == pytest.approx(S_N / 2)
    lines[2].setValue(21.0)
    img = panels.compare.item.image
    assert tuple(img[20, 30]) == tuple(top) and tuple(img[20, 50]) != tuple(top)


def test_overlay_blend_slider_weights_the_channels(qtbot, panels):
    a, b = images()
    panels.set_images(a, b)
    panels.set_raw_levels(0.0, 1000.0)   # the ramp (1-2 photons) then draws near black: peaks stand alone
    qtbot.keyClick(panels.panel_a.graphics, QtCore.Qt.Key.Key_O)
    img = panels.compare.item.image
    assert tuple(img[20, 30, :3]) == (255, 0, 255) and tuple(img[20, 50, :3]) == (0, 255, 0)
    panels.compare.blend_slider.setValue(0)     # A only
    img = panels.compare.item.image
    assert not img[..., 1].any() and img[20, 30, 0] == 255
    panels.compare.blend_slider.setValue(100)   # B only
    img = panels.compare.item.image
    assert not img[..., 0].any() and img[20, 50, 1] == 255
    # Each channel is 255 x weight x the side's fraction of its levels (0-1000 photons here).
    panels.compare.blend_slider.setValue(50)
    img = panels.compare.item.image
    np.testing.assert_array_equal(img[..., 0], np.round(255.0 * np.clip(a / 1000.0, 0, 1)).astype(np.uint8))
    np.testing.assert_array_equal(img[..., 1], np.round(255.0 * np.clip(b / 1000.0, 0, 1)).astype(np.uint8))


def test_per_side_scales_when_the_sides_differ_by_more_than_ten_times(qtbot, panels):
    a, b = images(1.0 / 1.26e5)       # B 1.26e5 times fainter: one shared scale would draw it black
    panels.set_images(a, b)
    assert not panels.scales_shared()
    la, lb = panels.side_levels()
    assert la.high > 1e4 * lb.high
    assert panels.panel_b.image_item.getLevels()[1] == pytest.approx(lb.high)
    assert panels.panel_a.image_item.getLevels()[1] == pytest.approx(la.high)
    assert "own scale (the bar)" in panels.panel_a.title_label.text()
    assert "own scale" in panels.panel_b.title_label.text()
    # Within 10x: shared (the default), and the panels say so.
    a2, b2 = images(0.5)
    panels.set_images(a2, b2)
    assert panels.scales_shared() and "shared scale" in panels.panel_b.title_label.text()
    la, lb = panels.side_levels()
    assert la == lb and panels.panel_b.image_item.getLevels()[1] == pytest.approx(la.high)
    # Forced per side.
    panels.set_sharing("per side")
    assert not panels.scales_shared()


def test_b_scaled_to_a_sum_is_display_only_and_names_the_factor(qtbot, panels):
    a, b = images(1.0 / 1.26e5)
    panels.set_images(a, b)
    diff_before = panels.diff_raw.copy()
    panels.b_sum_check.setChecked(True)
    k = float(a.sum(dtype=np.float64) / b.sum(dtype=np.float64))
    assert panels.b_factor() == pytest.approx(k) and k == pytest.approx(1.26e5, rel=1e-3)
    assert f"shown ×{k:.4g}" in panels.panel_b.title_label.text()
    np.testing.assert_allclose(panels.panel_b.display_at(1), transform(b * np.float32(k), "linear"), rtol=1e-6)
    # Now within 10x of A: the auto scale is shared again.
    assert panels.scales_shared()
    # Raw values (readouts, difference) unchanged.
    assert panels.panel_b.value_at(20, 50) == pytest.approx(float(b[20, 50]))
    assert np.array_equal(panels.diff_raw, diff_before)
    panels.b_sum_check.setChecked(False)
    assert panels.b_factor() is None and "×" not in panels.panel_b.title_label.text()


def test_snapshot_draws_the_swipe_and_the_overlay_the_window_shows(qtbot, panels):
    from app.bundle import compare_png, panel_png
    a, b = images()
    panels.set_images(a, b)
    assert panels.compare.capture([]) is None            # difference mode: the diff panel PNG says it all
    panels.set_compare_mode("swipe_h")
    panels.compare.set_split(21.0)
    ci = panels.compare.capture([(20, 30)])
    rgba, factor = compare_png.picture(ci)
    la, lb = panels.side_levels()
    assert factor == 1 and np.array_equal(
        rgba, cm.swipe_rgba(panels.panel_a.display_at(1), panels.panel_b.display_at(1), 21, "h", la, lb,
                            panel_png.lut(panels.colormap())))
    png = compare_png.render(ci)["panel_compare.png"]
    assert png[:4] == b"\x89PNG"
    panels.set_compare_mode("overlay")
    ci = panels.compare.capture([])
    assert ci.mode == "overlay" and np.array_equal(compare_png.picture(ci)[0],
                                                   cm.overlay_rgba(ci.a, ci.b, la, lb, 0.5))


def test_side_by_side_gives_the_third_panel_s_room_to_a_and_b(qtbot, panels):
    from PySide6 import QtWidgets
    a, b = images()
    panels.set_images(a, b)
    QtWidgets.QApplication.processEvents()
    w_diff = panels.panel_a.width()
    panels.set_compare_mode("side")
    QtWidgets.QApplication.processEvents()   # the layout request the mode change posted
    assert not panels.diff_panel.isVisible() and panels.panel_a.width() > 1.3 * w_diff
    panels.set_compare_mode("diff")
    QtWidgets.QApplication.processEvents()
    assert panels.diff_panel.isVisible() and abs(panels.panel_a.width() - w_diff) <= 2
