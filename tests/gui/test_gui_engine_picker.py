"""The engine pickers and named engine profiles (issue 7): each side's choice is an ENGINE spelling with its
carry-over and threads; a profile keeps one under a name in the settings, for both sides and for the next start."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from gui_util import demo_with, run_and_wait  # noqa: E402

pytestmark = pytest.mark.gui


def settings_at(path):
    from app.qt.settings import AppSettings
    return AppSettings(QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat))


def test_pickers_give_session_options_and_refuse_bad_spellings(qtbot, tmp_path):
    from app.widgets.engine_picker import EnginesBox
    from app.core.session import SessionOptions, SideOptions
    from simulator.config import ConfigError
    box = EnginesBox(settings_at(tmp_path / "s.ini"))
    qtbot.addWidget(box)
    assert box.session_options() == SessionOptions(SideOptions("cref"), SideOptions("torch:float64"))
    a = box.pickers["a"]
    a.set_side_options(SideOptions("bin:/opt/nanoBragg/nanoBragg", carryover=False, threads=4))
    assert a.kind_combo.currentData() == "bin:" and a.text_edit.text() == "/opt/nanoBragg/nanoBragg"
    assert box.session_options().a == SideOptions("bin:/opt/nanoBragg/nanoBragg", False, 4)
    assert box.c_binary() == "/opt/nanoBragg/nanoBragg"
    a.set_side_options(SideOptions("cmd:"))  # an external command with no command yet
    with pytest.raises(ConfigError, match="side A.*cmd needs a command"):
        box.session_options()


def test_a_profile_is_kept_for_both_sides_and_the_next_start(qtbot, tmp_path):
    from app.widgets.engine_picker import EnginesBox
    from app.core.session import SideOptions
    box = EnginesBox(settings_at(tmp_path / "s.ini"))
    qtbot.addWidget(box)
    box.pickers["b"].set_side_options(SideOptions("torch:float32", carryover=True))
    box.pickers["b"].save_profile("port-like f32")
    box.refresh_profiles()
    assert box.pickers["a"].profile_combo.findText("port-like f32") >= 0  # offered to side A too
    later = EnginesBox(settings_at(tmp_path / "s.ini"))  # a new start reads the same settings
    qtbot.addWidget(later)
    assert later.pickers["a"].apply_profile("port-like f32")
    assert later.session_options().a == SideOptions("torch:float32", True, None)
    assert not later.pickers["a"].apply_profile("no such profile")


def test_another_engine_marks_the_shown_run_stale(qtbot, make_window, c_binary):
    """After a run, choosing another engine for a side leaves the old images beside a choice they do not
    belong to: the views say so, and choosing the run's engine again makes them current."""
    from app.core.session import SideOptions
    w = make_window(demo_with(detpixels=32))
    run_and_wait(qtbot, w)
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda view, why: view == "images"):
        w.engines.pickers["b"].set_side_options(SideOptions("torch:float32"))
    assert w.views.stale_text("b") == "stale: from the previous engine choice"
    with qtbot.waitSignal(w.model.stale, timeout=5000, check_params_cb=lambda view, why: why == ""):
        w.engines.pickers["b"].set_side_options(SideOptions("torch:float64"))
    assert w.views.stale_text("b") == ""
