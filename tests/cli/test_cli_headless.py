"""`nbparity` headless commands: exit codes (0 pass, 1 parity failure, 2 engine failure, 3 usage), bundles, messages.

main() is called in-process (fast); one test runs `python -m app` as a subprocess to check the real entry point.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli.main import EXIT_ENGINE, EXIT_OK, EXIT_PARITY, EXIT_USAGE, display_problem, main

REPO = Path(__file__).resolve().parents[2]
TINY = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100 "
        "-phi 0 -osc 1 -phisteps 3").split()


def _fake_binary(tmp_path: Path) -> Path:
    script = tmp_path / "fake_nanobragg"
    script.write_text("#!/bin/sh\necho 'fake nanoBragg: giving up' >&2\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _only_bundle(parent: Path) -> Path:
    folders = [p for p in parent.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


# ---- usage errors: exit 3, one clear line, no traceback ----------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["compare", "--bogus", "--", *TINY], "unrecognized arguments: --bogus"),
    (["compare", *TINY], "nanoBragg arguments go after `--`"),
    (["compare", "--dtype", "float16", "--", *TINY], "--dtype"),
    (["compare", "--c-carryover", "maybe", "--", *TINY], "expected on or off"),
    (["compare", "--threads", "0", "--", *TINY], "positive integer"),
    (["compare", "--c-bin", "/no/such/nbref", "--", *TINY], "/no/such/nbref: no such file"),
    (["compare"], "no nanoBragg arguments"),
    (["compare", "--demo", "--", *TINY], "either --demo"),
    (["compare", "--", *TINY[:-1]], "-phisteps"),
    (["compare", "--", *TINY, "-hkl", "/no/such.hkl"], "/no/such.hkl"),
    (["trace", "--", *TINY], "--pixel"),
    (["trace", "--pixel", "32", "0", "--", *TINY], "outside the 32 x 32"),
    (["trace", "--pixel", "a", "0", "--", *TINY], "--pixel"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_usage_errors_exit_3_with_a_message_naming_the_problem(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is ./nbparity-out: nothing may appear there
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no bundle for a bad command line


def test_help_documents_the_exit_codes(capsys):
    assert main(["--help"]) == EXIT_OK
    top = capsys.readouterr().out
    assert "Exit codes" in top and "parity failure" in top
    assert main(["compare", "--help"]) == EXIT_OK
    sub = capsys.readouterr().out
    assert "exit codes" in sub and "3  usage error" in sub


# ---- gui without a display ---------------------------------------------------------------------------------------
def test_display_detection():
    assert display_problem({}, "linux") is not None
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") is not None  # xcb needs DISPLAY
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None


def test_gui_without_display_exits_2_and_points_to_the_headless_commands():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "app", "gui"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == EXIT_ENGINE
    assert "no display" in r.stderr and "nbparity compare" in r.stderr and "nbparity trace" in r.stderr
    assert "Traceback" not in r.stderr


def test_gui_hands_the_command_line_and_binary_to_the_window(monkeypatch, tmp_path):
    import app.window.lifecycle
    calls = []
    monkeypatch.setattr(app.window.lifecycle, "run_gui",
                        lambda argv, c_binary, **kw: calls.append((argv, c_binary, kw)) or 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    binary = tmp_path / "nb"
    binary.write_text("")
    assert main([]) == 0 and main(["gui", "--c-bin", str(binary), "--", *TINY]) == 0
    assert main(["gui", "--a", "torch:float32", "--b", "torch:float64", "--no-run", "--", *TINY]) == 0
    default = {"autorun": True, "leave_at_once": True, "a": None, "b": None, "auto_trace": True}
    assert calls == [(None, None, default), (TINY, str(binary), default),  # None: the window opens its demo
                     (TINY, None, {**default, "autorun": False, "a": "torch:float32", "b": "torch:float64"})]
    assert main(["gui", "--a", "torch:float16", "--", *TINY]) == EXIT_USAGE  # named, before any window opens


# ---- real engines ------------------------------------------------------------------------------------------------
def test_compare_passes_when_both_engines_use_the_same_carryover(c_binary, tmp_path, capsys, qapp):
    # qapp: --png draws with Qt; without a QApplication it would create a bare QGuiApplication, and the widget
    # tests that run later in this process could not make widgets.
    code = main(["compare", "--out", str(tmp_path), "--c-bin", str(c_binary), "--c-carryover", "off", "--png",
                 "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "PASS" in out and "bundle:" in out
    folder = _only_bundle(tmp_path)
    assert str(folder) in out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["parity"]["verdict"] == "pass"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sides"]["a"]["command"][-2:] == ["-phi0_carryover", "off"]
    for panel in ("panel_a.png", "panel_b.png", "panel_diff.png"):  # --png, drawn without a window
        assert (folder / panel).read_bytes().startswith(b"\x89PNG")


def test_compare_fails_parity_with_the_default_carryover_mismatch(c_binary, tmp_path, capsys):
    # Defaults: C carries the last tick's lattice into tick 0 (decisions D3), torch does not, so the images differ
    # by far more than 1e-5 relative on bright pixels: exit 1 and a bundle that says FAIL.
    code = main(["compare", "--out", str(tmp_path), "--c-bin", str(c_binary), "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_PARITY, out
    assert "FAIL" in out
    assert "FAIL" in (_only_bundle(tmp_path) / "summary.md").read_text()


def test_compare_with_failing_c_exits_2_and_still_writes_the_torch_image(tmp_path, capsys):
    code = main(["compare", "--out", str(tmp_path), "--c-bin", str(_fake_binary(tmp_path)), "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_ENGINE
    assert "A fake_nanobragg " in out and "FAILED" in out and "giving up" in out
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert (folder / "B-nbparity-PyTorch-f64_float.bin").stat().st_size == 32 * 32 * 4
    assert not list(folder.glob("A-*_float.bin"))


def test_trace_writes_per_phi_tables_and_prints_the_divergence(c_binary, tmp_path, capsys):
    code = main(["trace", "--out", str(tmp_path), "--c-bin", str(c_binary), "--pixel", "16", "16",
                 "--pixel", "3", "4", "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "pixel (slow=16, fast=16)" in out and "pixel (slow=3, fast=4)" in out
    folder = _only_bundle(tmp_path)
    assert folder.name.startswith("trace-")
    for stem in ("pixel_s16_f16", "pixel_s3_f4"):
        for ext in ("json", "csv", "md"):
            assert (folder / f"{stem}.{ext}").is_file()


def test_ctrl_c_stops_the_c_run_kills_it_and_exits_130(tmp_path):
    # A C binary that would run for a minute: SIGINT to nbparity must stop it (no process left) and exit 128 + 2.
    pidfile = tmp_path / "pid"
    slow = tmp_path / "slow_nanobragg"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    proc = subprocess.Popen([sys.executable, "-m", "app", "compare", "--out", str(tmp_path / "out"), "--c-bin",
                             str(slow), "--", *TINY], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "stopping (SIGINT)" in err and "stopped by SIGINT" in err and "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)
    assert not (tmp_path / "out").exists()  # no bundle of an interrupted run


def test_sim_is_the_torch_engine_with_nanobraggs_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nanoBragg-style runs write intimage.img etc. into the current folder
    assert main(["sim", *TINY, "-floatfile", "x.bin", "-nonoise", "-nopgm"]) == 0
    assert (tmp_path / "x.bin").stat().st_size == 32 * 32 * 4


def test_python_dash_m_app_runs_compare_on_the_demo_argv_check_only(tmp_path):
    # The real entry point, cheaply: a usage error path through `python -m app` (no engine run).
    r = subprocess.run([sys.executable, "-m", "app", "trace", "--pixel", "999", "0", "--demo"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == EXIT_USAGE and "outside the 256 x 256" in r.stderr
