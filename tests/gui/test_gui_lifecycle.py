"""The window never leaves anything behind and never hangs on the way out (issue 7, lifecycle).

Closing the window 0.3 s into a run, or 0.3 s into a pixel trace, and SIGINT / SIGTERM / SIGHUP to `nbparity gui`
0.3 s into a run, each end the process with exit status 0, with every engine process gone (the seconds it took are
printed, not asserted: issue 18). Side A is a fake engine that sleeps 60 s (tests/support/fakes/fake_nb.py), so only
cancellation can end it before that; it
writes its pid to $FAKE_PIDS when it starts. Each program runs as its own process under offscreen Qt, with its
settings in a throw-away XDG_CONFIG_HOME.

The limit: the issue asks for 1 s. The time is taken from the moment the window is told to close (or the signal
is sent) to the moment the process has exited; the shutdown itself waits at most 0.6 s for worker threads
(app.qt.run_model.SHUTDOWN_WAIT_S) and then leaves without them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
FAKES = REPO / "tests" / "support" / "fakes"
SLEEPY = f"cmd:{sys.executable} {FAKES / 'fake_nb.py'} sleep"
TINY = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100 "
        "-phi 0 -osc 1 -phisteps 3").split()
START_LIMIT_S = 120.0   # importing torch and Qt on a loaded machine


def env_for(tmp_path: Path) -> tuple[dict, Path]:
    pids = tmp_path / "fake.pids"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               FAKE_PIDS=str(pids), PYTHONPATH=str(REPO))
    return env, pids


def alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def engine_pids(pids: Path) -> list[int]:
    return [int(p) for p in pids.read_text().split() if int(p) > 0] if pids.exists() else []


def read_word(proc: subprocess.Popen, word: str, limit_s: float) -> float:
    """The time printed after `word` on the program's stdout (it prints 'WORD <monotonic>')."""
    deadline = time.monotonic() + limit_s
    for line in proc.stdout:
        if line.startswith(word + " "):
            return float(line.split()[1])
        assert time.monotonic() < deadline, f"no {word} line within {limit_s} s"
    raise AssertionError(f"the program ended before printing {word}: exit {proc.wait()}, {proc.stderr.read()}")


def wait_for_file(path: Path, proc: subprocess.Popen, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, f"nbparity gui ended early: {proc.returncode}\n{proc.stderr.read()}"
        assert time.monotonic() < deadline, f"{path.name} did not appear within {limit_s} s"
        time.sleep(0.02)


def check_ended(proc: subprocess.Popen, since: float, pids: Path, what: str) -> float:
    """Wait for the exit (30 s hang guard); assert status 0 and no engine process left. Returns seconds."""
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"{what}: still running 30 s later") from None
    took = time.monotonic() - since
    err = proc.stderr.read()
    print(f"\n{what}: exit {rc} {took:.3f} s after the close")
    assert rc == 0, f"{what}: exit status {rc}\n{err}"
    assert "Traceback" not in err, err
    # The seconds to exit are printed, not asserted (issue 18: a busy machine stretches them); the 30 s wait above
    # is a hang guard. What must hold: status 0, no traceback, no engine process left.
    started = engine_pids(pids)
    assert started, "the fake engine never started"
    deadline = time.monotonic() + 2.0  # the kernel's reaping of killed orphans is not instant
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [p for p in started if alive(p)], f"{what}: engine processes left: {started}"
    return took


@pytest.mark.parametrize("mode", ["run-close", "trace-close"])
def test_closing_the_window_during_a_run_or_a_trace(tmp_path, mode):
    env, pids = env_for(tmp_path)
    proc = subprocess.Popen([sys.executable, str(FAKES / "gui_launcher.py"), mode, SLEEPY, "torch:float64", "--",
                             *TINY], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        read_word(proc, "STARTED", START_LIMIT_S)
        closing = read_word(proc, "CLOSING", 10)
        check_ended(proc, closing, pids, f"window closed 0.3 s into a {mode.split('-')[0]}")
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_nbparity_gui_closes_it(tmp_path, signum):
    env, pids = env_for(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "app", "gui", "--a", SLEEPY, "--b", "torch:float64", "--",
                             *TINY], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for_file(pids, proc, START_LIMIT_S)  # the fake engine of side A runs
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signum)
        check_ended(proc, sent, pids, f"{signal.Signals(signum).name} 0.3 s into a run")
    finally:
        if proc.poll() is None:
            proc.kill()
