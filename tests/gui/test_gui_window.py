"""The real window with the real engines: run the demo, trace a pixel, export, cancel, stay responsive, fail well."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui  # noqa: E402

from gui_util import (RUN_TIMEOUT_MS, demo_with, inspect_and_wait,  # noqa: E402
                            my_children, run_and_wait, wait_idle)

pytestmark = pytest.mark.gui



def click_pixel(qtbot, panel, slow: int, fast: int) -> None:
    """A real left click on the centre of pixel (slow, fast) of an image panel."""
    scene_pt = panel.vb.mapViewToScene(QtCore.QPointF(fast + 0.5, slow + 0.5))
    widget_pt = panel.graphics.mapFromScene(scene_pt)
    qtbot.mouseClick(panel.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=widget_pt)


def test_demo_run_inspect_and_export(qtbot, make_window, c_binary, tmp_path):
    w = make_window(None, c_binary)
    assert "nbparity" in w.windowTitle()
    assert "Demo scenario loaded" in w.statusBar().currentMessage()
    assert w.editor.is_valid()
    run_and_wait(qtbot, w)
    a, b = w.model.outcome("a"), w.model.outcome("b")
    assert a.ok and b.ok, (a.error, b.error)
    img_a, img_b = a.result.image, b.result.image
    assert np.array_equal(w.panels.image_a(), img_a)
    assert np.array_equal(w.panels.image_b(), img_b)
    assert np.allclose(w.panels.diff_raw, img_a.astype(np.float64) - img_b, atol=1e-5)
    # the metrics panel shows the session's numbers, and the demo's carry-over makes the engines differ
    assert w.metrics.max_abs_diff > 0
    assert w.metrics_panel.values["correlation"].text() == f"{w.metrics.correlation:.9f}"
    # hover readout shows raw values, named after the engines
    s, f = w.metrics.max_abs_diff_pixel
    text = w.readout_text(s, f)
    assert f"{w.names[0]} {img_a[s, f]:.6g}" in text and "2θ" in text and "d " in text

    # click the max |Δ| pixel in the A panel: both engines are traced, one point per φ tick each
    with qtbot.waitSignal(w.panels.panel_a.vb.sigRangeChanged, timeout=10_000):
        w.panels.panel_a.center_on(s, f, half_width=20)
    with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS):
        click_pixel(qtbot, w.panels.panel_a, s, f)
    wait_idle(qtbot, w)
    insp = w.inspector.inspection
    assert (insp.slow, insp.fast) == (s, f)
    assert insp.error_a is None and insp.error_b is None
    n_ticks = w.model.session.config.sampling.phisteps
    for field in ("h_frac", "k_frac", "l_frac", "F_latt_a", "F_latt_b", "F_latt_c", "F_latt"):
        for eng in ("a", "b"):
            ticks, _ = w.inspector.curve_data(field, eng)
            assert ticks.tolist() == list(range(n_ticks)), (field, eng)
    assert w.inspector.divergence_tick() == 0
    assert "first divergence at φ tick 0" in w.inspector.summary.text()
    assert "hkl(tick 0)" in w.readout_text(s, f)

    # export: a new timestamped folder with pictures and data
    with qtbot.waitSignal(w.model.exported, timeout=RUN_TIMEOUT_MS):
        assert w.export_snapshot(tmp_path / "snaps")
    from app.bundle.snapshot import side_tag
    names = {p.name for p in w.last_bundle.iterdir()}
    ta, tb = side_tag("a", w.names[0]), side_tag("b", w.names[1])  # files are named after the engines
    assert ta.startswith("A-nbparity-C-reference") and tb == "B-nbparity-PyTorch-f64"
    for required in ("window.png", "panel_a.png", "panel_b.png", "panel_diff.png", f"{ta}_float.bin",
                     f"{tb}_float.bin", "metrics.json", "manifest.json", f"{ta}_log.txt", f"{tb}_log.txt",
                     f"pixel_s{s}_f{f}.csv"):
        assert required in names, required
    saved = np.fromfile(w.last_bundle / f"{ta}_float.bin", dtype="<f4").reshape(img_a.shape)
    assert np.array_equal(saved, img_a)
    assert not QtGui.QImage(str(w.last_bundle / "window.png")).isNull()
    first = w.last_bundle
    with qtbot.waitSignal(w.model.exported, timeout=RUN_TIMEOUT_MS):
        assert w.export_snapshot(tmp_path / "snaps")
    assert w.last_bundle != first and first.exists()  # never overwrites an earlier snapshot


def test_cancel_stops_both_engines_kills_c_and_marks_the_views(qtbot, make_window, c_binary):
    """Esc while the C renders: the C process is gone, its side is cancelled, and every panel says the run was
    interrupted (the difference panel never claims 'identical' for what is left). The torch side (B) ran first
    (session.run_order: the in-process engine first) and finished; its image is marked as from an interrupted run."""
    w = make_window(demo_with(detpixels=1024, phisteps=40), c_binary)
    with qtbot.waitSignal(w.model.engine_progress, timeout=60_000,   # the first "NN% done" of the C (side A)
                          check_params_cb=lambda side, _f: side == "a"):
        assert w.run()
    assert my_children(Path(c_binary).name)
    # Esc after the first progress signal (above), not after a fixed sleep; run_finished is the signal the cancel
    # must produce (its timeout is a hang guard, not a bound on promptness: issue 18).
    with qtbot.waitSignal(w.model.run_finished, timeout=120_000):
        qtbot.keyClick(w, QtCore.Qt.Key.Key_Escape)
    assert my_children(Path(c_binary).name) == []
    a, b = w.model.outcome("a"), w.model.outcome("b")
    assert a.cancelled and not a.ok
    assert b.ok and w.model.session.run_order() == ("b", "a")   # B finished before the C started
    assert w.panels.panel_a.showing_error() and "cancelled" in w.panels.panel_a.error_label.text()
    for key in ("a", "b", "diff", "metrics"):
        assert w.views.stale_text(key).startswith("interrupted run"), key
    assert "identical" not in w.panels.diff_panel.title_label.text()
    assert w.actions.run.isEnabled()
    run_and_wait(qtbot, w)  # a finished run is current again
    assert w.views.stale_text("diff") == ""


def test_window_stays_responsive_during_a_run(qtbot, make_window, c_binary, monkeypatch):
    """The GUI thread runs its event loop while an engine is mid-run: ordered, not timed (issue 18). The torch
    engine's render pauses at its first progress report until a GUI-thread timer has beaten; a GUI thread that the
    run blocked could never beat, the render would wait out its 120 s guard and the order below would differ.
    The render itself runs on a worker thread, never on the GUI thread. (The heartbeat gaps of a real run are
    measured, not asserted, by tests/gui/test_gui_cli_flags_003.py's printout.)"""
    import threading

    from simulator import engine
    events: list[str] = []
    mid_run, gui_beat = threading.Event(), threading.Event()
    render_threads: list[bool] = []
    original = engine.render

    def paused_render(*args, progress=None, **kwargs):
        render_threads.append(threading.current_thread() is threading.main_thread())

        def report(*p):
            if not mid_run.is_set():
                events.append("engine paused mid-run")
                mid_run.set()
                if not gui_beat.wait(120):
                    events.append("no GUI beat while the engine waited")
            if progress is not None:
                progress(*p)
        return original(*args, progress=report, **kwargs)
    monkeypatch.setattr(engine, "render", paused_render)
    w = make_window(demo_with(detpixels=512, phisteps=20), c_binary)

    def beat():
        if mid_run.is_set() and not gui_beat.is_set():
            events.append("GUI beat while the engine waited")
            gui_beat.set()
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)  # a GUI-thread timer: the callable runs on the GUI thread
    timer.start()
    with qtbot.waitSignal(w.model.run_finished, timeout=RUN_TIMEOUT_MS):
        assert w.run()
    wait_idle(qtbot, w)
    timer.stop()
    assert w.model.outcome("a").ok and w.model.outcome("b").ok
    assert events == ["engine paused mid-run", "GUI beat while the engine waited"], events
    assert render_threads == [False], render_threads


