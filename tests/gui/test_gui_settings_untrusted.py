"""The settings file is untrusted input (issue 18): a hand-edited value falls back to its default with one log
line, a newer schema's file is kept (profiles included), and an engine spelling is never cut (the `cmd:h` bug)."""
from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

pytestmark = pytest.mark.gui


def _qs(path):
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def open_window(qtbot, tmp_path):
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    made = []

    def make(b=None):
        w = MainWindow(None, None, settings=AppSettings(_qs(tmp_path / "s.ini")), install_hook=False, b=b)
        qtbot.addWidget(w)
        made.append(w)
        return w
    yield make
    for w in made:
        w.shutdown()


def test_cmd_side_then_b_torch_opens_torch_and_saves_torch(qtbot, open_window, tmp_path):
    """Root cause: set_side_options matched entries by the exact spelling, so `torch` (no entry's data: the
    entry is torch:float64) left side B on "external command" and took "torch"[4:] == "h" as its command."""
    from app.core.session import SideOptions
    w = open_window()
    w.engines.pickers["b"].set_side_options(SideOptions("cmd:/opt/port/run-nanobragg --fast"))
    assert w.engines.pickers["b"].spec() == "cmd:/opt/port/run-nanobragg --fast"
    w.close()   # saves side B as the cmd: engine, as the window run did
    assert json.loads(_qs(tmp_path / "s.ini").value("engines/side_b"))["engine"].startswith("cmd:/opt/port")
    w2 = open_window(b="torch")
    picker = w2.engines.pickers["b"]
    assert picker.kind_combo.currentData() == "torch:float64" and picker.spec() == "torch:float64"
    assert picker.text_edit.text() == "" and not picker.text_edit.isEnabled()
    assert w2.engines.session_options().b.engine == "torch:float64"
    w2.close()
    assert json.loads(_qs(tmp_path / "s.ini").value("engines/side_b"))["engine"] == "torch:float64"


@pytest.mark.parametrize("spelling, data", [("torch", "torch:float64"), ("torch:f32", "torch:float32"),
                                            ("torch:float64:cuda:1", "torch:float64:cuda:1"), ("cref", "cref")])
def test_every_spelling_selects_its_own_entry_after_a_cmd_side(qtbot, tmp_path, spelling, data):
    from app.widgets.engine_picker import EnginesBox
    from app.core.session import SideOptions
    from app.qt.settings import AppSettings
    box = EnginesBox(AppSettings(_qs(tmp_path / "s.ini")))
    qtbot.addWidget(box)
    p = box.pickers["b"]
    p.set_side_options(SideOptions("cmd:python -m nanobrag_torch"))
    p.set_side_options(SideOptions(spelling))
    assert p.kind_combo.currentData() == data and p.spec() == data and p.text_edit.text() == ""


def test_a_bad_spelling_is_refused_and_changes_nothing(qtbot, tmp_path):
    from app.widgets.engine_picker import EnginesBox
    from app.core.session import SideOptions
    from app.qt.settings import AppSettings
    from simulator.config import ConfigError
    box = EnginesBox(AppSettings(_qs(tmp_path / "s.ini")))
    qtbot.addWidget(box)
    with pytest.raises(ConfigError, match="torch:float16"):
        box.pickers["b"].set_side_options(SideOptions("torch:float16"))
    assert box.pickers["b"].spec() == "torch:float64"


def test_hand_edited_values_fall_back_with_one_log_line_each(qtbot, open_window, tmp_path, caplog):
    from app.qt.settings import SCHEMA_VERSION
    qs = _qs(tmp_path / "s.ini")
    qs.setValue("schema_version", SCHEMA_VERSION)
    qs.setValue("engines/side_b", json.dumps({"engine": "torch:float32", "carryover": [1], "threads": "many"}))
    qs.setValue("engines/side_a", json.dumps({"engine": "warp-drive"}))
    qs.setValue("engines/profiles", json.dumps({"ok": {"engine": "cref", "carryover": True, "threads": 2},
                                                "bad": {"engine": "torch", "carryover": {"x": 1}},
                                                "junk": [1, 2]}))
    qs.setValue("view/percentile", "lots")
    qs.sync()
    with caplog.at_level(logging.WARNING, logger="app.qt.settings"):
        w = open_window()
    b = w.engines.session_options().b
    assert (b.engine, b.carryover, b.threads) == ("torch:float32", None, None)   # the engine kept, values defaulted
    assert w.engines.session_options().a.engine == "cref"                       # unusable spelling: the default
    assert w.panels.percentile_spin.value() == pytest.approx(99.5)
    profiles = w.settings.engine_profiles()
    assert profiles["ok"] == {"engine": "cref", "carryover": True, "threads": 2}
    assert profiles["bad"]["carryover"] is None and "junk" not in profiles
    text = caplog.text
    for words in ("side_b carryover: [1]", "side_b threads: 'many'", "warp-drive", "view/percentile"):
        assert words in text, (words, text)
    # One line per bad value: the profiles are read by both pickers and again above, and said once.
    assert text.count("side_b carryover") == 1 and text.count("profiles['bad'] carryover") == 1


def test_a_newer_schema_is_kept_and_said_once(qtbot, open_window, tmp_path):
    from app.qt.settings import SCHEMA_VERSION
    qs = _qs(tmp_path / "s.ini")
    qs.setValue("schema_version", SCHEMA_VERSION + 1)
    profiles = json.dumps({"port f32": {"engine": "torch:float32", "carryover": True, "threads": None}})
    qs.setValue("engines/profiles", profiles)
    qs.setValue("view/colormap", "magma")
    qs.setValue("future/key", "kept")
    qs.sync()
    w = open_window()
    assert "newer nbparity" in (w.last_error or "") and "kept unchanged" in w.last_error
    assert w.panels.colormap() == "viridis"          # this run: the defaults
    w.close()                                         # closing saves nothing into the newer file
    after = _qs(tmp_path / "s.ini")
    assert int(after.value("schema_version")) == SCHEMA_VERSION + 1
    assert after.value("engines/profiles") == profiles and after.value("future/key") == "kept"
    assert after.value("view/colormap") == "magma"
