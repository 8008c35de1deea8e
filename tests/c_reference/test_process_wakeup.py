"""Issue 19: a process run ends when the engine does, not at the next poll tick (c_reference/child_exit.py), and the
supervisor starts without the imports its normal path does not need (c_reference/supervise.py).

No timings are asserted: the waits return True (woken by the child's end) or False (their timeout or a cancel),
and the tick is made two minutes long, so a wake-up that only came from the tick would show as False."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from c_reference import child_exit, process
from c_reference.child_exit import ChildExit

LONG_S = 120.0   # a tick no run waits for: only the child's end can end a wait this long early


def _sleeper() -> subprocess.Popen:
    """A child that runs until its stdin is closed."""
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)


def _pidfd_or_skip() -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no os.pidfd_open on this platform: ChildExit polls (tested below)")
    p = _sleeper()
    try:
        os.close(os.pidfd_open(p.pid))
    except OSError as exc:
        pytest.skip(f"pidfd_open refused here ({exc.strerror}): ChildExit polls (tested below)")
    finally:
        p.stdin.close()
        p.wait()


def test_a_wait_returns_when_the_child_ends():
    _pidfd_or_skip()
    p = _sleeper()
    w = ChildExit(p.pid)
    try:
        assert w.immediate
        assert w.wait(0.0) is False            # still running
        p.stdin.close()
        assert w.wait(LONG_S) is True          # woken by the end, not by the two-minute timeout
        assert p.wait() == 0
    finally:
        w.close()


def test_without_a_pidfd_the_wait_sleeps_its_timeout_and_a_cancel_ends_it(monkeypatch):
    def refused(_pid):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(child_exit.os, "pidfd_open", refused)
    p = _sleeper()
    cancel = threading.Event()
    w = ChildExit(p.pid, cancel)
    try:
        assert not w.immediate
        assert w.wait(0.01) is False
        cancel.set()
        assert w.wait(LONG_S) is False         # returns at once on the cancel (else the test would hang 2 min)
    finally:
        w.close()
        p.stdin.close()
        p.wait()


def test_a_run_ends_on_the_engines_end_not_on_a_tick(tmp_path, monkeypatch):
    _pidfd_or_skip()
    woke: list[bool] = []

    class Recording(ChildExit):
        def wait(self, timeout_s: float) -> bool:
            woke.append(super().wait(timeout_s))
            return woke[-1]

    monkeypatch.setattr(process, "POLL_S", LONG_S)
    monkeypatch.setattr(process, "ChildExit", Recording)
    scratch = tmp_path / "nbref-run-test"
    scratch.mkdir()
    res = process._run_process(["sh", "-c", "echo '50% done'; exit 3"], scratch, dict(os.environ), 600, None, None)
    assert res.returncode == 3 and not res.cancelled and not res.timed_out
    assert "50% done" in res.stdout
    assert woke and woke[-1] is True           # the last wait ended because the supervisor did


def test_the_supervisor_imports_neither_shutil_nor_enum_on_its_normal_path(tmp_path):
    status = tmp_path / "status"
    out = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", str(process.SUPERVISOR),
                          "--parent", str(os.getpid()), "--status", str(status), "--scratch", str(tmp_path / "s"),
                          "--", "sh", "-c", "exit 4"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "ctypes" in imported                # prctl: needed on every run
    assert not imported & {"shutil", "fnmatch", "enum", "signal"}, sorted(imported)   # deferred / via _signal
    assert Path(status).read_text().splitlines()[-1] == "exit 4"