def test_missing_c_binary_refuses_the_run_and_names_it(qtbot, make_window, tmp_path):
    """A side whose binary does not exist is bad input: the run is refused with the path, nothing starts."""
    missing = tmp_path / "no-such-binary"
    w = make_window(None, missing)
    assert not w.run()
    msg = w.statusBar().currentMessage()
    assert "Run refused" in msg and str(missing) in msg, msg
    assert not w.busy() and w.model.outcome("a") is None


def test_crashing_c_binary_shows_error_and_log_tail(qtbot, make_window, tmp_path):
    script = tmp_path / "crashy"
    script.write_text("#!/bin/sh\necho 'nanoBragg pretending to start'\necho 'about to crash' >&2\nkill -SEGV $$\n")
    script.chmod(0o755)
    w = make_window(None, script)
    run_and_wait(qtbot, w)
    assert not w.model.outcome("a").ok and w.model.outcome("b").ok
    label = w.panels.panel_a.error_label.text()
    assert "failed" in label and ("SIGSEGV" in label or "signal" in label.lower() or "-11" in label), label
    assert "about to crash" in w.panels.panel_a.error_view.toPlainText()
    assert w.panels.image_b() is not None


def test_bad_flag_is_underlined_and_run_refused(qtbot, make_window, c_binary):
    w = make_window(None, c_binary)
    text = w.editor.text() + " -pixel abc -frobnicate 2"
    with qtbot.waitSignal(w.editor.validityChanged, timeout=2000, check_params_cb=lambda ok: not ok):
        w.editor.edit.setPlainText(text)  # validated after a short debounce
    assert not w.actions.run.isEnabled()
    sels = w.editor.edit.extraSelections()
    assert any(s.format.underlineStyle() == QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline for s in sels)
    assert "-pixel" in w.editor.message.text() and "-frobnicate" in w.editor.message.text()
    assert w.editor.edit.diagnostic_at(text.index("abc")).severity == "error"
    assert not w.run()
    assert "Run refused" in w.statusBar().currentMessage() and "-pixel" in w.statusBar().currentMessage()
    assert not w.busy() and w.model.outcome("a") is None


