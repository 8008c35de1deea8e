"""Settings round trips through a temporary QSettings file: every view choice, the command line, the splitters;
a broken binary reported once and forgotten; Reset that resets at once; no folder made by asking for one."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402

from gui_util import wait_laid_out  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def open_window(qtbot, tmp_path):
    """Factory: a MainWindow on the settings file tmp_path/s.ini (a new QSettings object each time, as a new
    start of the program would read it)."""
    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    made = []

    def make(argv=None):
        qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
        w = MainWindow(argv, None, settings=AppSettings(qs), install_hook=False)
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w
    yield make
    for w in made:
        w.shutdown()


def choose(w, *, sizes=(300, 500)):
    p = w.panels
    p.set_scale("sqrt")
    p.set_colormap("grey")
    p.percentile_spin.setValue(99.0)
    p.set_mode("relative")
    p.rtol_edit.setText("0.001")
    p.rtol_edit.editingFinished.emit()
    p.overlay_check.setChecked(True)
    w.splitter.setSizes(list(sizes))


def test_every_view_choice_command_line_and_splitter_round_trip(qtbot, open_window):
    from app.core.demo import demo_argv
    argv = demo_argv()
    argv[argv.index("-lambda") + 1] = "1.1"  # not the demo: the restored line must be this one
    w = open_window(argv)
    choose(w)
    wait_laid_out(qtbot, w)   # the splitter's sizes as laid out (no signal for a layout pass)
    sizes = w.splitter.sizes()
    w.close()
    w2 = open_window(None)   # no command line given: the last one is restored (not the demo)
    p = w2.panels
    assert (p.scale, p.colormap(), p.percentile_spin.value(), p.mode()) == ("sqrt", "grey", 99.0, "relative")
    assert p.tolerance.rtol == pytest.approx(1e-3) and p.overlay_check.isChecked()
    assert p.mode_actions["relative"].isChecked()
    assert w2.editor.argv()[w2.editor.argv().index("-lambda") + 1] == "1.1"
    assert "last command line is restored" in w2.statusBar().currentMessage()
    assert w2.splitter.sizes() == sizes


def test_scale_survives_a_start_that_restores_the_colour_map_first(qtbot, open_window, tmp_path):
    """The old bug: restoring the colour map saved the view with the default scale over the stored one."""
    w = open_window(None)
    w.panels.set_scale("linear")
    w.panels.set_colormap("magma")
    w.close()
    for _ in range(2):   # two starts in a row keep it
        w = open_window(None)
        assert (w.panels.scale, w.panels.colormap()) == ("linear", "magma")
        w.close()
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    assert qs.value("view/scale") == "linear"


def test_broken_binary_is_reported_once_and_forgotten(qtbot, open_window, tmp_path):
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    from app.qt.settings import SCHEMA_VERSION
    qs.setValue("schema_version", SCHEMA_VERSION)
    qs.setValue("engines/c_binary", str(tmp_path / "gone" / "nanoBragg"))
    qs.sync()
    w = open_window(None)
    assert "cannot be used (it does not exist)" in (w.last_error or "")
    assert w.engines.c_binary() == ""    # the built-in reference, not the broken path
    w.close()
    w2 = open_window(None)
    assert w2.last_error is None                  # said once
    qs.sync()
    assert not qs.value("engines/c_binary")


def test_reset_resets_now(qtbot, open_window, tmp_path):
    w = open_window(None)
    default_sizes = w.splitter.sizes()
    choose(w, sizes=(200, 600))
    assert w.splitter.sizes() != default_sizes
    w.reset_settings()
    p = w.panels
    assert (p.scale, p.colormap(), p.percentile_spin.value(), p.mode()) == ("log", "viridis", 99.5, "diff")
    assert not p.overlay_check.isChecked() and p.tolerance.rtol == pytest.approx(1e-5)
    assert w.splitter.sizes() == default_sizes
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    assert [k for k in qs.allKeys() if k != "schema_version"] == []


def test_asking_for_an_export_folder_creates_none(qtbot, monkeypatch, tmp_path):
    from app.window.window_io import choose_export_folder
    monkeypatch.setenv("HOME", str(tmp_path))
    seen = []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        staticmethod(lambda parent, caption, start: seen.append(start) or ""))
    assert choose_export_folder(None, "") == ""
    assert seen == [str(tmp_path)] and not (Path(tmp_path) / "nbparity-snapshots").exists()
    (tmp_path / "nbparity-snapshots").mkdir()
    choose_export_folder(None, "")
    assert seen[-1] == str(tmp_path / "nbparity-snapshots")
    choose_export_folder(None, str(tmp_path / "nbparity-snapshots" / "gone" / "deeper"))
    assert seen[-1] == str(tmp_path / "nbparity-snapshots")   # a vanished folder: its nearest parent
