"""The real window with the real engines: run the demo, trace a pixel, export, cancel, stay responsive, fail well."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtGui  # noqa: E402

pytestmark = pytest.mark.gui

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Factory: a MainWindow on a command line (None = demo) with throw-away settings."""
    from app.main_window import MainWindow
    from app.settings import AppSettings
    made = []

    def make(argv=None, c_binary=None):
        qs = QtCore.QSettings(str(tmp_path / f"settings{len(made)}.ini"), QtCore.QSettings.Format.IniFormat)
        w = MainWindow(argv, str(c_binary) if c_binary else None, settings=AppSettings(qs), install_hook=False)
        qtbot.addWidget(w)
        w.resize(1500, 950)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w
    yield make
    for w in made:
        w.shutdown()


def demo_with(**changes) -> list[str]:
    from app.demo import demo_argv
    argv = demo_argv()
    for flag, value in changes.items():
        i = argv.index(f"-{flag}")
        argv[i + 1] = str(value)
    return argv


def wait_run(qtbot, w, metrics=True):
    qtbot.waitUntil(lambda: not w.busy() and w.c_outcome is not None and w.py_outcome is not None,
                    timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(w.idle, timeout=RUN_TIMEOUT_MS)  # display plans and metrics are computed on workers
    if metrics and w.c_outcome.ok and w.py_outcome.ok:
        assert w.metrics is not None


def c_children(binary: Path) -> list[int]:
    """Live (not zombie) processes of this test process running `binary`, from /proc."""
    me, out = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == me and state != "Z" and Path(cmd).name == binary.name:
            out.append(int(d.name))
    return out


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
    assert w.run()
    wait_run(qtbot, w)
    assert w.c_outcome.ok and w.py_outcome.ok, (w.c_outcome.error, w.py_outcome.error)
    c_img, py_img = w.c_outcome.result.image, w.py_outcome.result.image
    assert np.array_equal(w.panels.c_image(), c_img)
    assert np.array_equal(w.panels.py_image(), py_img)
    assert np.allclose(w.panels.diff_raw, c_img.astype(np.float64) - py_img, atol=1e-5)
    # the metrics panel shows the session's numbers, and the demo's carry-over makes the engines differ
    assert w.metrics.max_abs_diff > 0
    assert w.metrics_panel.values["correlation"].text() == f"{w.metrics.correlation:.9f}"
    # hover readout shows raw values
    s, f = w.metrics.max_abs_diff_pixel
    text = w.readout_text(s, f)
    assert f"C {c_img[s, f]:.6g}" in text and "2θ" in text and "d " in text

    # click the max |Δ| pixel in the C panel: both engines are traced, one point per φ tick each
    w.panels.c_panel.center_on(s, f, half_width=20)
    qtbot.wait(50)
    click_pixel(qtbot, w.panels.c_panel, s, f)
    qtbot.waitUntil(lambda: w.inspector.inspection is not None and "inspect" not in w.jobs, timeout=RUN_TIMEOUT_MS)
    insp = w.inspector.inspection
    assert (insp.slow, insp.fast) == (s, f)
    assert insp.c_error is None and insp.py_error is None
    n_ticks = w.session.config.sampling.phisteps
    for field in ("h_frac", "k_frac", "l_frac", "F_latt_a", "F_latt_b", "F_latt_c", "F_latt"):
        for eng in ("c", "py"):
            ticks, _ = w.inspector.curve_data(field, eng)
            assert ticks.tolist() == list(range(n_ticks)), (field, eng)
    assert w.inspector.divergence_tick() == 0
    assert "first divergence at φ tick 0" in w.inspector.summary.text()
    assert "hkl(tick 0)" in w.readout_text(s, f)

    # export: a new timestamped folder with pictures and data
    assert w.export_snapshot(tmp_path / "snaps")
    qtbot.waitUntil(lambda: w.last_bundle is not None, timeout=RUN_TIMEOUT_MS)
    names = {p.name for p in w.last_bundle.iterdir()}
    for required in ("window.png", "panel_c.png", "panel_py.png", "panel_diff.png", "inspector_plots.png",
                     "c_float.bin", "torch_float.bin", "metrics.json", "manifest.json", "c_log.txt",
                     "torch_log.txt", f"pixel_s{s}_f{f}.csv"):
        assert required in names, required
    saved = np.fromfile(w.last_bundle / "c_float.bin", dtype="<f4").reshape(c_img.shape)
    assert np.array_equal(saved, c_img)
    assert not QtGui.QImage(str(w.last_bundle / "window.png")).isNull()
    first = w.last_bundle
    w.last_bundle = None
    assert w.export_snapshot(tmp_path / "snaps")
    qtbot.waitUntil(lambda: w.last_bundle is not None, timeout=RUN_TIMEOUT_MS)
    assert w.last_bundle != first and first.exists()  # never overwrites an earlier snapshot


def test_cancel_stops_both_engines_and_kills_c(qtbot, make_window, c_binary):
    w = make_window(demo_with(detpixels=1024, phisteps=40), c_binary)
    assert w.run()
    qtbot.waitUntil(lambda: bool(c_children(Path(c_binary))), timeout=20_000)
    qtbot.wait(300)
    t0 = time.monotonic()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.busy(), timeout=30_000)
    assert time.monotonic() - t0 < 20
    assert c_children(Path(c_binary)) == []
    assert w.c_outcome.cancelled and not w.c_outcome.ok
    assert not w.py_outcome.ok  # torch stopped at its next chunk
    assert w.panels.c_panel.showing_error() and "cancelled" in w.panels.c_panel.error_label.text()
    assert w.run_action.isEnabled()