def test_load_images_as_either_side(qtbot, make_window, c_binary, tmp_path):
    import fabio.edfimage
    w = make_window(demo_with(detpixels=64), c_binary)
    a = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    raw = tmp_path / "c.bin"
    a.astype("<f4").tofile(raw)
    edf = tmp_path / "py.edf"
    fabio.edfimage.EdfImage(data=a * 2).write(str(edf))
    assert w.load_image_file("a", str(raw))
    with qtbot.waitSignal(w.model.metrics_ready, timeout=20_000):
        assert w.load_image_file("b", str(edf))
    wait_idle(qtbot, w)
    assert np.array_equal(w.panels.image_a(), a) and np.array_equal(w.panels.image_b(), a * 2)
    assert w.metrics.sum_ratio == pytest.approx(2.0, rel=1e-6)
    bad = tmp_path / "short.bin"
    bad.write_bytes(b"\0" * 10)
    assert not w.load_image_file("a", str(bad))
    assert "64 x 64" in w.statusBar().currentMessage()


def test_loading_an_image_marks_the_traces_stale(qtbot, make_window, c_binary, tmp_path):
    """A trace made before an image was loaded no longer describes what the panels show: the inspector says so;
    a new trace makes it current again."""
    w = make_window(demo_with(detpixels=64), c_binary)
    run_and_wait(qtbot, w)
    inspect_and_wait(qtbot, w, 10, 20)
    assert w.views.stale_text("inspector") == ""
    other = tmp_path / "other.bin"
    np.ones((64, 64), "<f4").tofile(other)
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda view, why: view == "inspector"):
        assert w.load_image_file("b", str(other))
    assert w.views.stale_text("inspector").startswith("stale: traced before the image was loaded")
    inspect_and_wait(qtbot, w, 10, 20)
    assert w.views.stale_text("inspector") == ""


def test_editing_the_command_line_marks_every_view_stale(qtbot, make_window, c_binary):
    """After a run, editing the command line leaves the old images, metrics and traces beside it: each says it
    belongs to the previous command line; undoing the edit makes them current again."""
    w = make_window(demo_with(detpixels=64), c_binary)
    run_and_wait(qtbot, w)
    inspect_and_wait(qtbot, w, 10, 20)
    original = w.editor.text()
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda view, why: view == "inspector"):
        w.editor.edit.setPlainText(original.replace("-lambda 1.0", "-lambda 1.2"))
    for key in ("a", "b", "diff", "metrics", "inspector"):
        assert w.views.stale_text(key) == "stale: from the previous command line", key
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda view, why: why == ""):
        w.editor.edit.setPlainText(original)
    assert w.views.stale_text("a") == ""


def test_run_gui_opens_the_demo_and_runs_it(qtbot, c_binary, monkeypatch, tmp_path):
    """run_gui (what `nbparity gui` calls): window titled nbparity, demo loaded and run automatically."""
    from PySide6 import QtWidgets

    from app.window import lifecycle, main_window
    from app.qt.settings import AppSettings
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    monkeypatch.setattr(main_window, "AppSettings", lambda: AppSettings(qs))
    seen = {}
    made = []

    class Recording(main_window.MainWindow):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)
    monkeypatch.setattr(main_window, "MainWindow", Recording)

    def fake_exec(app):
        assert len(made) == 1
        win = made[0]
        seen["title"] = win.windowTitle()
        seen["status"] = win.statusBar().currentMessage()
        with qtbot.waitSignal(win.model.run_finished, timeout=RUN_TIMEOUT_MS):
            pass
        wait_idle(qtbot, win)
        seen["ok"] = (win.model.outcome("a").ok, win.model.outcome("b").ok)
        win.close()
        return 0
    monkeypatch.setattr(QtWidgets.QApplication, "exec", fake_exec)
    assert lifecycle.run_gui(None, str(c_binary)) == 0
    assert "nbparity" in seen["title"] and "Demo scenario" in seen["status"]
    assert seen["ok"] == (True, True)


