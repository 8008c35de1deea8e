"""Per-φ images: the slider shows single-tick renders of both sides, cached; clicking inspects; ticks add up."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_util import RUN_TIMEOUT_MS, run_and_wait, wait_laid_out  # noqa: E402

pytestmark = pytest.mark.gui


def by_hand(argv: list[str], phi: str, osc: str) -> list[str]:
    """The single-tick command line written out by hand: -phi φ_i -osc Δ -phisteps 1 replacing the demo's values."""
    out = list(argv)
    out[out.index("-phi") + 1] = phi
    out[out.index("-osc") + 1] = osc
    out[out.index("-phisteps") + 1] = "1"
    return out


def test_slider_shows_single_tick_renders_of_both_sides_and_clicks_inspect(qtbot, make_window, c_binary,
                                                                          monkeypatch):
    import app.widgets.phi_slider
    from app.core.session import ComparisonSession
    from test_gui_window import click_pixel
    # Plan the 256x256 tick images off the GUI thread, as multi-megapixel ones are.
    monkeypatch.setattr(app.widgets.phi_slider, "PLAN_ON_THREAD_PIXELS", 1)
    w = make_window(None, c_binary)
    run_and_wait(qtbot, w)
    view = w.phi_view
    assert view.cache is not None and view.cache.grid.n == 10     # the demo: -phi 0 -osc 1 -phisteps 10
    with qtbot.waitSignal(view.tickShown, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda t: t == 0):
        w.phi_dock.show()     # shown: tick 0 is rendered in the background
    with qtbot.waitSignal(view.tickShown, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda t: t == 3):
        view.slider.setValue(3)
    assert "φ tick 3 of 9" in view.tick_label.text()
    # Tick 3 is φ = 0.3°, step 0.1° (osc 1 / 10 ticks): the same images as single-tick runs of each engine.
    session = w.model.session
    direct = ComparisonSession(by_hand(session.argv, "0.3", "0.1"), session.options, cwd=session.cwd)
    a_img = direct.run_side("a").result.image
    b_img = direct.run_side("b").result.image
    assert np.array_equal(view.panels.image_a(), a_img)
    assert np.array_equal(view.panels.image_b(), b_img)
    assert not np.array_equal(a_img, w.panels.image_a())       # a tick image is not the full image
    # Back to tick 0: cached, shown at once (the signal comes before setValue returns).
    with qtbot.waitSignal(view.tickShown, timeout=1000, check_params_cb=lambda t: t == 0):
        view.slider.setValue(0)
    # A click on a tick image inspects that pixel in the main inspector.
    wait_laid_out(qtbot, view)   # the dock's panels at their laid-out size, so a click maps to its pixel
    # Zoomed in, so one image pixel spans several screen pixels (zoomed out, a click's integer screen position
    # can round into the neighbouring image pixel, depending on the panel's exact size).
    view.panels.center_on(100, 120, half_width=20)
    with qtbot.waitSignal(w.model.inspection_ready, timeout=RUN_TIMEOUT_MS):
        click_pixel(qtbot, view.panels.panel_b, 100, 120)
    assert (w.inspector.inspection.slow, w.inspector.inspection.fast) == (100, 120)
    # Editing the command line marks the tick images as the previous command line's.
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda v, r: v == "images" and bool(r)):
        w.editor.set_argv(by_hand(session.argv, "0", "2"))
    assert view.stale_reason and view.stale_reason in view.panels.panel_a.title


def test_tick_images_add_up_to_the_full_image(c_binary):
    """Σ_i tick_i / N is the N-tick image of an engine without carried state (spec §15; each tick run divides by
    steps = 1): the PyTorch side of the demo (carry-over off) within float32 rounding."""
    from app.core.demo import demo_argv
    from app.core.phi_ticks import TickCache
    from app.core.session import ComparisonSession
    session = ComparisonSession(demo_argv())
    full = session.run_side("b").result.image.astype(np.float64)
    cache = TickCache(session)
    n = cache.grid.n
    total = sum(cache.render("b", i).image.astype(np.float64) for i in range(n)) / n
    assert np.allclose(total, full, rtol=2e-5, atol=1e-6 * full.max())
    assert "10 φ ticks × 2 sides = 20 single-tick renders" in cache.estimate()
    # The cache keeps what it rendered: a second ask is the same array, not a new render.
    assert cache.render("b", 4).image is cache.get("b", 4)
