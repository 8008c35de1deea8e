"""Issue 19: an image is drawn before anything else takes the cores. After the first engine (the demo's side B: our
in-process engine runs first, session.run_order) the display plan of its image runs alone; the other side's engine
(the C on side A) starts once that plan is applied, and the run's metrics once the last plan (both images, the
difference) is: the order of the model's and the planner's signals says so."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from gui_util import run_and_wait  # noqa: E402

pytestmark = pytest.mark.gui


def test_next_engine_and_metrics_wait_for_the_display(qtbot, make_window, c_binary, monkeypatch):
    w = make_window(None, c_binary)                      # the demo: one side after the other
    events: list[str] = []
    start = w.model._start_engine
    monkeypatch.setattr(w.model, "_start_engine", lambda side: (events.append(f"start {side}"), start(side))[1])
    w.model.engine_finished.connect(lambda side, _o: events.append(f"{side} finished"))
    w.display.applied.connect(lambda: events.append(
        "applied " + "".join(k for k, img in zip("ab", w.display.shown, strict=True) if img is not None)))
    w.model.metrics_ready.connect(lambda *_a: events.append("metrics"))
    run_and_wait(qtbot, w)                               # idle only once the held metrics have run
    assert w.model.session.run_order() == ("b", "a")
    assert events == ["start b", "b finished", "applied b", "start a", "a finished", "applied ab", "metrics"]
    assert not w.model.parallel and w.model.idle() and w.metrics is not None
