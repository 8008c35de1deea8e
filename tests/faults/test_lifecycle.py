"""Nothing outlives nbparity (issue 7, lifecycle): `nbparity compare` given SIGTERM, SIGHUP or kill -9 while an
engine that sleeps (or one that forks a `setsid` child) runs leaves no process and no scratch folder; stale scratch
folders of dead owners are removed at the next start; the session's cancel reaches a torch pixel trace.

Every wait is on a process's exit or a file's appearance, with a timeout, not a fixed sleep.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.core.session import ComparisonSession, SessionOptions, SideOptions
from c_reference.driver import SCRATCH_PREFIX, remove_stale_scratch
from proc_util import gone as proc_gone

REPO = Path(__file__).resolve().parents[2]
FAKE_NB = REPO / "tests" / "support" / "fakes" / "fake_nb.py"
TINY = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100 "
        "-phi 0 -osc 1 -phisteps 3").split()
WAIT_S = 20.0


def fake(mode: str) -> str:
    return f"cmd:{sys.executable} {FAKE_NB} {mode}"


def gone(pid: int) -> bool:
    return proc_gone(pid, WAIT_S)


def wait_for_file(path: Path, proc: subprocess.Popen, wait_s: float = 60.0) -> str:
    end = time.monotonic() + wait_s
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < end, "the fake engine never started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    return path.read_text()


def start_compare(tmp_path: Path, mode: str, command: tuple[str, ...] = ("compare",)
                  ) -> tuple[subprocess.Popen, Path, Path]:
    """`nbparity compare --a <fake MODE>` in a subprocess with its own TMPDIR; returns (proc, pids file, tmpdir)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    pids = tmp_path / "pids"
    env = dict(os.environ, TMPDIR=str(tmpdir), FAKE_PIDS=str(pids))
    proc = subprocess.Popen([sys.executable, "-m", "app", *command, "--out", str(tmp_path / "out"), "--a",
                             fake(mode), "--", *TINY], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, pids, tmpdir


def scratch_left(tmpdir: Path, wait_s: float = WAIT_S) -> list[Path]:
    end = time.monotonic() + wait_s
    while True:
        left = list(tmpdir.glob(SCRATCH_PREFIX + "*"))
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["sleep", "setsid"])
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_compare_given_a_signal_stops_everything_and_exits_128_plus_n(tmp_path, mode, sig, code):
    proc, pids, tmpdir = start_compare(tmp_path, mode)
    engine, child = map(int, wait_for_file(pids, proc).split())
    assert list(tmpdir.glob(SCRATCH_PREFIX + f"{proc.pid}-*"))  # the scratch folder is named after its owner
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)   # a hang guard, not a bound on promptness (issue 18)
    assert proc.returncode == code, (out, err)
    assert f"stopped by {signal.Signals(sig).name}" in err and "Traceback" not in err
    assert gone(engine) and (child == 0 or gone(child))  # the setsid grandchild too
    assert scratch_left(tmpdir, 0) == []
    assert not (tmp_path / "out").exists()


def test_trace_given_sigterm_stops_both_sides_and_exits_143(tmp_path):
    proc, pids, tmpdir = start_compare(tmp_path, "setsid", ("trace", "--pixel", "3", "4"))
    engine, child = map(int, wait_for_file(pids, proc).split())
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, (out, err)
    assert gone(engine) and gone(child) and scratch_left(tmpdir, 0) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mode", ["sleep", "setsid"])
def test_kill_9_of_compare_leaves_no_engine_process_and_no_scratch(tmp_path, mode):
    proc, pids, tmpdir = start_compare(tmp_path, mode)
    engine, child = map(int, wait_for_file(pids, proc).split())
    proc.kill()
    proc.communicate(timeout=30)
    # The supervisor gets SIGUSR1 from the kernel when nbparity dies (PR_SET_PDEATHSIG), kills the engine and
    # every descendant (setsid ones are reparented to it, a subreaper) and removes the scratch folder.
    assert gone(engine) and (child == 0 or gone(child))
    assert scratch_left(tmpdir) == []


def test_stale_scratch_of_a_dead_owner_is_removed_and_a_live_owners_is_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{SCRATCH_PREFIX}{dead.pid}-abc123"
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getppid()}-def456"  # our parent is alive
    other = tmp_path / f"{SCRATCH_PREFIX}notapid"
    for d in (stale, live, other):
        d.mkdir()
        (d / "float.bin").write_bytes(b"x")
    assert remove_stale_scratch(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_cancel_reaches_a_torch_pixel_trace(tmp_path):
    # With tricubic interpolation on, a torch trace first scans every pixel before the traced one for the C's
    # run-wide switch-off (spec 5.4): about the cost of rendering them. Cancel stops that scan between chunks.
    hkl = tmp_path / "few.hkl"
    hkl.write_text("0 0 0 100\n1 0 0 50\n0 1 0 50\n0 0 1 50\n1 1 1 30\n")
    argv = (f"-cell 100 100 100 90 90 90 -hkl {hkl} -interpolate -N 2 -lambda 6.2 -detpixels 1000 -distance 100 "
            "-phi 0 -osc 1 -phisteps 3 -misset 10 20 30").split()
    s = ComparisonSession(argv, SessionOptions(SideOptions("torch"), SideOptions("torch:float32")))
    s.inspect_pixel(0, 0)  # warm up (torch import, set-up): the first pixel needs no scan
    # Counted, not timed (issue 18): the engines ask `is_set()` between chunks; the uncancelled trace asks n
    # times, one that is set at the 2nd question is cancelled on both sides and asks no more often than that.
    never = CountingEvent(trip_after=None)
    full = s.inspect_pixel(990, 990, never)
    assert not full.errors, full.errors
    assert never.checks >= 2, never.checks
    cancel = CountingEvent(trip_after=2)
    insp = s.inspect_pixel(990, 990, cancel)
    assert set(insp.errors) == {"a", "b"} and set(insp.errors.values()) == {"cancelled"}, insp.errors
    assert cancel.checks <= never.checks, (cancel.checks, never.checks)


class CountingEvent(threading.Event):
    """An Event that counts `is_set()` questions and sets itself at question `trip_after` (None: never)."""

    def __init__(self, trip_after: int | None):
        super().__init__()
        self.trip_after = trip_after
        self.checks = 0
        self._count_lock = threading.Lock()

    def is_set(self) -> bool:
        with self._count_lock:
            self.checks += 1
            trip = self.trip_after is not None and self.checks >= self.trip_after
        if trip:
            self.set()
        return super().is_set()
