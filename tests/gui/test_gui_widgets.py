"""GUI widgets with synthetic data (no engines): panels, inspector, editor, workers, settings, error hook."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from gui_util import wait_laid_out  # noqa: E402

from tracing.records import PathKey, PhiSample, PixelTrace  # noqa: E402

pytestmark = pytest.mark.gui


# ---- synthetic traces ----------------------------------------------------------------------------------------------
def make_trace(engine: str, n: int = 10, dk0: float = 0.0, dialect: str = "rich", mos: int = 1) -> PixelTrace:
    samples = []
    for m in range(mos):
        for i in range(n):
            k = -0.6 + 0.002 * i + (dk0 if i == 0 else 0.0)
            vals = {"k_frac": k, "F_latt_b": 1.0 + 0.1 * i, "F_latt": 2.0 + 0.1 * i + m}
            if dialect != "golden":
                vals.update({"h_frac": 1.0 + 0.001 * i, "l_frac": 2.0, "F_latt_a": 3.0, "F_latt_c": 4.0,
                             "F_cell": 100.0, "I_contrib": 5.0 + i, "h0": 1, "k0": -1, "l0": 2})
            samples.append(PhiSample(i, 0.1 * i, PathKey(mos=m), vals))
    return PixelTrace(engine, 5, 7, samples=samples, dialect=dialect)


class FakeInspection:
    def __init__(self, c, py, slow=5, fast=7, curve_a=None):
        self.slow, self.fast, self.trace_a, self.trace_b = slow, fast, c, py
        self.error_a = self.error_b = None
        self.c_log_tail = self.py_log_tail = ""
        self.curve_a = curve_a
        self.comparison = None

    def describe(self):
        return "fake"


# ---- image panels --------------------------------------------------------------------------------------------------
def test_panels_show_arrays_link_views_and_readouts(qtbot):
    from app.widgets.image_panels import ImagePanels
    panels = ImagePanels()
    qtbot.addWidget(panels)
    panels.resize(1200, 500)
    panels.show()
    c = np.zeros((200, 300), np.float32)
    c[50, 60] = 1000.0
    py = c.copy()
    py[50, 60] = 900.0
    panels.set_images(c, py)
    assert panels.image_a() is c and panels.image_b() is py
    assert np.array_equal(panels.diff_raw, c - py)
    assert panels.panel_a.value_at(50, 60) == 1000.0 and panels.panel_b.value_at(50, 60) == 900.0
    # linked views: zooming one moves the others
    with qtbot.waitSignal(panels.panel_a.vb.sigRangeChanged, timeout=10_000):   # the link reached A (issue 18)
        panels.panel_b.vb.setRange(xRange=(10, 40), yRange=(20, 50), padding=0)
    (x0, x1), _ = panels.panel_a.vb.viewRange()
    (dx0, dx1), _ = panels.diff_panel.vb.viewRange()
    # aspect-locked views of slightly different sizes share the centre (and zoom) of the linked range
    assert (x0 + x1) / 2 == pytest.approx((dx0 + dx1) / 2, abs=0.01) and abs(x1 - x0) < 60
    # shared colour bar drives both images' levels
    panels.set_raw_levels(1.0, 500.0)
    assert panels.panel_a.image_item.getLevels() == pytest.approx(panels.panel_b.image_item.getLevels())
    # log scale on zero pixels stays finite
    panels.set_scale("log")
    assert np.all(np.isfinite(panels.panel_a._display))
    # difference modes and tolerance overlay
    panels.set_mode("relative")
    assert panels.diff_raw[50, 60] == pytest.approx(0.1)
    panels.overlay_check.setChecked(True)
    assert panels.beyond_label.text().startswith("1 ")


def test_zoomed_out_panel_uses_max_aggregation(qtbot):
    from app.widgets.image_panel import ImagePanel
    p = ImagePanel("C reference")
    qtbot.addWidget(p)
    p.resize(300, 300)
    p.show()
    a = np.zeros((2000, 2000), np.float32)
    a[1234, 567] = 50.0
    p.set_image(a)
    p.vb.autoRange(padding=0)
    qtbot.waitUntil(lambda: p.current_factor() > 1, timeout=2000)
    shown = p.image_item.image
    assert shown.shape[0] < 2000 and shown.max() == 50.0


def test_panel_click_and_crosshair(qtbot):
    from app.widgets.image_panels import ImagePanels
    panels = ImagePanels()
    qtbot.addWidget(panels)
    panels.resize(1200, 500)
    panels.show()
    qtbot.waitExposed(panels)
    panels.set_images(np.ones((20, 30), np.float32), np.ones((20, 30), np.float32))
    panels.panel_a.vb.setRange(xRange=(0, 30), yRange=(0, 20), padding=0)
    wait_laid_out(qtbot, panels)   # the fit view already has this range: no signal, only a layout pass
    view = panels.panel_a.graphics
    scene_pt = panels.panel_a.vb.mapViewToScene(QtCore.QPointF(12.5, 7.5))
    widget_pt = view.mapFromScene(scene_pt)
    with qtbot.waitSignal(panels.pixelClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=widget_pt)
    assert blocker.args == [7, 12]
    with qtbot.waitSignal(panels.hovered, timeout=2000) as blocker:
        panels.panel_a._on_mouse_moved(scene_pt)
    assert blocker.args == [7, 12]
    assert panels.diff_panel.vline.isVisible() and panels.diff_panel.vline.value() == 12.5


def test_panel_error_page(qtbot):
    from app.widgets.image_panels import ImagePanels
    panels = ImagePanels()
    qtbot.addWidget(panels)
    panels.panel_a.show_error("C reference failed: boom", "line 1\nline 2")
    panels.set_images(b=np.ones((4, 4), np.float32), which="b")
    assert panels.panel_a.showing_error() and "boom" in panels.panel_a.error_label.text()
    assert panels.image_b() is not None and panels.diff_raw is None


# ---- inspector -----------------------------------------------------------------------------------------------------
def test_inspector_plots_every_tick_and_marks_divergence(qtbot):
    from app.widgets.inspector import PhiInspector
    insp_w = PhiInspector()
    qtbot.addWidget(insp_w)
    c = make_trace("c", dk0=0.018, mos=2)
    py = make_trace("torch", mos=2)
    insp_w.show_inspection(FakeInspection(c, py))
    for eng in ("a", "b"):
        x, y = insp_w.curve_data("k_frac", eng)
        assert x.tolist() == list(range(10))
    assert insp_w.divergence_tick() == 0
    assert "first divergence at φ tick 0" in insp_w.summary.text()
    assert insp_w.plots_page.div_lines[0].isVisible() and insp_w.plots_page.div_lines[0].value() == 0
    mos = insp_w.path_combos["mos"]
    assert not mos.isHidden() and mos.count() == 2 and insp_w.path_combos["src"].isHidden()
    insp_w.path_combos["mos"].setCurrentIndex(1)
    assert insp_w.curve_data("F_latt", "a")[1][0] == pytest.approx(3.0)
    # table + TSV copy
    assert insp_w.table.rowCount() == 10
    tsv = insp_w.table.to_tsv()
    assert tsv.splitlines()[0].startswith("φ tick\tφ (deg)") and len(tsv.splitlines()) == 11
    insp_w.table.setFocus()
    insp_w.table.selectAll()
    QtWidgets.QApplication.clipboard().clear()
    qtbot.keyClick(insp_w.table, QtCore.Qt.Key.Key_C, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert QtWidgets.QApplication.clipboard().text().count("\n") == 11
    assert insp_w.history.count() == 1


def test_inspector_golden_and_curve_only(qtbot):
    from app.widgets.inspector import PhiInspector
    w = PhiInspector()
    qtbot.addWidget(w)
    golden = make_trace("c", dialect="golden")
    w.show_inspection(FakeInspection(golden, make_trace("torch")))
    assert w.curve_data("h_frac", "a")[0].size == 0 and w.curve_data("h_frac", "b")[0].size == 10
    assert "golden dialect" in w.summary.text() and "(only in B)" in w.plots["h_frac"].titleLabel.text
    none_trace = PixelTrace("c", 1, 2, dialect="none")
    w.show_inspection(FakeInspection(none_trace, make_trace("torch"), slow=1, fast=2,
                                     curve_a=[(0.1 * i, float(i)) for i in range(10)]))
    assert "single-tick runs" in w.summary.text()
    assert len(w.plots_page.curve_item_a.getData()[0]) == 10
    assert w.history.count() == 2


# ---- command-line editor -------------------------------------------------------------------------------------------
def test_editor_underlines_bad_flag_and_syncs_form(qtbot, tmp_path):
    from app.widgets.params_editor import ParamsEditor, replace_flags
    hkl = tmp_path / "x.hkl"
    hkl.write_text("1 2 3 10\n")
    ed = ParamsEditor()
    qtbot.addWidget(ed)
    ed.set_text(f"-hkl {hkl} -cell 10 20 30 90 90 90 -N 5 -lambda 1 -distance 100 -detpixels 64 -bogus 3 "
                "-pixel abc")
    errs = ed.errors()
    assert not ed.is_valid() and errs and "-pixel" in errs[0].message
    sels = ed.edit.extraSelections()
    assert len(sels) >= 2
    assert all(s.format.underlineStyle() == QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline for s in sels)
    assert "unknown flag -bogus" in ed.message.text()
    bad = ed.text().index("abc")
    assert ed.edit.diagnostic_at(bad).severity == "error"
    # fix it by typing: debounced validation
    ed.set_text(ed.text().replace("abc", "0.1"))
    assert ed.is_valid()
    assert ed.lambda_field.text() == "1" and ed.n_fields[0].text() == "5" and ed.fpix_field.text() == "64"
    # form -> text, in place
    ed.distance_field.setText("250")
    ed.distance_field.editingFinished.emit()
    assert "-distance 250" in ed.text() and "-distance 100" not in ed.text()
    ed.n_fields[2].setText("7")
    ed.n_fields[2].editingFinished.emit()
    assert "-Na 5 -Nb 5 -Nc 7" in ed.text() and "-N 5" not in ed.text()
    ed.convention_combo.setCurrentText("XDS")
    ed.convention_combo.activated.emit(1)
    assert "-xds" in ed.text()
    # text -> form, debounced
    cursor = ed.edit.textCursor()
    cursor.movePosition(QtGui.QTextCursor.MoveOperation.End)
    ed.edit.setTextCursor(cursor)
    qtbot.keyClicks(ed.edit, " -lambda 1.5")
    qtbot.waitUntil(lambda: ed.lambda_field.text() == "1.5", timeout=2000)
    assert replace_flags("-a 1 -b 2 3 -a 4", ("-a",), ["-a", "9"]) == "-a 9 -b 2 3 "


# ---- workers -------------------------------------------------------------------------------------------------------
class Receiver(QtCore.QObject):
    """GUI-thread slots for a JobRunner's signals; `delivered(kind)` is re-emitted on the GUI thread.

    Tests wait on `delivered`, never on the runner's own signals: those are emitted on the worker thread, where a
    plain callable (pytest-qt's blocker) would run, quitting the GUI thread's event loop from the worker (a data
    race that crashed this test once in two runs after the window tests)."""

    delivered = QtCore.Signal(str)

    def __init__(self):
        super().__init__()
        self.results, self.errors, self.progress, self.threads, self.finished = [], [], [], [], []

    @QtCore.Slot(int, str, object)
    def on_job_result(self, _job, tag, value):
        self.threads.append(QtCore.QThread.currentThread())
        self.results.append((tag, value))
        self.delivered.emit("result")

    @QtCore.Slot(int, str, str, str)
    def on_job_error(self, _job, tag, msg, details):
        self.errors.append((tag, msg, details))
        self.delivered.emit("error")

    @QtCore.Slot(int, str, float)
    def on_job_progress(self, _job, tag, f):
        self.progress.append(f)
        self.delivered.emit("progress")

    @QtCore.Slot(int, str)
    def on_job_finished(self, job, tag):
        self.finished.append((job, tag))
        self.delivered.emit("finished")


def _kind(kind):
    return lambda got: got == kind


def test_worker_signals_arrive_on_gui_thread_and_cancel(qtbot):
    """JobRunner: progress and result reach a GUI-thread slot; cancel reaches the callable; a failure becomes a
    readable message with its traceback; the threads end by themselves (joined without the event loop)."""
    from app.qt.workers import JobRunner
    runner = JobRunner("test")
    rec = Receiver()
    runner.result.connect(rec.on_job_result)
    runner.error.connect(rec.on_job_error)
    runner.progress.connect(rec.on_job_progress)
    runner.finished.connect(rec.on_job_finished)
    go_on = threading.Event()

    def work(progress, cancel):
        progress(0.0)
        go_on.wait(60)   # ordered, not timed: the test cancels after the first progress has arrived
        return "cancelled" if cancel.is_set() else "done"
    with qtbot.waitSignal(rec.delivered, timeout=30_000, check_params_cb=_kind("progress")):
        job = runner.start("w", work)
    with qtbot.waitSignal(rec.delivered, timeout=30_000, check_params_cb=_kind("result")):
        job.cancel()
        go_on.set()
    assert rec.results == [("w", "cancelled")] and rec.progress
    assert rec.threads[0] is QtWidgets.QApplication.instance().thread()

    def boom(progress, cancel):
        raise ValueError("bad pixel")
    with qtbot.waitSignal(rec.delivered, timeout=30_000, check_params_cb=_kind("error")):
        runner.start("b", boom)
    assert rec.errors[0][1] == "ValueError: bad pixel" and "Traceback" in rec.errors[0][2]
    # The contract (issue 18): wait_all is True exactly when running() is empty, and on the GUI thread it has
    # delivered every pending outcome, `finished` included, to every slot.
    assert runner.wait_all(30.0) and runner.running() == []
    assert sorted(tag for _, tag in rec.finished) == ["b", "w"]


# ---- settings and errors -------------------------------------------------------------------------------------------
def test_settings_versioned_and_reset(tmp_path):
    from app.qt.settings import SCHEMA_VERSION, AppSettings
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    qs.setValue("schema_version", SCHEMA_VERSION - 1)
    qs.setValue("view/colormap", "magma")
    s = AppSettings(qs)
    assert s.get_str("view/colormap", "viridis") == "viridis"  # old schema dropped
    s.set("view/colormap", "magma")
    s.set_last_dir("images", "/data")
    assert AppSettings(qs).get_str("view/colormap") == "magma" and s.last_dir("images") == "/data"
    s.reset()
    assert s.get_str("view/colormap", "viridis") == "viridis" and s.last_dir("images") == ""


def test_exception_hook_shows_readable_dialog_and_logs(qtbot, tmp_path, monkeypatch):
    from app.qt import errors
    monkeypatch.setattr(errors, "log_dir", lambda: tmp_path)
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    hook = errors.install_excepthook(parent)
    try:
        try:
            raise KeyError("slow")
        except KeyError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: hook.last_dialog is not None, timeout=2000)
        box = hook.last_dialog
        assert "Traceback" not in box.text() and "KeyError" in box.text()
        assert "Traceback" in box.detailedText()
        assert "errors.log" in box.informativeText()
        assert "KeyError" in (tmp_path / "errors.log").read_text()
        box.close()
    finally:
        hook.uninstall()
    assert sys.excepthook is not hook

