"""Rings and predicted reflections over the panels (app.widgets.marks_view): keys G and P, the d-spacings box, the
readout's nearest reflection; the positions are app.core.predict's (tested against the engine in test_predict.py)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

import pyqtgraph as pg  # noqa: E402

from app.core import predict  # noqa: E402
from simulator.argv import parse_argv  # noqa: E402
from simulator.setup import build_setup  # noqa: E402
from gui_util import shown_panels

pytestmark = pytest.mark.gui

ARGS = ("-cell 50 60 70 90 90 90 -default_F 10 -N 5 -lambda 1.0 -distance 100 -pixel 0.2 -detpixels 300 "
        "-phi 0 -osc 2 -phisteps 4").split()


def config():
    p = parse_argv(ARGS)
    return p.config if hasattr(p, "config") else p[0]


@pytest.fixture
def panels(qtbot):
    p = shown_panels(qtbot)
    img = np.ones((300, 300), np.float32)
    p.set_images(img, img)
    p.marks.set_config(config())
    return p


def items_of(panel_items, kind):
    return [it for it in panel_items if isinstance(it, kind)]


def test_p_shows_the_predicted_spots_in_every_panel_and_the_readout_names_the_nearest(qtbot, panels):
    m = panels.marks
    with qtbot.waitSignal(m.ready, timeout=30_000):
        qtbot.keyClick(panels.panel_a.graphics, QtCore.Qt.Key.Key_P)
    assert m.spots_action.isChecked()
    expected = predict.predict_spots(build_setup(config()))
    assert len(expected) > 5
    assert [(s.h, s.k, s.l) for s in m.spots] == [(s.h, s.k, s.l) for s in expected]
    for items in m.items:
        (scatter,) = items_of(items, pg.ScatterPlotItem)
        x, y = scatter.getData()
        np.testing.assert_allclose(x, [s.x for s in expected])
        np.testing.assert_allclose(y, [s.y for s in expected])
    # Labels: h k l beside each spot in view once at most MARKS' MAX_LABELS are in view (none in the whole view).
    from app.widgets.marks_view import MAX_LABELS
    assert len(expected) > MAX_LABELS and not any(m.labels)
    s0 = expected[0]
    panels.center_on(*s0.pixel, half_width=3)
    in_view = {(s.h, s.k, s.l) for s in expected if abs(s.x - (s0.pixel[1] + 0.5)) <= 3.5
               and abs(s.y - (s0.pixel[0] + 0.5)) <= 3.5}
    for labels in m.labels:
        assert f"{s0.h} {s0.k} {s0.l}" in [t.toPlainText() for _s, t in labels]
        assert {(s.h, s.k, s.l) for s, _t in labels} >= in_view
    s0 = expected[0]
    text = m.readout(*s0.pixel)
    assert text.startswith(f"nearest predicted ({s0.h} {s0.k} {s0.l})") and f"d {s0.d_A:.3f} Å" in text
    with qtbot.waitSignal(m.ready, timeout=30_000):
        qtbot.keyClick(panels.panel_a.graphics, QtCore.Qt.Key.Key_P)
    assert not any(items_of(items, pg.ScatterPlotItem) for items in m.items) and m.readout(*s0.pixel) == ""


def test_g_draws_rings_at_the_listed_d_and_the_edge(qtbot, panels):
    m = panels.marks
    m.d_edit.setText("5, 3")
    with qtbot.waitSignal(m.ready, timeout=30_000):
        qtbot.keyClick(panels.panel_b.graphics, QtCore.Qt.Key.Key_G)
    frame = predict.DetectorFrame.from_setup(build_setup(config()))
    edge = predict.edge_resolution(frame)
    assert [r[0] for r in m.rings] == pytest.approx([5.0, 3.0, edge])
    for items in m.items:
        curves = items_of(items, pg.PlotCurveItem)
        assert len(curves) == 3
        x, y = curves[1].getData()
        np.testing.assert_allclose(frame.d_spacing(x, y), 3.0, rtol=1e-9)   # d = λ / (2 sin θ) all round
        assert [t.toPlainText() for t in items_of(items, pg.TextItem)] == ["5 Å", "3 Å", f"edge {edge:.2f} Å"]
    # A bad entry: said in the box's tooltip, the other rings stay.
    m.d_edit.setText("5 abc")
    with qtbot.waitSignal(m.ready, timeout=30_000):
        m.d_edit.editingFinished.emit()
    assert "'abc'" in m.d_edit.toolTip() and [r[0] for r in m.rings] == pytest.approx([edge])