def test_window_stays_responsive_during_a_run(qtbot, make_window, c_binary):
    w = make_window(demo_with(detpixels=512, phisteps=20), c_binary)
    qtbot.wait(500)  # let the first layout and paint of a new window settle: this test is about runs
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        if w.busy():
            gaps.append(now - last[0])
        last[0] = now
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)  # a GUI-thread timer: the callable runs on the GUI thread
    timer.start()
    assert w.run()
    wait_run(qtbot, w, metrics=False)
    timer.stop()
    assert w.c_outcome.ok and w.py_outcome.ok
    assert len(gaps) > 20, "the run was too short to measure"
    assert max(gaps) < 0.1, f"GUI thread stalled {max(gaps) * 1000:.0f} ms during a run ({len(gaps)} beats)"


def test_missing_c_binary_shows_error_but_torch_image(qtbot, make_window, tmp_path):
    w = make_window(None, tmp_path / "no-such-binary")
    assert w.run()
    wait_run(qtbot, w)
    assert not w.c_outcome.ok and w.py_outcome.ok
    assert w.panels.c_panel.showing_error()
    assert "not found" in w.panels.c_panel.error_label.text()
    assert np.array_equal(w.panels.py_image(), w.py_outcome.result.image)
    assert "failed" in w.statusBar().currentMessage()


def test_crashing_c_binary_shows_error_and_log_tail(qtbot, make_window, tmp_path):
    script = tmp_path / "crashy"
    script.write_text("#!/bin/sh\necho 'nanoBragg pretending to start'\necho 'about to crash' >&2\nkill -SEGV $$\n")
    script.chmod(0o755)
    w = make_window(None, script)
    assert w.run()
    wait_run(qtbot, w)
    assert not w.c_outcome.ok and w.py_outcome.ok
    label = w.panels.c_panel.error_label.text()
    assert "failed" in label and ("SIGSEGV" in label or "signal" in label.lower() or "-11" in label), label
    assert "about to crash" in w.panels.c_panel.error_view.toPlainText()
    assert w.panels.py_image() is not None


def test_bad_flag_is_underlined_and_run_refused(qtbot, make_window, c_binary):
    w = make_window(None, c_binary)
    text = w.editor.text() + " -pixel abc -frobnicate 2"
    w.editor.edit.setPlainText(text)
    qtbot.waitUntil(lambda: not w.editor.is_valid(), timeout=2000)  # debounced validation
    assert not w.run_action.isEnabled()
    sels = w.editor.edit.extraSelections()
    assert any(s.format.underlineStyle() == QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline for s in sels)
    assert "-pixel" in w.editor.message.text() and "-frobnicate" in w.editor.message.text()
    assert w.editor.edit.diagnostic_at(text.index("abc")).severity == "error"
    assert not w.run()
    assert "Run refused" in w.statusBar().currentMessage() and "-pixel" in w.statusBar().currentMessage()
    assert not w.busy() and w.c_outcome is None


def test_load_images_as_either_side(qtbot, make_window, c_binary, tmp_path):
    import fabio.edfimage
    w = make_window(demo_with(detpixels=64), c_binary)
    a = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    raw = tmp_path / "c.bin"
    a.astype("<f4").tofile(raw)
    edf = tmp_path / "py.edf"
    fabio.edfimage.EdfImage(data=a * 2).write(str(edf))
    assert w.load_image_file("c", str(raw))
    assert w.load_image_file("py", str(edf))
    qtbot.waitUntil(w.idle, timeout=20_000)
    assert np.array_equal(w.panels.c_image(), a) and np.array_equal(w.panels.py_image(), a * 2)
    qtbot.waitUntil(lambda: w.metrics is not None, timeout=20_000)
    assert w.metrics.sum_ratio == pytest.approx(2.0, rel=1e-6)
    bad = tmp_path / "short.bin"
    bad.write_bytes(b"\0" * 10)
    assert not w.load_image_file("c", str(bad))
    assert "64 x 64" in w.statusBar().currentMessage()


