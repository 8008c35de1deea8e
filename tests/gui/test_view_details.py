"""The small things of issue 20, each with the figure it must meet: panel subtitles that fit, PathKeys in words,
no "worst pixel" for a max relative error of 0, pixel labels readable on bright peaks, the sweep table's width,
and the window's shortcuts while a text field has the focus."""
from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtGui, QtWidgets  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from gui_util import wait_laid_out  # noqa: E402

pytestmark = pytest.mark.gui


def label_fits(label: QtWidgets.QLabel) -> bool:
    """The label's (wrapped) text needs no more height than the label has at its width."""
    return label.heightForWidth(label.width()) <= label.height()


def test_panel_subtitles_fit_at_1366x768_in_every_compare_mode(qtbot, make_window):
    w = make_window()
    w.resize(1366, 768)
    wait_laid_out(qtbot, w)  # the resize's layout pass (Qt gives no signal for it: its state is waited on)
    panels = w.panels
    panels.set_images(np.ones((50, 60), np.float32), 1e-6 * np.ones((50, 60), np.float32))  # per-side notes
    panels.panel_a.set_note("24.44 s")
    panels.panel_b.set_note("5.84 s")
    panels.b_sum_check.setChecked(True)   # B's longest note: its scale and the factor
    panels.set_sharing("per side")
    for mode in ("diff", "side", "swipe_v", "overlay"):
        panels.set_compare_mode(mode)
        QtWidgets.QApplication.processEvents()
        for p in panels.panels:
            if not p.isVisibleTo(panels):
                continue
            assert label_fits(p.title_label), (mode, p.title, p.title_label.width(), p.title_label.text())
            assert "pixel (s, f): centre (s+½, f+½)" in p.title_label.text()
    assert "shown ×1e+06" in panels.panel_b.title_label.text()


def test_trace_markdown_names_the_path_in_words(tmp_path):
    from tracing.phi_compare import compare_traces
    from tracing.records import PathKey, PhiSample, PixelTrace
    from tracing.tables import write_phi_tables
    traces = []
    for name in ("c", "py"):
        tr = PixelTrace(engine=name, slow=1, fast=2, dialect="rich")
        tr.samples.append(PhiSample(0, 0.0, PathKey(layer=1, sub_s=0, sub_f=2, src=0, mos=3),
                                    {"h_frac": 1.0, "k_frac": 2.0, "l_frac": 3.0}))
        traces.append(tr)
    cmp = compare_traces(*traces)
    md = write_phi_tables(tmp_path, "t", cmp, *traces)[2].read_text()
    assert "PathKey(" not in md
    assert "path layer 1, sub-pixel (0, 2), source 0, mosaic domain 3" in md


def test_a_max_relative_error_of_zero_names_no_pixel():
    from tracing.metrics import compare_images
    a = np.zeros((20, 30), np.float32)
    a[5, 7] = 10.0
    a[12, 20] = 4.0
    m = compare_images(a, a.copy())
    assert m.max_rel_err == 0.0 and m.max_rel_err_pixel is None     # not (0, 0): no pixel is worst
    b = a.copy()
    b[12, 20] = 4.4                                                  # |Δ|/|A| = 0.1 there
    m = compare_images(a, b)
    assert m.max_rel_err == pytest.approx(0.1) and tuple(m.max_rel_err_pixel) == (12, 20)


