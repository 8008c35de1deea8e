"""Background work for the window: a QObject worker on its own QThread.

A `Worker` runs one callable `fn(progress, cancel)` in its thread and reports through signals that carry its tag:
    progress(tag, fraction 0..1)   throttled to ~20 per second so the GUI event queue is never flooded
    result(tag, value)             the callable's return value
    error(tag, message, details)   a readable one-line message and the traceback for the details pane
    finished(tag)                  always last
Connect these to @Slot methods of objects living on the GUI thread (never to lambdas: a lambda runs in the thread
that emits). Cancel sets the `threading.Event` the callable polls.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from PySide6 import QtCore
from PySide6.QtCore import Signal, Slot

ProgressFn = Callable[[float], None]
WorkFn = Callable[[ProgressFn, threading.Event], Any]


class Worker(QtCore.QObject):
    """Runs `fn(progress, cancel)` once when `run` is called (from its thread's `started` signal)."""

    progress = Signal(str, float)
    result = Signal(str, object)
    error = Signal(str, str, str)
    finished = Signal(str)

    def __init__(self, tag: str, fn: WorkFn, cancel: threading.Event | None = None, min_interval_s: float = 0.05):
        super().__init__()
        self.tag = tag
        self._fn = fn
        self.cancel_event = cancel if cancel is not None else threading.Event()
        self._min_interval = min_interval_s
        self._last_emit = 0.0

    def _report(self, fraction: float, total: float | None = None, *_rest) -> None:
        # Called from the worker thread by the engine, as progress(fraction) or progress(done, total); reports that
        # come faster than the GUI needs are dropped.
        if total:
            fraction = fraction / total
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_emit >= self._min_interval:
            self._last_emit = now
            self.progress.emit(self.tag, float(max(0.0, min(1.0, fraction))))

    @Slot()
    def run(self) -> None:
        try:
            value = self._fn(self._report, self.cancel_event)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message for the window
            self.error.emit(self.tag, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.result.emit(self.tag, value)
        finally:
            self.finished.emit(self.tag)

    def cancel(self) -> None:
        self.cancel_event.set()


@dataclass
class Job:
    """A worker and the thread it runs in; keep a reference until `finished` so neither is garbage-collected."""

    worker: Worker
    thread: QtCore.QThread

    def cancel(self) -> None:
        self.worker.cancel()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, ms: int = 5000) -> bool:
        return self.thread.wait(ms)


class JobKeeper(QtCore.QObject):
    """Holds every started Job until its thread has really finished.

    PySide deletes a parentless QObject when its last Python reference goes; a worker or thread dropped while its
    thread still runs would crash ("QThread: Destroyed while thread is still running"). The keeper lives on the GUI
    thread and lets go only on the thread's `finished` signal.
    """

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._alive: dict[int, Job] = {}

    def keep(self, job: Job) -> None:
        key = id(job.thread)
        self._alive[key] = job
        job.thread.finished.connect(self._release)

    @Slot()
    def _release(self) -> None:
        thread = self.sender()
        self._alive.pop(id(thread), None)

    def running(self) -> list[Job]:
        return list(self._alive.values())

    def wait_all(self, ms: int = 10000) -> bool:
        """Cancel nothing; wait up to `ms` in total for every kept thread (used at shutdown)."""
        deadline = time.monotonic() + ms / 1000.0
        ok = True
        for job in list(self._alive.values()):
            left = max(0, int((deadline - time.monotonic()) * 1000))
            ok = job.thread.wait(left) and ok
        return ok


def start_job(worker: Worker, *, keeper: JobKeeper, on_progress=None, on_result=None, on_error=None,
              on_finished=None) -> Job:
    """Move `worker` to a new QThread, connect its signals to the given GUI-thread slots, and start it.

    The thread quits when the worker finishes; `keeper` holds both until the thread has stopped.
    """
    thread = QtCore.QThread()
    thread.setObjectName(f"worker-{worker.tag}")
    worker.moveToThread(thread)
    if on_progress is not None:
        worker.progress.connect(on_progress)
    if on_result is not None:
        worker.result.connect(on_result)
    if on_error is not None:
        worker.error.connect(on_error)
    if on_finished is not None:
        worker.finished.connect(on_finished)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    job = Job(worker=worker, thread=thread)
    keeper.keep(job)
    thread.start()
    return job
