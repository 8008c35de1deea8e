"""First image in the window (issue 19): Run on CLI-FLAGS-003 (2463 x 2527) with the PyTorch engine in float32 on
side A and our C reference on side B; the torch image is drawn as soon as it arrives, without waiting for the C.

The time from Run to the first image drawn (the display plan applied) is printed with the load average (goal: 1 s),
never asserted. Asserted, from the display planner's `applied` signal: one plan shows side A's image while side B
has none yet, and the last shows both.

Then a click on pixel (685, 1039) after that Run (panel A's `pixelClicked`, what a left click on the image emits):
the time from the click to the inspector's `inspectionShown` (plots, table and pipeline diff drawn: `show_inspection`
emits it last) is printed (issue 19, goal 300 ms), never asserted. Asserted: both traces have the 10 phi ticks and
the per-phi comparison is there.
"""
from __future__ import annotations

import time

import pytest

pytest.importorskip("pytestqt")

from gui_util import wait_idle  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.slow]
RUN_TIMEOUT_MS = 900_000   # the C's full 6.2-megapixel render on a small shared machine


def test_first_image_within_a_second_of_run(qtbot, make_window, cli_flags_003, c_binary):
    from app.core.known_cases import cli_flags_003_args
    from app.core.session import SideOptions

    w = make_window(cli_flags_003_args(cli_flags_003))
    w.engines.pickers["a"].set_side_options(SideOptions("torch:float32"))
    w.engines.pickers["b"].set_side_options(SideOptions("cref"))
    assert w.editor.is_valid(), w.editor.message.text()
    events: list[tuple[str, float]] = []
    t0 = [0.0]
    w.model.engine_finished.connect(lambda side, _o: events.append((f"{side} finished", time.perf_counter())))
    w.display.applied.connect(lambda: events.append(
        ("applied " + "".join(k for k, img in zip("ab", w.display.shown, strict=True) if img is not None),
         time.perf_counter())))
    with qtbot.waitSignal(w.model.run_finished, timeout=RUN_TIMEOUT_MS):
        t0[0] = time.perf_counter()
        assert w.run()
    wait_idle(qtbot, w, RUN_TIMEOUT_MS)
    assert w.model.outcome("a").ok and w.model.outcome("b").ok
    names = [e for e, _ in events]
    assert "applied a" in names, names            # side A drawn alone, before the C's image arrived
    assert names.index("applied a") < names.index("b finished")
    assert names[-1] == "applied ab", names
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print("\nRun -> events on CLI-FLAGS-003 (torch float32 | cref), load " + load + ": "
          + ", ".join(f"{e} {1000 * (t - t0[0]):.0f} ms" for e, t in events))

    # Issue 19: click -> all plots, in the window after the Run.
    from app.core.known_cases import CLI_FLAGS_003_PIXEL
    slow, fast = CLI_FLAGS_003_PIXEL
    with qtbot.waitSignal(w.inspector.inspectionShown, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda s, f: (s, f) == (slow, fast)):
        t_click = time.perf_counter()
        w.panels.panel_a.pixelClicked.emit(slow, fast)
    t_plots = time.perf_counter()
    insp = w.inspector.inspection
    assert (insp.slow, insp.fast) == (slow, fast) and insp.errors == {}, insp.errors
    assert len(insp.traces["a"].series()) == 10 and len(insp.traces["b"].series()) == 10   # -phisteps 10
    assert insp.comparison is not None
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"\nclick -> plots in the window after Run, CLI-FLAGS-003 ({slow}, {fast}) (torch float32 | cref), load "
          f"{load}: {1000 * (t_plots - t_click):.0f} ms")