def test_pixel_labels_are_readable_on_the_brightest_colour(qapp):
    """On a yellow (viridis' top) field, the mark's red label text has no yellow pixel within 2 px: it sits on
    its own white box."""
    from app.bundle.panel_png import PanelSpec, lut, render_panel
    from app.core.scaling import Levels
    raw = np.full((64, 64), 100.0, np.float32)
    spec = PanelSpec("bright", raw, "linear", Levels(0.0, 50.0), "viridis", "photons", marks=[(30, 20)])
    img = render_panel(spec).convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())[:, :3 * w].reshape(h, w, 3)
    arr = arr.astype(int)
    top = lut("viridis")[255].astype(int)
    yellow = np.abs(arr - top).sum(axis=2) < 60
    assert yellow.sum() > 1000                                       # the field is there
    # The label sits right of the mark's square (centre cx, half-size 6 px at this 8x zoom); its glyphs are the
    # reddish pixels there (the old label: red fill with a thin white halo; the new: dark red on a white box).
    from app.bundle.panel_png import AXIS_LEFT, MARGIN
    cx = MARGIN + AXIS_LEFT + (20 + 0.5) * 8
    reddish = (arr[..., 0] > 120) & (arr[..., 1] < 80) & (arr[..., 2] < 80)
    reddish[:, : int(cx + 6 + 2)] = False
    ys, xs = np.nonzero(reddish)
    assert len(xs) > 20                                              # the "(30, 20)" label is there
    # The label box's 1-px red frame borders the yellow; the glyphs inside must have none within 2 px.
    x_lo, x_hi, y_lo, y_hi = xs.min(), xs.max(), ys.min(), ys.max()  # the box frame's extent
    inner = (xs > x_lo + 1) & (xs < x_hi - 1) & (ys > y_lo + 1) & (ys < y_hi - 1)
    assert inner.sum() > 10
    touching = [bool(yellow[y - 2:y + 3, x - 2:x + 3].any()) for y, x in zip(ys[inner], xs[inner], strict=True)]
    assert not any(touching), f"{sum(touching)} of {len(touching)} glyph pixels touch the yellow field"


def test_sweep_html_table_fits_1400_px_with_engines_on_two_lines(qapp, tmp_path):
    from app.sweep.record import CaseRecord
    from app.sweep.report import HTML_WIDTHS, to_html
    recs = [CaseRecord(name="case-a", slug="case-a", argv=["-N", "1"], engines=["cref", "torch"], status="pass",
                       fingerprint="f",
                       labels=["C reference (nbref, OpenMP 2 threads)", "PyTorch (float64, cpu, 2 threads)"])]
    page = to_html(recs, "sweep", {}, tmp_path)
    assert "table-layout:fixed" in page and "<colgroup>" in page
    widths = [int(v) for v in re.findall(r"<col style='width:(\d+)px'>", page)]
    assert len(widths) == page.count("<th>") and sum(widths) <= 1400
    # The engines cell at the page's 13 px font fits in two lines of its column (less 12 px padding).
    font = QtGui.QFont()
    font.setPixelSize(13)
    text = " vs ".join(recs[0].labels)
    need = QtGui.QFontMetrics(font).horizontalAdvance(text)
    assert 2 * (HTML_WIDTHS["engines"] - 12) >= need, (need, HTML_WIDTHS["engines"])


class X11LineEdit(QtWidgets.QLineEdit):
    """A line edit that claims Ctrl+E as QLineEdit does under the X11 key bindings (MoveToEndOfLine), which the
    offscreen test platform does not use: the fault the guard is for."""

    def event(self, e):  # noqa: D102
        if e.type() == e.Type.ShortcutOverride and e.key() == Qt.Key.Key_E \
                and e.modifiers() == Qt.KeyboardModifier.ControlModifier:
            e.accept()
            return True
        return super().event(e)


def test_window_shortcuts_work_while_a_text_field_has_the_focus(qtbot):
    from app.window import shortcut_guard
    win = QtWidgets.QMainWindow()
    qtbot.addWidget(win)
    edit = X11LineEdit("some text")
    win.setCentralWidget(edit)
    hits = []
    act = QtGui.QAction("Export", win)
    act.setShortcut(QtGui.QKeySequence("Ctrl+E"))
    act.triggered.connect(lambda: hits.append("export"))
    win.addAction(act)
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert hits == []                      # the field took Ctrl+E: the bug
    shortcut_guard.install(win)
    qtbot.keyClick(edit, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert hits == ["export"]              # the guard gives the window's action its key back
    # Keys no window action claims stay the field's (Ctrl+A selects all), and plain typing types.
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert edit.selectedText() == "some text" and hits == ["export"]
    qtbot.keyClicks(edit, "e")
    assert edit.text() == "e" and hits == ["export"]


def test_the_window_gives_its_actions_keys_back_from_the_editor(qtbot, make_window):
    w = make_window()
    guard = w._shortcut_guard
    assert guard.claimed(QtGui.QKeySequence("Ctrl+E")) is w.actions.export
    assert guard.claimed(QtGui.QKeySequence("Ctrl+D")) is w.actions.demo
    assert guard.claimed(QtGui.QKeySequence("Ctrl+A")) is None
