"""Background work for the window: plain daemon threads whose outcomes arrive on the GUI thread as Qt signals.

A `JobRunner` (a QObject living on the GUI thread) runs callables `fn(progress, cancel)` each on its own Python
thread and reports through its signals, all carrying the job's id and tag:
    progress(id, tag, fraction 0..1)    throttled to ~20 per second so the GUI event queue is never flooded
    result(id, tag, value)              the callable's return value
    error(id, tag, message, details)    a readable one-line message and the traceback for the details pane
    finished(id, tag)                   always last
Connect these to @Slot methods of GUI-thread objects (never to lambdas: a lambda runs in the emitting thread).

Why not QThreads: a worker thread never needs the GUI thread to end. Emitting a signal from a worker only posts an
event, so the GUI thread may join these threads (`wait_all`) without the deadlock of a QThread whose `quit` is a
queued call into the very event loop that is blocked waiting for it. Cancel sets the job's `threading.Event`; the
engines poll it (the C driver then kills the process group), so a cancelled job ends on its own.

The contract of "running" (issue 18): a job is running from `start` until its `finished` has been delivered on the
GUI thread (before `close`), or until its thread has posted its last signal (after `close`: nothing is delivered
any more). `wait_all` returns True exactly when `running()` is empty at that moment; called on the GUI thread before
`close`, it delivers the pending outcomes itself (the runner's queued signals, in order, to every slot) instead of
returning True while a finished job is still listed; off the GUI thread it returns once the runner's own slot of
`finished` has run (connected first, so in the slots of `finished` the job is no longer listed).
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6 import QtCore
from PySide6.QtCore import Signal

ProgressFn = Callable[..., None]
WorkFn = Callable[[ProgressFn, threading.Event], Any]


@dataclass
class Job:
    """One callable on one daemon thread; `cancel` is the event the callable polls."""

    id: int
    tag: str
    cancel_event: threading.Event
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)
    posted: bool = False    # its `finished` has been emitted (set under the runner's lock)

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class JobRunner(QtCore.QObject):
    """Starts jobs and relays their outcomes to the GUI thread; keeps every job until its thread has ended.

    Keep it parentless (owned by Python): a thread that outlives its window still holds a reference, so the
    object it emits on is never deleted under it.
    """

    progress = Signal(int, str, float)
    result = Signal(int, str, object)
    error = Signal(int, str, str, str)
    finished = Signal(int, str)

    def __init__(self, name: str = "nbparity", min_interval_s: float = 0.05):
        super().__init__()
        self.name = name
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)   # notified whenever a job leaves `_jobs`
        self._min_interval = min_interval_s
        self._closed = False
        # Connected first, so it runs before every other slot of `finished` (queued slots run in connection
        # order): a job counts as running until its outcome is delivered on the GUI thread, not only while its
        # thread lives, and a slot of `finished` that asks whether anything still runs is told the truth.
        self.finished.connect(self._forget)

    def start(self, tag: str, fn: WorkFn, cancel: threading.Event | None = None) -> Job:
        """Run `fn(progress, cancel)` on a new daemon thread; returns the Job (its id tags every signal)."""
        job = Job(next(self._ids), tag, cancel if cancel is not None else threading.Event())
        job.thread = threading.Thread(target=self._run, args=(job, fn), name=f"{self.name}-{tag}-{job.id}",
                                      daemon=True)
        with self._lock:
            self._jobs[job.id] = job
        job.thread.start()
        return job

    def _run(self, job: Job, fn: WorkFn) -> None:
        last = [0.0]

        def report(fraction: float, total: float | None = None, *_rest) -> None:
            # Engines call progress(fraction) or progress(done, total); reports faster than the eye are dropped.
            if total:
                fraction = fraction / total
            now = time.monotonic()
            if fraction >= 1.0 or now - last[0] >= self._min_interval:
                last[0] = now
                self._emit(self.progress, job.id, job.tag, float(max(0.0, min(1.0, fraction))))
        try:
            value = fn(report, job.cancel_event)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message for the window
            self._emit(self.error, job.id, job.tag, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self._emit(self.result, job.id, job.tag, value)
        finally:
            # Decided under the lock that `close` takes, so a job is either posted (and forgotten on delivery, or
            # by `close`) or forgotten here: never left listed for ever.
            with self._lock:
                if self._closed:  # nobody will deliver `finished`: forget the job here
                    self._jobs.pop(job.id, None)
                    self._changed.notify_all()
                else:
                    job.posted = True
                    self.finished.emit(job.id, job.tag)
                    self._changed.notify_all()   # a GUI-thread `wait_all` can deliver it now

    @QtCore.Slot(int, str)
    def _forget(self, job_id: int, _tag: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._changed.notify_all()

    def _emit(self, signal, *args) -> None:
        if not self._closed:  # after close() nobody listens: the window is gone or going
            signal.emit(*args)

    def running(self, tag: str | None = None) -> list[Job]:
        """Jobs whose outcome has not been delivered yet, i.e. whose `finished` has not reached the GUI thread
        (optionally only those with `tag`)."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if tag is None or j.tag == tag]

    def cancel_all(self) -> None:
        for job in self.running():
            job.cancel()

    def wait_all(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` in total until `running()` is empty; True when it is. Safe on the GUI thread:
        there (before `close`) it delivers the runner's posted signals itself rather than waiting on the event
        loop, so every slot of a job's `finished` has run when this returns True."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        on_gui = QtCore.QThread.currentThread() is self.thread()
        while True:
            with self._lock:
                if not self._jobs:
                    flush = on_gui and not self._closed
                    break
                pending_posted = any(j.posted for j in self._jobs.values())
                deliver = on_gui and not self._closed and pending_posted
                if not deliver:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)   # a post, a delivery or a forgotten job notifies
                    continue
            # Outside the lock: the slots run here and `_forget` takes it.
            QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.MetaCall)
            if time.monotonic() >= deadline:
                with self._lock:
                    if self._jobs:
                        return False
                    flush = on_gui and not self._closed
                break
        # Every `finished` whose `_forget` has run was emitted whole under the lock, so its other slots' events are
        # posted too; the event loop may have run `_forget` in a batch that began between two of those posts (seen
        # under load: True returned while another slot still waited). Deliver what is posted before saying True.
        if flush:
            QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.MetaCall)
        return True

    def close(self) -> None:
        """Cancel everything and stop relaying: later outcomes of still-running threads are dropped, and a job
        whose `finished` was already posted no longer counts as running."""
        self.cancel_all()
        with self._lock:
            self._closed = True
            for job_id in [i for i, j in self._jobs.items() if j.posted]:
                del self._jobs[job_id]
            self._changed.notify_all()


def preload_engines() -> list[str]:
    """Import the engine modules now, on the GUI thread, before any run.

    A first import inside a worker thread holds the GIL for hundreds of milliseconds (module code, torch
    extensions), which would freeze the window mid-run. Returns the modules that could not be imported (the run
    then reports the failure in the engine's panel).
    """
    import importlib
    missing = []
    for name in ("numpy.ma", "torch", "c_reference.driver", "simulator.engine", "tracing.metrics",
                 "tracing.phi_compare", "tracing.tables", "tracing.bundle", "app.core.session", "app.bundle.snapshot"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - surfaced later, per engine, as a readable error
            missing.append(name)
    return missing


def warm_up_engines() -> threading.Thread:
    """Load the compiled render kernel on a daemon thread and return the thread (issue 9): from its disk cache in
    milliseconds, or built there (seconds, a machine's first launch only) while the user reads the window, so the
    first Run renders at warm speed. Only the kernel: `simulator.engine.warm_up`'s tiny torch render and trace
    would hold the GIL in Python code and stall a run started at once (the render itself needs no priming:
    `make bench` measures its first render within a few ms of a warm one). A render that starts meanwhile waits
    for the load; a machine without a compiler logs one line and renders with torch."""
    import logging

    def work() -> None:
        from simulator import compiled
        t0 = time.perf_counter()
        try:
            kern = compiled.kernel()
        except Exception:  # noqa: BLE001 - a warm-up problem must never stop the window
            logging.getLogger(__name__).exception("loading the compiled kernel failed")
            return
        logging.getLogger(__name__).info("compiled kernel %s in %.2f s %s", "ready" if kern else "unavailable",
                                         time.perf_counter() - t0, compiled.unavailable_reason())

    t = threading.Thread(target=work, name="nbparity-warm-up", daemon=True)
    t.start()
    return t