def test_mistyped_flag_gets_a_suggestion_and_the_run_says_so(qtbot, make_window, c_binary):
    w = make_window(None, c_binary)
    text = w.editor.text().replace("-lambda", "-lamda")
    with qtbot.waitSignal(w.editor.validityChanged, timeout=2000):
        w.editor.edit.setPlainText(text)
    msg = w.editor.message.text()
    assert "did you mean -lambda?" in msg and "probably a value of -lamda" in msg, msg
    d = w.editor.edit.diagnostic_at(text.index("-lamda"))
    assert d.severity == "warning" and "did you mean -lambda?" in d.message
    assert w.editor.is_valid()  # an unknown flag is a warning, as in the C (which ignores it)
    with qtbot.waitSignal(w.model.run_finished, timeout=RUN_TIMEOUT_MS):
        assert w.run()
        assert "did you mean -lambda?" in w.statusBar().currentMessage()
    wait_idle(qtbot, w)
    assert "warning" in w.statusBar().currentMessage()


def test_carryover_off_makes_the_engines_identical(qtbot, make_window, c_binary, tmp_path):
    """README step 5: C carry-over off → the difference vanishes, the verdict is PASS, no 'max |Δ|' pixel; the
    pixel inspected before the rerun is traced again on the new command line (old traces are forgotten)."""
    w = make_window(None, c_binary)
    run_and_wait(qtbot, w)
    s, f = w.metrics.max_abs_diff_pixel
    with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS):
        w.goto_max()
    wait_idle(qtbot, w)
    assert w.inspector.divergence_tick() == 0
    w.engines.pickers["a"].carry_combo.setCurrentText("off")
    assert w.engines.session_options().a.carryover is False
    with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS):
        assert w.run()
        assert w.inspector.inspection is None and w.inspector.history.count() == 0
        assert "again" in w.inspector.summary.text()
    wait_idle(qtbot, w)
    insp = w.inspector.inspection
    assert (insp.slow, insp.fast) == (s, f) and w.inspector.divergence_tick() is None
    assert "no divergence" in w.inspector.summary.text() and w.inspector.history.count() == 1
    assert w.inspector.inspections() == [insp]  # a snapshot now holds only this run's trace
    assert w.metrics.max_abs_diff == 0 and w.verdict.passed
    assert not np.any(w.panels.diff_raw)
    assert "identical" in w.panels.diff_panel.title_label.text()
    assert "identical" in w.metrics_panel.values["max_abs"].text()
    assert not w.metrics_panel.jump_button.isEnabled() and w.metrics_panel.max_pixel() is None
    assert "PASS" in w.metrics_panel.values["verdict"].text()
    w.goto_max()
    assert "identical" in w.statusBar().currentMessage() and not w.model.tracing()


def test_large_images_are_replanned_on_a_worker(qtbot, make_window, c_binary):
    """Scale and difference-mode changes of multi-megapixel images go to a worker (async_threshold); the
    result equals the synchronous one, and a mode change keeps manual image levels."""
    from app.core import difference as diffmod
    from app.core.scaling import transform
    w = make_window(None, c_binary)
    run_and_wait(qtbot, w)
    w.panels.async_threshold = 1  # treat the demo's 256 x 256 images as large
    c, py = w.panels.image_a(), w.panels.image_b()
    w.panels.set_raw_levels(1e-3, 10.0)
    levels = w.panels.levels()
    with qtbot.waitSignal(w.display.applied, timeout=RUN_TIMEOUT_MS):
        w.panels.set_mode("relative")
        assert "updating" in w.panels.diff_panel.title_label.text()
    assert np.array_equal(w.panels.diff_raw, diffmod.difference(c, py, "relative"))
    assert "updating" not in w.panels.diff_panel.title_label.text()
    assert w.panels.levels() == levels
    with qtbot.waitSignal(w.display.applied, timeout=RUN_TIMEOUT_MS):
        w.panels.set_scale("sqrt")
    assert np.array_equal(w.panels.panel_a._display, transform(c, "sqrt", w.panels._floor))
    assert w.panels.image_a() is c  # the same raw image: the view was kept
