"""First image in the window (issue 19): Run on CLI-FLAGS-003 (2463 x 2527) with the PyTorch engine in float32 on
side A and our C reference on side B; the torch image is drawn as soon as it arrives, without waiting for the C.

The times are printed with the load average, never asserted: Run -> side A drawn (goal 1 s; A's engine finished ->
drawn, goal 150 ms) and B's engine finished -> both drawn (goal 400 ms), where "drawn" is the first paint of the
panel's view after the plan that holds its image was applied. Asserted, from the display planner's `applied`
signal: one plan shows side A's image while side B has none yet, the last shows both, and the run's metrics arrive
after that last plan (they wait for the display: the images get the cores first).

Then a click on pixel (685, 1039) after that Run (panel A's `pixelClicked`, what a left click on the image emits):
the time from the click to the inspector's `inspectionShown` (plots, table and pipeline diff drawn: `show_inspection`
emits it last) is printed (issue 19, goal 300 ms), never asserted. Asserted: both traces have the 10 phi ticks and
the per-phi comparison is there.
"""
from __future__ import annotations

import time

import pytest
from PySide6 import QtCore

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
    w.model.metrics_ready.connect(lambda *_a: events.append(("metrics", time.perf_counter())))
    painted = PaintLog(events, {"a": w.panels.panel_a, "b": w.panels.panel_b, "diff": w.panels.diff_panel})
    with qtbot.waitSignal(w.model.run_finished, timeout=RUN_TIMEOUT_MS):
        t0[0] = time.perf_counter()
        assert w.run()
    wait_idle(qtbot, w, RUN_TIMEOUT_MS)
    with qtbot.waitSignal(painted.all_seen, timeout=5_000):   # B and the difference painted after the last plan
        painted.want({"b", "diff"}, after="applied ab")
    painted.remove()
    assert w.model.outcome("a").ok and w.model.outcome("b").ok
    names = [e for e, _ in events]
    applied = [n for n in names if n.startswith("applied")]
    assert "applied a" in names, names            # side A drawn alone, before the C's image arrived
    assert names.index("applied a") < names.index("b finished")
    assert applied[-1] == "applied ab", names
    assert names.index("metrics") > names.index("applied ab"), names   # the metrics waited for the images
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    at = {e: t for e, t in reversed(events)}      # each event's first time
    a_drawn = painted.first("a", after="applied a")
    both = max(painted.first(k, after="applied ab") for k in ("b", "diff"))
    print("\nRun -> events on CLI-FLAGS-003 (torch float32 | cref), load " + load + ": "
          + ", ".join(f"{e} {1000 * (t - t0[0]):.0f} ms" for e, t in events))
    print(f"issue 19: Run -> A drawn {1000 * (a_drawn - t0[0]):.0f} ms (A finished -> drawn "
          f"{1000 * (a_drawn - at['a finished']):.0f} ms; goals 1000 and 150), B finished -> both drawn "
          f"{1000 * (both - at['b finished']):.0f} ms (goal 400), B finished -> metrics "
          f"{1000 * (at['metrics'] - at['b finished']):.0f} ms, load {load}")


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


class PaintLog(QtCore.QObject):
    """Appends ('<key> painted', time) to `events` for every paint of each panel's graphics view; all_seen is
    emitted once the panels named by want() have painted after the event it names (at once if they already have)."""

    all_seen = QtCore.Signal()

    def __init__(self, events: list, panels: dict):
        super().__init__()
        self.events = events
        self._wanted: tuple[set, str] | None = None
        self.views = {p.graphics.viewport(): key for key, p in panels.items()}
        for v in self.views:
            v.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QtCore.QEvent.Type.Paint and obj in self.views:
            self.events.append((f"{self.views[obj]} painted", time.perf_counter()))
            self._check()
        return False

    def want(self, keys: set, after: str) -> None:
        self._wanted = (keys, after)
        self._check()

    def _check(self) -> None:
        if self._wanted is not None and self.seen(*self._wanted):
            self._wanted = None
            self.all_seen.emit()

    def remove(self) -> None:
        for v in self.views:
            v.removeEventFilter(self)

    def first(self, key: str, after: str) -> float:
        """Time of `key`'s first paint after the event named `after`."""
        names = [e for e, _ in self.events]
        start = names.index(after)
        return next(t for e, t in self.events[start:] if e == f"{key} painted")

    def seen(self, keys: set, after: str) -> bool:
        names = [e for e, _ in self.events]
        return after in names and keys <= {e.split()[0] for e in names[names.index(after):] if e.endswith("painted")}
