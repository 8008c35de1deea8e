"""JobRunner's contract (issue 18): "running" and "finished" agree at every moment a caller can see.

A job is running from `start` until its `finished` has been delivered on the GUI thread (before `close`), or
until its thread has posted its last signal (after `close`). `wait_all` returns True exactly when `running()` is
empty; on the GUI thread it delivers the pending outcomes itself. Ordered and counted, never timed: the timeouts
are hang guards.
"""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore  # noqa: E402

from app.qt.workers import JobRunner  # noqa: E402

pytestmark = pytest.mark.gui


class Seen(QtCore.QObject):
    """GUI-thread slot of `finished` recording, at each delivery, which jobs `running()` still lists."""

    got = QtCore.Signal(int)

    def __init__(self, runner: JobRunner):
        super().__init__()
        self.runner = runner
        self.finished: list[int] = []
        self.listed_at_delivery: list[bool] = []

    @QtCore.Slot(int, str)
    def on_finished(self, job_id: int, _tag: str) -> None:
        self.finished.append(job_id)
        self.listed_at_delivery.append(any(j.id == job_id for j in self.runner.running()))
        self.got.emit(job_id)


def _quick(progress, cancel):
    return 1


def test_wait_all_on_the_gui_thread_delivers_every_outcome_first(qtbot):
    """30 jobs that end at once; without running the event loop, wait_all is True only together with an empty
    running() and after every `finished` reached its slot (the issue's failure: True while a job was listed)."""
    runner = JobRunner("contract")
    seen = Seen(runner)
    runner.finished.connect(seen.on_finished)
    jobs = [runner.start("q", _quick) for _ in range(30)]
    for job in jobs:
        job.thread.join(60)
    assert all(not j.is_running() for j in jobs)
    assert len(runner.running()) == 30 and seen.finished == []   # ended, but no outcome delivered yet
    assert runner.wait_all(60.0) is True
    assert runner.running() == []
    assert sorted(seen.finished) == sorted(j.id for j in jobs)
    # In a slot of `finished` the job is no longer listed (the runner's own slot was connected first).
    assert seen.listed_at_delivery == [False] * 30


def test_wait_all_delivers_the_other_slots_after_the_runner_forgot_the_job(qtbot):
    """The race found under load (two busy loops): the event loop ran the runner's own slot of `finished` in a batch
    that began before the other slots' events were posted, so `running()` was empty while `finished` had not reached
    them, and wait_all said True at once. Reproduced in order: the job ends (its events posted, none delivered), the
    runner's slot runs alone; wait_all must still deliver `finished` to the other slot before returning True."""
    runner = JobRunner("contract")
    seen = Seen(runner)
    runner.finished.connect(seen.on_finished)
    job = runner.start("q", _quick)
    job.thread.join(60)
    runner._forget(job.id, job.tag)   # what the event loop's batch did, without the other slot's event
    assert runner.running() == [] and seen.finished == []
    assert runner.wait_all(60.0) is True
    assert seen.finished == [job.id]


def test_wait_all_off_the_gui_thread_waits_for_the_delivery(qtbot):
    """From another thread, wait_all returns True only once the GUI thread delivered `finished` to the runner; at
    that moment running() is empty too (other slots of `finished` run on the GUI thread in their own time)."""
    runner = JobRunner("contract")
    seen = Seen(runner)
    runner.finished.connect(seen.on_finished)
    release = threading.Event()
    job = runner.start("slow", lambda p, c: release.wait(60))
    box: dict[str, object] = {}

    def waiter():
        box["ok"] = runner.wait_all(60.0)
        box["running"] = runner.running()
    t = threading.Thread(target=waiter)
    t.start()
    with qtbot.waitSignal(seen.got, timeout=60_000):
        release.set()
    t.join(60)
    assert box == {"ok": True, "running": []}
    assert seen.finished == [job.id]


def test_close_forgets_posted_and_running_jobs(qtbot):
    """After close, a job whose thread is still running stops counting once its thread has posted its end; nothing
    is delivered after close; wait_all is True with running() empty."""
    runner = JobRunner("contract")
    seen = Seen(runner)
    runner.finished.connect(seen.on_finished)
    release = threading.Event()
    running_job = runner.start("held", lambda p, c: release.wait(60))
    done_job = runner.start("done", _quick)
    done_job.thread.join(60)
    runner.close()
    assert [j.id for j in runner.running()] == [running_job.id]   # the ended one's `finished` was posted
    assert running_job.cancelled
    release.set()
    assert runner.wait_all(60.0) is True and runner.running() == []
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.MetaCall)
    assert running_job.id not in seen.finished


def test_wait_all_times_out_false_while_a_job_runs(qtbot):
    """A job that has not ended: wait_all(0) is False and the job is still listed (both say the same)."""
    runner = JobRunner("contract")
    release = threading.Event()
    job = runner.start("held", lambda p, c: release.wait(60))
    try:
        assert runner.wait_all(0.0) is False
        assert [j.id for j in runner.running()] == [job.id]
    finally:
        release.set()
        assert runner.wait_all(60.0) is True and runner.running() == []
