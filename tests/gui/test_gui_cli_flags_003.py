"""The real CLI-FLAGS-003 case in the real window: full 2463 x 2527 images on both engines, and the φ inspector on
pixel (slow 685, fast 1039) showing the C's φ=0 carry-over signature (spec 8.3 / 11.1, issue requirement).

Defaults only: the C reference carries the lattice over at φ = 0, the PyTorch engine rotates afresh. So at tick 0
the C's k equals its k at tick 9 (-0.607255839576692) while PyTorch's k is the unrotated one (about -0.589168),
and the first divergence is tick 0. Needs ../shared/data/cli-flags-003 beside the clone (skipped otherwise).
"""
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from gui_util import run_and_wait, wait_idle  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SHAPE = (2527, 2463)                   # (slow, fast)
PIXEL = (685, 1039)                    # (slow, fast)
N_TICKS = 10
C_K = -0.607255839576692               # the C's k at ticks 0 and 9 (spec 8.3)
PY_K0 = -0.589168                      # PyTorch's fresh rotation at tick 0
RUN_TIMEOUT_MS = 900_000               # two full 6.2-megapixel renders on a small shared machine
# Issue 18: the click → inspection time and the heartbeat gaps are printed (measurements), not asserted: a busy
# machine stretches them. What is asserted is that the GUI thread kept beating while the engines ran.


def test_cli_flags_003_full_image_and_carryover_signature(qtbot, tmp_path, cli_flags_003, c_binary):
    from app.core.known_cases import CLI_FLAGS_003_PIXEL, cli_flags_003_args
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings

    assert CLI_FLAGS_003_PIXEL == PIXEL
    qs = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(cli_flags_003_args(cli_flags_003), str(c_binary), settings=AppSettings(qs), install_hook=False)
    qtbot.addWidget(w)
    try:
        w.resize(1500, 950)
        w.show()
        qtbot.waitExposed(w)
        assert w.editor.is_valid(), w.editor.message.text()
        opts = w.engines.session_options()
        assert opts.a.carryover is None and opts.b.carryover is None  # the engines' own defaults

        # Heartbeat: a 10 ms GUI-thread timer; record every gap from Run until the window is idle again
        # (engines, display plans of both images, metrics).
        gaps: list[tuple[float, float]] = []   # (seconds since Run, gap)
        t_run = [0.0]
        last = [time.perf_counter()]

        def beat():
            now = time.perf_counter()
            if not w.idle():
                gaps.append((now - t_run[0], now - last[0]))
            last[0] = now
        timer = QtCore.QTimer()
        timer.setInterval(10)
        timer.timeout.connect(beat)  # a GUI-thread timer: the callable runs on the GUI thread
        timer.start()
        t_run[0] = time.perf_counter()
        run_and_wait(qtbot, w, RUN_TIMEOUT_MS)
        timer.stop()
        run_s = time.perf_counter() - t_run[0]

        a, b = w.model.outcome("a"), w.model.outcome("b")
        assert a.ok, (a.error, a.log_tail)
        assert b.ok, (b.error, b.log_tail)
        img_a, img_b = a.result.image, b.result.image
        assert img_a.shape == SHAPE and img_b.shape == SHAPE
        assert w.panels.image_a().shape == SHAPE and w.panels.image_b().shape == SHAPE
        assert np.array_equal(w.panels.image_a(), img_a) and np.array_equal(w.panels.image_b(), img_b)
        assert w.metrics is not None and w.metrics.n_pixels == SHAPE[0] * SHAPE[1]

        worst_at, worst = max(gaps, key=lambda g: g[1])
        print(f"\nCLI-FLAGS-003 run: {run_s:.1f} s until idle (A {a.result.wall_s:.1f} s, B "
              f"{b.result.wall_s:.1f} s); {len(gaps)} heartbeats, max gap {worst * 1000:.0f} ms at "
              f"{worst_at:.2f} s after Run; gaps > 100 ms: "
              f"{[(round(t, 2), round(g * 1000)) for t, g in gaps if g > 0.1]}")

        # The inspector on the carry-over pixel.
        s, f = PIXEL
        t_click = time.perf_counter()
        with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS):
            assert w.inspect_pixel(s, f)
        click_s = time.perf_counter() - t_click
        print(f"click → inspection ready on pixel {PIXEL}: {click_s:.2f} s (both sides traced)")
        insp = w.inspector.inspection
        assert (insp.slow, insp.fast) == PIXEL
        assert insp.error_a is None and insp.error_b is None, (insp.error_a, insp.error_b)
        for field in ("h_frac", "k_frac", "l_frac", "F_latt_a", "F_latt_b", "F_latt_c", "F_latt"):
            for eng in ("a", "b"):
                ticks, values = w.inspector.curve_data(field, eng)
                assert ticks.tolist() == list(range(N_TICKS)), (field, eng, ticks)
                assert len(values) == N_TICKS
        _, c_k = w.inspector.curve_data("k_frac", "a")
        _, py_k = w.inspector.curve_data("k_frac", "b")
        assert c_k[0] == c_k[9]                                  # the stale lattice: tick 0 reuses tick 9's
        assert c_k[0] == pytest.approx(C_K, abs=1e-12)
        assert py_k[0] == pytest.approx(PY_K0, abs=2e-6)         # PyTorch: a fresh rotation at φ = 0
        assert abs(c_k[0] - py_k[0]) > 1e-2
        np.testing.assert_allclose(py_k[1:], c_k[1:], atol=1e-9)  # later ticks agree
        assert w.inspector.divergence_tick() == 0
        assert "first divergence at φ tick 0" in w.inspector.summary.text()
        status = w.statusBar().currentMessage()
        assert "tick 0" in status and "685" in status and "1039" in status, status

        # A new user's next clicks on these 6.2-megapixel images: another colour scale, another difference mode.
        # Both are computed on a worker; the window keeps beating meanwhile.
        from app.core import difference as diffmod
        t_run[0] = time.perf_counter()
        gaps_run, gaps[:] = list(gaps), []
        last[0] = time.perf_counter()
        timer.start()
        w.panels.set_scale("sqrt")
        w.panels.set_mode("relative")
        wait_idle(qtbot, w, 60_000)
        timer.stop()
        view_gaps, gaps[:] = list(gaps), gaps_run
        assert np.array_equal(w.panels.diff_raw, diffmod.difference(img_a, img_b, "relative"))
        assert w.panels.panel_a._display.max() == pytest.approx(float(np.sqrt(img_a.max())), rel=1e-6)
        view_worst = max((g for _, g in view_gaps), default=0.0)
        print(f"scale + mode change: {len(view_gaps)} heartbeats, max gap {view_worst * 1000:.0f} ms")

        # Responsiveness as a count (issue 18): the GUI thread's timer kept firing while the engines ran.
        assert len(gaps) > 0, "the GUI thread never beat during the run"
    finally:
        w.shutdown()