def test_run_gui_opens_the_demo_and_runs_it(qtbot, c_binary, monkeypatch, tmp_path):
    """run_gui (what `nbparity gui` calls): window titled nbparity, demo loaded and run automatically."""
    from PySide6 import QtWidgets

    from app import main_window
    from app.settings import AppSettings
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
        qtbot.waitUntil(lambda: win.c_outcome is not None and win.py_outcome is not None and win.idle(),
                        timeout=RUN_TIMEOUT_MS)
        seen["ok"] = (win.c_outcome.ok, win.py_outcome.ok)
        win.close()
        return 0
    monkeypatch.setattr(QtWidgets.QApplication, "exec", fake_exec)
    assert main_window.run_gui(None, str(c_binary)) == 0
    assert "nbparity" in seen["title"] and "Demo scenario" in seen["status"]
    assert seen["ok"] == (True, True)


def test_mistyped_flag_gets_a_suggestion_and_the_run_says_so(qtbot, make_window, c_binary):
    w = make_window(None, c_binary)
    text = w.editor.text().replace("-lambda", "-lamda")
    w.editor.edit.setPlainText(text)
    qtbot.waitUntil(lambda: "-lamda" in w.editor.message.text(), timeout=2000)
    msg = w.editor.message.text()
    assert "did you mean -lambda?" in msg and "probably a value of -lamda" in msg, msg
    d = w.editor.edit.diagnostic_at(text.index("-lamda"))
    assert d.severity == "warning" and "did you mean -lambda?" in d.message
    assert w.editor.is_valid()  # an unknown flag is a warning, as in the C (which ignores it)
    assert w.run()
    assert "did you mean -lambda?" in w.statusBar().currentMessage()
    wait_run(qtbot, w)
    assert "warning" in w.statusBar().currentMessage()


def test_carryover_off_makes_the_engines_identical(qtbot, make_window, c_binary, tmp_path):
    """README step 5: C carry-over off → the difference vanishes, the verdict is PASS, no 'max |Δ|' pixel; the
    pixel inspected before the rerun is traced again on the new command line (old traces are forgotten)."""
    w = make_window(None, c_binary)
    assert w.run()
    wait_run(qtbot, w)
    s, f = w.metrics.max_abs_diff_pixel
    w.goto_max()
    qtbot.waitUntil(lambda: w.inspector.inspection is not None and w.idle(), timeout=RUN_TIMEOUT_MS)
    assert w.inspector.divergence_tick() == 0
    w.editor.c_carry_combo.setCurrentText("off")
    assert w.editor.engine_options().c_carryover is False
    assert w.run()
    assert w.inspector.inspection is None and w.inspector.history.count() == 0
    assert "again" in w.inspector.summary.text()
    wait_run(qtbot, w)
    qtbot.waitUntil(lambda: w.inspector.inspection is not None and w.idle(), timeout=RUN_TIMEOUT_MS)
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
    assert "identical" in w.statusBar().currentMessage() and "inspect" not in w.jobs


def test_large_images_are_replanned_on_a_worker(qtbot, make_window, c_binary):
    """Scale and difference-mode changes of multi-megapixel images go to a worker (async_threshold); the
    result equals the synchronous one, and a mode change keeps manual image levels."""
    from app import difference as diffmod
    from app.scaling import transform
    w = make_window(None, c_binary)
    assert w.run()
    wait_run(qtbot, w)
    w.panels.async_threshold = 1  # treat the demo's 256 x 256 images as large
    c, py = w.panels.c_image(), w.panels.py_image()
    w.panels.set_raw_levels(1e-3, 10.0)
    levels = w.panels.levels()
    w.panels.set_mode("relative")
    assert "updating" in w.panels.diff_panel.title_label.text()
    qtbot.waitUntil(w.idle, timeout=RUN_TIMEOUT_MS)
    assert np.array_equal(w.panels.diff_raw, diffmod.difference(c, py, "relative"))
    assert "updating" not in w.panels.diff_panel.title_label.text()
    assert w.panels.levels() == levels
    w.panels.set_scale("sqrt")
    qtbot.waitUntil(w.idle, timeout=RUN_TIMEOUT_MS)
    assert np.array_equal(w.panels.c_panel._display, transform(c, "sqrt", w.panels._floor))
    assert w.panels.c_image() is c  # the same raw image: the view was kept
