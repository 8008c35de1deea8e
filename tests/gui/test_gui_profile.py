"""Line profiles (app.core.line_profile, app.widgets.profile_view): the values along a line, a row or a column are
the images' own pixels, and the plot shows exactly those."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from app.core import line_profile as lp  # noqa: E402
from gui_util import shown_panels

pytestmark = pytest.mark.gui

S_N, F_N = 40, 50


def images() -> tuple[np.ndarray, np.ndarray]:
    """Every pixel distinct: A = 1000·s + f, B = A + 0.5·f (so A − B = −0.5·f)."""
    s, f = np.mgrid[0:S_N, 0:F_N].astype(np.float32)
    a = 1000.0 * s + f
    return a.astype(np.float32), (a + 0.5 * f).astype(np.float32)


def test_segment_visits_each_crossed_pixel_once_in_order():
    a, b = images()
    # The diagonal from the top-left corner of pixel (0, 0) to the bottom-right of (9, 9): pixels (i, i) and,
    # where the line grazes a corner, nothing else (it passes exactly through corners).
    p = lp.line_profile(a, b, (0.0, 0.0), (10.0, 10.0))
    assert list(zip(p.slow.tolist(), p.fast.tolist(), strict=True)) == [(i, i) for i in range(10)]
    np.testing.assert_array_equal(p.a, a[p.slow, p.fast])
    np.testing.assert_array_equal(p.b, b[p.slow, p.fast])
    np.testing.assert_allclose(p.diff, -0.5 * p.fast)
    # Distances: pixel centres projected on the line, sqrt(2)·(i + 0.5).
    np.testing.assert_allclose(p.distance, np.sqrt(2) * (np.arange(10) + 0.5))
    # A shallow line crosses 2 rows over 20 columns: every pixel it enters, 4-connected steps or diagonal ones.
    q = lp.line_profile(a, b, (0.5, 3.2), (20.5, 4.8))
    assert set(q.slow.tolist()) == {3, 4} and q.fast.tolist() == sorted(q.fast.tolist())
    assert set(q.fast.tolist()) == set(range(21))
    np.testing.assert_array_equal(q.a, a[q.slow, q.fast])
    # Outside the image: clipped; a CSV row per pixel.
    r = lp.line_profile(a, None, (-10.0, 5.5), (5.5, 5.5))
    assert r.fast.tolist() == list(range(6)) and r.b is None and r.diff is None
    assert len(r.csv().splitlines()) == 1 + 6


def test_row_and_column_profiles_read_the_whole_line():
    a, b = images()
    row = lp.row_profile(a, b, 7)
    np.testing.assert_array_equal(row.a, a[7, :]) and np.testing.assert_array_equal(row.b, b[7, :])
    col = lp.column_profile(a, b, 12)
    np.testing.assert_array_equal(col.a, a[:, 12]) and np.testing.assert_array_equal(col.slow, np.arange(S_N))


@pytest.fixture
def panels(qtbot):
    p = shown_panels(qtbot)
    a, b = images()
    p.set_images(a, b)
    return p


def test_row_and_column_through_the_cursor_on_keys(qtbot, panels):
    a, b = images()
    ctl = panels.profile
    panels.hovered.emit(11, 23)           # the cursor over pixel (11, 23)
    g = panels.panel_b.graphics
    with qtbot.waitSignal(ctl.changed, timeout=2000) as blk:
        qtbot.keyClick(g, QtCore.Qt.Key.Key_R)
    prof = blk.args[0]
    np.testing.assert_array_equal(prof.a, a[11]) and np.testing.assert_array_equal(prof.b, b[11])
    # The plot shows exactly those values.
    x, y = ctl.plot.curve_a.getData()
    np.testing.assert_array_equal(y, a[11])
    np.testing.assert_array_equal(ctl.plot.curve_b.getData()[1], b[11])
    np.testing.assert_allclose(ctl.plot.curve_d.getData()[1], a[11].astype(np.float64) - b[11])
    with qtbot.waitSignal(ctl.changed, timeout=2000) as blk:
        qtbot.keyClick(g, QtCore.Qt.Key.Key_C)
    np.testing.assert_array_equal(blk.args[0].a, a[:, 23])


def test_drawn_line_follows_its_handles_and_is_exported(qtbot, panels):
    a, b = images()
    ctl = panels.profile
    panels.panel_b.graphics.setFocus()
    with qtbot.waitSignal(ctl.changed, timeout=2000):
        qtbot.keyClick(panels.panel_b.graphics, QtCore.Qt.Key.Key_L)
    assert ctl.roi is not None and ctl._roi_panel is panels.panel_b
    with qtbot.waitSignal(ctl.changed, timeout=2000):
        ctl.set_roi_ends((2.5, 30.5), (40.5, 10.5))   # as dragging the two handles does
    (x0, y0), (x1, y1) = ctl.roi_ends()
    assert (x0, y0, x1, y1) == pytest.approx((2.5, 30.5, 40.5, 10.5))
    prof = ctl.profile
    assert (prof.slow[0], prof.fast[0]) == (30, 2) and (prof.slow[-1], prof.fast[-1]) == (10, 40)
    np.testing.assert_array_equal(prof.a, a[prof.slow, prof.fast])
    np.testing.assert_array_equal(prof.b, b[prof.slow, prof.fast])
    files = ctl.export_files()
    assert set(files) == {"profile.csv", "profile.png"} and files["profile.png"][:4] == b"\x89PNG"
    rows = files["profile.csv"].decode().splitlines()
    assert len(rows) == 1 + len(prof.slow)
    d, s, f, va, vb, vd = rows[1].split(",")
    assert (int(s), int(f)) == (30, 2) and float(va) == a[30, 2] and float(vb) == b[30, 2]
    assert float(vd) == pytest.approx(a[30, 2] - b[30, 2])
    ctl.clear()
    assert ctl.export_files() == {}
