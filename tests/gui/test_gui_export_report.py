"""Snapshots a colleague can read: pictures drawn on the export worker, per-pixel figures, a self-contained
report.html, and a note saying where it all went (with "Open folder")."""
from __future__ import annotations

import re
import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtGui  # noqa: E402

from gui_util import RUN_TIMEOUT_MS, inspect_and_wait, run_and_wait  # noqa: E402

pytestmark = pytest.mark.gui


def test_export_draws_on_a_worker_and_writes_a_readable_report(qtbot, make_window, c_binary, tmp_path,
                                                               monkeypatch):
    from app.window import export as export_mod
    w = make_window(None, c_binary)
    w.auto_trace_view.action.setChecked(False)   # only the two pixels traced here (issue 21's own: its tests)
    run_and_wait(qtbot, w)
    s, f = w.metrics.max_abs_diff_pixel
    inspect_and_wait(qtbot, w, s, f)
    inspect_and_wait(qtbot, w, 0, 0)   # a second pixel: one figure and one table each
    threads = []
    real_render = export_mod.render

    def spy(*args, **kw):
        threads.append(threading.current_thread())
        return real_render(*args, **kw)
    monkeypatch.setattr(export_mod, "render", spy)
    with qtbot.waitSignal(w.model.exported, timeout=RUN_TIMEOUT_MS):
        assert w.export_snapshot(tmp_path / "snaps")
    # The drawing ran on the export worker, not the GUI thread (the window never blocks on it).
    assert threads and threads[0] is not threading.main_thread()
    folder = w.last_bundle
    assert str(folder) in w.statusBar().currentMessage()
    assert w.export_notice.isVisible() and w.export_notice.open_button.text() == "Open folder"
    assert str(folder) in w.export_notice.text()
    names = {p.name for p in folder.iterdir()}
    for required in ("report.html", "panel_a.png", "panel_b.png", "panel_diff.png", "window.png",
                     f"pixel_s{s}_f{f}_figure.png", "pixel_s0_f0_figure.png"):
        assert required in names, required
    fig = QtGui.QImage(str(folder / f"pixel_s{s}_f{f}_figure.png"))
    assert fig.width() == 1500 and fig.height() > 800
    # A panel PNG is wider and taller than the bare image would be: it has pixel axes and a colour bar.
    panel = QtGui.QImage(str(folder / "panel_diff.png"))
    img_shape = w.panels.image_a().shape
    assert panel.width() > img_shape[1] + 100 and panel.height() > img_shape[0] + 60

    html = (folder / "report.html").read_text(encoding="utf-8")
    # Self-contained: every picture is a data: URI; nothing is fetched from anywhere.
    srcs = re.findall(r"src='([^']*)'", html)
    assert len(srcs) == 3 + 2 and all(u.startswith("data:image/png;base64,") for u in srcs)
    assert not re.search(r"(href|src)=['\"]?(https?:|//|file:)", html)
    a, b = w.panels.panel_a.title, w.panels.panel_b.title
    assert f"A = {a} vs B = {b}" in html
    assert f"{w.metrics.correlation:.9g}" in html   # the metrics table
    # One per-φ table per inspected pixel, one row per tick, the demo's divergence at tick 0 highlighted.
    n_ticks = w.model.session.config.sampling.phisteps
    assert html.count("<table><tr><th>tick</th>") == 2
    assert html.count("<tr class='div'><td>0</td>") >= 1
    assert "first divergence at φ tick 0" in html
    rows = html.split(f"id='pixel_s{s}_f{f}'")[1].split("<h3")[0].count("<tr")
    assert rows == n_ticks + 1   # header + one per tick


def test_panel_png_marks_pixels_and_states_the_clipping(qapp):
    from app.bundle.panel_png import clip_note, panel_specs, render_panel
    c = np.zeros((40, 60), np.float32)
    c[10, 20] = 100.0
    py = c.copy()
    py[10, 20] = 90.0
    py[30, 50] = 5.0
    specs = panel_specs(c, py, scale="linear", percentile=99.5, names=("upstream C", "torch"), marks=[(10, 20)])
    assert specs["a"].title == "upstream C" and specs["b"].title == "torch"
    d = specs["diff"]
    assert "A = upstream C, B = torch" in d.title
    # The difference's 99.5th percentile of |Δ| over 2400 px is 0 → the scale falls back to max |Δ| = 10:
    # nothing is beyond it.
    assert d.levels.high == pytest.approx(10.0) and d.note.startswith("colours clip at ±10 photons: 0 px")
    assert clip_note(np.array([1.0, -3.0, 0.5]), type(d.levels)(-1.0, 1.0), "photons").startswith(
        "colours clip at ±1 photons: 1 px (33.33%)")
    img = render_panel(specs["a"])
    # The mark: red pixels around pixel (10, 20) at the image's zoom (60 px wide image drawn 8x).
    from app.bundle.panel_png import AXIS_LEFT, MARGIN
    zoom = 8
    x = MARGIN + AXIS_LEFT + (20 + 0.5) * zoom + zoom / 2 + 2
    y = 40 + (10 + 0.5) * zoom
    col = QtGui.QColor(img.pixel(int(round(x)), int(round(y))))
    assert col.red() > 200 and col.green() < 60, col.name()


def test_headless_bundle_with_png_has_the_report(tmp_path, c_binary):
    """`nbparity compare --png` (write_snapshot png=True) writes report.html too, with its pictures embedded."""
    from app.bundle.snapshot import write_snapshot
    from app.core.demo import demo_argv
    from app.core.session import ComparisonSession
    session = ComparisonSession(demo_argv())
    a, b = session.run_side("a"), session.run_side("b")
    insp = session.inspect_pixel(0, 0)
    folder = write_snapshot(session.record(a, b, inspections=[insp]), tmp_path, png=True)
    html = (folder / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r"src='([^']*)'", html)
    assert len(srcs) == 3 + 1 and all(u.startswith("data:image/png;base64,") for u in srcs)
    assert (folder / "pixel_s0_f0_figure.png").is_file()
    assert session.label("a") in html and "correlation" in html
    assert f"{a.result.wall_s:.2f} s" in html   # the run column of side A
