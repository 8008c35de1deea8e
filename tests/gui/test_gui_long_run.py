"""Issue 8: the window shows the work estimate and asks before a run that would take minutes."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtWidgets  # noqa: E402

pytestmark = pytest.mark.gui

# 1024 x 1024 pixels x 2x2 sub-pixels x 3000 phi ticks = 1.26e10 path evaluations: at the estimate's
# simulator.budget.PATHS_PER_SECOND (6e6/s) about 35 min, far past app.window.window_io.LONG_RUN_S (120 s).
LONG = ("-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.1 -detpixels 1024 "
        "-oversample 2 -phi 0 -osc 30 -phisteps 3000").split()
SHORT = "-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.1 -detpixels 16".split()


def _answer(monkeypatch, button):
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return button
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    return asked


def test_a_run_of_hours_is_shown_and_declining_starts_nothing(qtbot, make_window, c_binary, monkeypatch):
    from simulator import engine, setup
    w = make_window(LONG, c_binary)
    asked = _answer(monkeypatch, QtWidgets.QMessageBox.No)
    # The quick estimate renders nothing and builds no set-up (counted, not timed: issue 18).
    calls = []
    monkeypatch.setattr(engine, "render", lambda *a, **k: calls.append("render"))
    monkeypatch.setattr(setup, "build_setup", lambda *a, **k: calls.append("build_setup"))
    assert w.run() is False
    assert calls == []
    assert len(asked) == 1
    # the sentence names the work (1.26e+10 path evaluations) and a time in hours
    assert "1.26e+10 path evaluations" in asked[0] and "35 min on this machine" in asked[0], asked[0]
    assert not w.model.busy and w.model.session is None
    assert "declined" in w.statusBar().currentMessage()


def test_auto_oversampling_is_asked_about_before_the_run(qtbot, make_window, c_binary, monkeypatch):
    """Issue 22: -xtalsize 0.1 auto-selects 3000x3000 sub-pixels (ceil(3 * 0.1 mm / (1 A * 100 mm / 0.1 mm))):
    16 x 16 x 3000^2 = 2.3e9 path evaluations, 384 s at 6e6/s, so the window asks and names the sub-pixels."""
    w = make_window(SHORT + ["-xtalsize", "0.1"], c_binary)
    asked = _answer(monkeypatch, QtWidgets.QMessageBox.No)
    assert w.run() is False
    assert len(asked) == 1 and "3000x3000 sub-pixels" in asked[0] and "2.3e+09 path evaluations" in asked[0]
    assert "6 min" in asked[0] and not w.model.busy


def test_accepting_starts_the_run_and_a_short_run_is_not_asked(qtbot, make_window, c_binary, monkeypatch):
    w = make_window(LONG, c_binary)
    _answer(monkeypatch, QtWidgets.QMessageBox.Yes)
    with qtbot.waitSignal(w.model.started, timeout=5000):
        assert w.run() is True
    w.model.cancel()
    w2 = make_window(SHORT, c_binary)
    asked = _answer(monkeypatch, QtWidgets.QMessageBox.No)
    with qtbot.waitSignal(w2.model.started, timeout=5000):
        assert w2.run() is True
    assert asked == []


def test_the_window_warms_the_engine_up_in_the_background(qtbot, make_window, c_binary):
    """Issue 9: at start the window loads (or builds) the compiled kernel on a daemon thread; it
    ends by itself, and the first render then runs the compiled kernel where a compiler is available."""
    from simulator.argv import parse_argv
    from simulator import compiled
    from simulator.engine import render

    w = make_window(SHORT, c_binary)
    assert w.warm_up.daemon and w.warm_up.name == "nbparity-warm-up"
    w.warm_up.join(180)
    assert not w.warm_up.is_alive()
    res = render(parse_argv(SHORT).config)
    expected = "compiled" if compiled.kernel() is not None else "torch"
    assert res.meta["kernel"] == expected, compiled.unavailable_reason()
