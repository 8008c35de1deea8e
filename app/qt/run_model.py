"""The run model: one QObject that owns a comparison run; widgets only show what it says and ask it for work.

It holds the Qt-free session (app.core.session) of the last run, both engines' outcomes (sides "a" and "b"), the image
metrics and verdict, the pixel inspections of this run, the jobs (app.qt.workers) with their cancel events, and the
staleness of what the views show. Every change is announced by a signal (GUI thread):

    started(run_id)                   a run began; outcomes, metrics and inspections were forgotten
    engine_progress(side, fraction)   0..1
    engine_finished(side, outcome)    app.core.records.EngineOutcome (ok, failed or cancelled)
    run_finished(run_id)              both sides done (or cancelled)
    busy_changed(busy)                an engine is running / none is
    metrics_ready(metrics, verdict)   tracing.metrics.ImageMetrics, app.core.session.Verdict (None: not comparable)
    inspection_started(slow, fast)
    inspection_ready(inspection)      app.core.records.PixelInspection of the current run
    pipeline_ready(pipeline)          app.core.inspection_pipeline.PixelPipeline of an inspected pixel: emitted just
                                      before its inspection_ready (computed on the trace's worker); for a loaded
                                      record, after its inspections (one worker job)
    inspection_failed(message)
    stale(view, reason)               view "images" or "inspector"; reason "" when it is current again
    exported(path)
    failed(tag, message, details)     a bug (session calls return engine failures as values): readable + traceback
    auto_trace_started(budget_s)      issue 21: a FAIL's worst pixels are being traced, within budget_s seconds
    auto_trace_ready(result, verdict) app.core.auto_trace.AutoTrace and the verdict that names the cause

Scheduling is the session's (`ComparisonSession.schedule()`): one after the other (side A, then side B), each
with every core, unless a side computes on a GPU; the first image is shown as soon as it is ready. With views
that set `display_busy`, the next side's engine and the metrics start once the image just shown is drawn.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore
from PySide6.QtCore import Signal, Slot

from app.bundle.snapshot import explained_verdict, write_snapshot
from app.core.auto_trace import AutoTraceOptions, record_with_cause, run_on_fail
from app.core.inspection_pipeline import pipeline_for
from app.core.records import EngineOutcome
from app.core.session import ComparisonSession, TraceValues
from app.qt import gui_gc
from app.qt.workers import Job, JobRunner
from simulator.config import ConfigError
from app.core.sides import SIDES

STALE_EDIT = "stale: from the previous command line"
STALE_ENGINES = "stale: from the previous engine choice"
STALE_INTERRUPTED = "interrupted run: not a finished comparison"
STALE_IMAGE = "stale: traced before the image was loaded"
SHUTDOWN_WAIT_S = 0.6   # closing must end within 1 s: what is still running then is abandoned (it holds no process)


class RunModel(QtCore.QObject):
    """Owns the run; see the module docstring for its signals."""

    started = Signal(int)
    engine_progress = Signal(str, float)
    engine_finished = Signal(str, object)
    run_finished = Signal(int)
    busy_changed = Signal(bool)
    metrics_ready = Signal(object, object)
    inspection_started = Signal(int, int)
    inspection_ready = Signal(object)
    pipeline_ready = Signal(object)
    inspection_failed = Signal(str)
    stale = Signal(str, str)
    exported = Signal(object)
    failed = Signal(str, str, str)
    auto_trace_started = Signal(float)
    auto_trace_ready = Signal(object, object)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        gui_gc.install()   # the workers below allocate most: no garbage collection may start in them
        self.runner = JobRunner("nbparity-run")
        self.runner.progress.connect(self._on_progress)
        self.runner.result.connect(self._on_result)
        self.runner.error.connect(self._on_error)
        self.runner.finished.connect(self._on_finished)
        self.parallel = False                   # the schedule of the current run (the session decides)
        self.session = None
        self.labels: dict[str, str] = {"a": "A", "b": "B"}   # display names of the sides' engines
        self.outcomes: dict[str, object | None] = dict.fromkeys(SIDES)
        self.metrics = None
        self.verdict = None
        self.inspections: list = []
        self.run_id = 0
        self.staleness: dict[str, str] = {"images": "", "inspector": ""}
        self._engine_jobs: dict[str, Job] = {}
        self._waiting: list[str] = []          # sides not started yet (sequential schedule)
        # What the window's sessions learnt of binaries' traces, kept for the window's life: a binary trusted to print
        # its pixel's float value in one Run's session stays trusted in the next (issue 19: no float file per click)
        self.trace_values = TraceValues()
        self._run_cancel: threading.Event | None = None
        self._trace: Job | None = None
        self._jobs: dict[int, tuple] = {}       # job id -> (kind, run id, extra)
        self.auto_trace_options = AutoTraceOptions()   # issue 21; the window sets it (settings, --no-auto-trace)
        self.auto_trace = None                  # app.core.auto_trace.AutoTrace of the current run
        self._auto_job: Job | None = None
        # Set by the views (app.widgets.run_views): True while a new image's display is being computed. The next
        # side's engine and the run's metrics then wait for it (display_done), so an image is drawn first instead
        # of sharing the two cores with them (issue 19: A finished -> drawn within 150 ms, B -> both in 400 ms).
        self.display_busy: Callable[[], bool] | None = None
        self._next_held = False                 # the next side waits for the display (it stays in _waiting)
        self._metrics_pending = False           # the run's metrics wait for the display

    # ---- state ---------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while an engine of the current run is running or waiting its turn."""
        return bool(self._engine_jobs or self._waiting)

    def tracing(self) -> bool:
        return self._trace is not None

    def idle(self) -> bool:
        """No engine, metrics, trace or export job left (nor metrics waiting for the display)."""
        return not self.busy and not self._jobs and not self._metrics_pending

    def outcome(self, side: str):
        return self.outcomes[side]

    def record(self):
        """The current comparison as an immutable app.core.records.ComparisonRecord (None without a session)."""
        if self.session is None:
            return None
        return self.session.record(self.outcomes["a"], self.outcomes["b"], self.metrics, self.inspections)

    # ---- runs ----------------------------------------------------------------------------------------------------
    def session_for(self, argv: list[str], options) -> ComparisonSession:
        """A session on argv with options (app.core.session.SessionOptions) that shares this model's trace_values."""
        return ComparisonSession(argv, options, trace_values=self.trace_values)

    def start_run(self, session) -> int:
        """Run both engines of `session` (app.core.session.ComparisonSession); returns the run id.

        Raises RuntimeError while a run is in progress (the window offers Cancel instead)."""
        if self.busy:
            raise RuntimeError("a run is in progress: cancel it first")
        self._drop_trace()
        self._drop_auto_trace()
        self.run_id += 1
        self._metrics_pending = self._next_held = False
        self.session = session
        self.labels = session.labels()
        self.parallel = session.schedule() == "parallel"
        self.outcomes = dict.fromkeys(SIDES)
        self.metrics = self.verdict = None
        self.inspections = []
        self._run_cancel = threading.Event()
        self._set_stale("images", "")
        self._set_stale("inspector", "")
        self.started.emit(self.run_id)
        self.busy_changed.emit(True)
        order = session.run_order()   # sequential: the side expected to finish first starts first
        self._waiting = [] if self.parallel else [order[1]]
        for side in (SIDES if self.parallel else order[:1]):
            self._start_engine(side)
        return self.run_id

    def _start_engine(self, side: str) -> None:
        session, cancel = self.session, self._run_cancel
        job = self.runner.start(f"engine-{side}", lambda progress, _c: session.run_side(side, progress, cancel),
                                cancel)
        self._engine_jobs[side] = job
        self._jobs[job.id] = ("engine", self.run_id, side)

    def cancel(self) -> bool:
        """Stop the engines (the C process group is killed) and any trace; True when something was stopped."""
        stopped = False
        if self.busy and self._run_cancel is not None:
            self._run_cancel.set()
            stopped = True
            self._set_stale("images", STALE_INTERRUPTED)
        if self._trace is not None:
            self._drop_trace()
            stopped = True
            self.inspection_failed.emit("trace cancelled")
        stopped = self._drop_auto_trace() or stopped
        return stopped

    def note_command_line(self, argv: list[str] | None, options=None) -> None:
        """The editor now holds `argv` (None: not valid) and the pickers `options` (app.core.session.SessionOptions,
        None: not valid): views of another command line or engine choice go stale, and current again when it is back."""
        if self.session is None:
            return
        if argv is None or list(argv) != list(self.session.argv):
            reason = STALE_EDIT
        elif options is None or options != self.session.options:
            reason = STALE_ENGINES
        else:
            reason = ""
        for view in ("images", "inspector"):
            if reason and (view == "images" or self.inspections):
                if self.staleness[view] in ("", STALE_EDIT, STALE_ENGINES):
                    self._set_stale(view, reason)
            elif self.staleness[view] in (STALE_EDIT, STALE_ENGINES):
                self._set_stale(view, "")

    def _set_stale(self, view: str, reason: str) -> None:
        if self.staleness[view] != reason:
            self.staleness[view] = reason
            self.stale.emit(view, reason)

    # ---- loaded images and records -------------------------------------------------------------------------------
    def load_outcome(self, side: str, outcome, session=None) -> None:
        """Show an image loaded from a file as `side` (an EngineOutcome wrapping it). Traces made before no longer
        describe what is shown: the inspector is marked stale. Metrics follow when both sides hold images."""
        self.outcomes[side] = outcome
        self.labels[side] = outcome.engine
        if session is not None and self.session is None:
            self.session = session
        self.metrics = self.verdict = None
        if self.inspections:
            self._set_stale("inspector", STALE_IMAGE)
        self.compute_metrics()

    def load_record(self, record) -> None:
        """Show a finished comparison read from disk (an app.core.records.ComparisonRecord from a bundle): nothing
        runs; the signals fire as for a run. Traces and snapshots then need a session for its command line
        (`inspect(..., session)`): the record keeps no engines."""
        if self.busy:
            raise RuntimeError("a run is in progress: cancel it first")
        self._drop_trace()
        self.run_id += 1
        self._metrics_pending = self._next_held = False
        self.session = None
        self.labels = dict(record.labels)
        self.parallel = False
        self.outcomes = {side: record.outcome(side) for side in SIDES}
        self.metrics, self.verdict = record.metrics, record.verdict
        self.inspections = list(record.inspections)
        self._set_stale("images", "")
        self._set_stale("inspector", "")
        self.started.emit(self.run_id)
        for side in SIDES:
            if self.outcomes[side] is not None:
                self.engine_finished.emit(side, self.outcomes[side])
        self.run_finished.emit(self.run_id)
        if self.metrics is not None:
            self.metrics_ready.emit(self.metrics, self.verdict)
        for insp in self.inspections:
            self.inspection_ready.emit(insp)
        self._start_pipelines(list(self.inspections), record.thresholds)

    def _start_pipelines(self, inspections: list, thresholds) -> None:
        """Pipeline diffs of inspections that arrived without one (a loaded record), on a worker."""
        if not inspections:
            return
        job = self.runner.start("pipeline", lambda _p, _c: [pipeline_for(i, thresholds) for i in inspections])
        self._jobs[job.id] = ("pipeline", self.run_id, None)

    # ---- metrics -------------------------------------------------------------------------------------------------
    def compute_metrics(self) -> bool:
        """Image metrics and verdict on a worker when both sides hold images of one shape; False otherwise."""
        a, b = self.outcomes["a"], self.outcomes["b"]
        if a is None or b is None or not a.ok or not b.ok:
            return False
        if a.result.image.shape != b.result.image.shape:
            self.metrics = self.verdict = None
            self.metrics_ready.emit(None, None)
            return False
        session = self.session

        def work(_progress, _cancel):
            if session is None:
                from tracing.metrics import compare_images
                return compare_images(a.result.image, b.result.image), None
            m = session.compare(a.result, b.result)
            # The verdict that says why (issue 16): a scale decomposed into the factors the consoles report.
            from tracing.scale import factors_from_log
            from tracing.why import explain_verdict
            logs = (factors_from_log(a.result.log), factors_from_log(b.result.log))
            return m, explain_verdict(session.verdict(m), m, names=(session.label("a"), session.label("b")),
                                      logs=logs)
        job = self.runner.start("metrics", work)
        self._jobs[job.id] = ("metrics", self.run_id, None)
        return True

    # ---- pixel traces --------------------------------------------------------------------------------------------
    def inspect(self, slow: int, fast: int, session=None) -> None:
        """Trace pixel (slow, fast) on both engines with `session` (default: the run's). A newer request cancels
        an older one. Raises ConfigError for a pixel off the detector or when there is no command line."""
        session = session or self.session
        if session is None:
            raise ConfigError("no valid command line to trace the pixel with")
        session.check_pixel(slow, fast)
        if self._trace is not None:
            self._drop_trace()
        cancel = threading.Event()

        def work(_progress, _cancel):
            insp = session.inspect_pixel(slow, fast, cancel)
            return insp, pipeline_for(insp, session.thresholds)   # the diff too, off the GUI thread
        job = self.runner.start("trace", work, cancel)
        self._trace = job
        self._jobs[job.id] = ("trace", self.run_id, (slow, fast))
        self.inspection_started.emit(slow, fast)

    def _drop_trace(self) -> None:
        # The thread ends on its own once the C side sees the event; its result is ignored (job id no longer ours).
        if self._trace is not None:
            self._trace.cancel()
            self._trace = None

    # ---- issue 21: the worst pixels of a FAIL traced without a click ----------------------------------------------
    def _start_auto_trace(self) -> None:
        """On a failing verdict of a run (not a loaded record), trace its chosen pixels on a worker within the
        budget; `auto_trace_ready` follows."""
        a, b, verdict, session = self.outcomes["a"], self.outcomes["b"], self.verdict, self.session
        opts = self.auto_trace_options
        if session is None or verdict is None or verdict.passed or not opts.enabled or self.metrics is None:
            return
        from tracing.ledger import LedgerError, load_ledger
        metrics = self.metrics
        self._drop_auto_trace()
        cancel = threading.Event()

        def work(_progress, _cancel):
            try:
                ledger = load_ledger()
            except LedgerError:   # the shipped file is ours; a broken copy leaves the cause unexplained
                ledger = None
            auto = run_on_fail(session, a.result, b.result, metrics, verdict, ledger=ledger, options=opts,
                               cancel=cancel)
            if auto is None:
                return None
            # The same reading as `nbparity compare`: the cause, then scale / per-pixel / unit problems (tracing.why)
            rec = record_with_cause(session.record(a, b, metrics, list(auto.inspections)), auto)
            # The traced pixels' pipeline diffs too, off the GUI thread, as for a pixel the user traces.
            pipelines = [pipeline_for(i, session.thresholds) for i in auto.inspections]
            return auto, explained_verdict(rec, ledger), pipelines
        self._auto_job = self.runner.start("auto-trace", work, cancel)
        self._jobs[self._auto_job.id] = ("auto-trace", self.run_id, None)
        self.auto_trace_started.emit(float(opts.budget_s))

    def _drop_auto_trace(self) -> bool:
        """Cancel a running auto-trace (its result is then ignored); True when one was running."""
        self.auto_trace = None
        if self._auto_job is None:
            return False
        self._auto_job.cancel()
        self._auto_job = None
        return True

    # ---- export --------------------------------------------------------------------------------------------------
    def export(self, parent, extra_files, inspections: list, session=None) -> None:
        """Write a snapshot bundle of the current comparison under `parent` on a worker (`exported` follows)."""
        session = session or self.session
        if session is None:
            raise ConfigError("no valid command line: the snapshot records it")
        outcomes, metrics, auto = dict(self.outcomes), self.metrics, self.auto_trace

        def work(_progress, _cancel):
            c, py = outcomes["a"], outcomes["b"]
            # A callable draws the pictures and report here, on the worker (app.window.export.render), not the GUI
            # thread.
            extra = extra_files(session, c, py, metrics) if callable(extra_files) else extra_files
            # issue 21: the bundle's verdict names the cause too
            rec = record_with_cause(session.record(c, py, metrics, inspections), auto)
            return write_snapshot(rec, Path(parent), extra_files=extra or {}, png=False, prefix="compare")
        job = self.runner.start("export", work)
        self._jobs[job.id] = ("export", self.run_id, None)

    def exporting(self) -> bool:
        return any(kind == "export" for kind, _r, _x in self._jobs.values())

    # ---- job outcomes (GUI thread) -------------------------------------------------------------------------------
    @Slot(int, str, float)
    def _on_progress(self, job_id: int, _tag: str, fraction: float) -> None:
        kind, run, side = self._jobs.get(job_id, (None, None, None))
        if kind == "engine" and run == self.run_id:
            self.engine_progress.emit(side, fraction)

    @Slot(int, str, object)
    def _on_result(self, job_id: int, _tag: str, value) -> None:
        kind, run, extra = self._jobs.get(job_id, (None, None, None))
        if kind == "engine" and run == self.run_id:
            self._engine_done(extra, value)
        elif kind == "metrics" and run == self.run_id:
            self.metrics, self.verdict = value
            self.metrics_ready.emit(self.metrics, self.verdict)
            self._start_auto_trace()
        elif kind == "auto-trace" and self._auto_job is not None and self._auto_job.id == job_id:
            self._auto_job = None
            if run != self.run_id or value is None:
                return
            self.auto_trace, self.verdict, pipelines = value
            for pipeline in pipelines:   # before the inspections reach the inspector, as for a traced pixel
                self.pipeline_ready.emit(pipeline)
            done = {(i.slow, i.fast) for i in self.auto_trace.inspections}
            self.inspections = [i for i in self.inspections if (i.slow, i.fast) not in done] + \
                list(self.auto_trace.inspections)
            self.auto_trace_ready.emit(self.auto_trace, self.verdict)
        elif kind == "trace" and self._trace is not None and self._trace.id == job_id:
            self._trace = None
            if run == self.run_id:
                insp, pipeline = value
                self.inspections = [i for i in self.inspections if (i.slow, i.fast) != extra] + [insp]
                self._set_stale("inspector", "")
                self.pipeline_ready.emit(pipeline)
                self.inspection_ready.emit(insp)
        elif kind == "pipeline" and run == self.run_id:
            for pipeline in value:
                self.pipeline_ready.emit(pipeline)
        elif kind == "export":
            self._jobs[job_id] = ("written", run, extra)  # a new export may start now; the thread is ending
            self.exported.emit(value)

    @Slot(int, str, str, str)
    def _on_error(self, job_id: int, tag: str, message: str, details: str) -> None:
        kind, run, extra = self._jobs.get(job_id, (None, None, None))
        if kind == "engine" and run == self.run_id:
            self._engine_done(extra, EngineOutcome(self.labels[extra], error=message, log_tail=details, side=extra))
            return
        if kind == "trace" and self._trace is not None and self._trace.id == job_id:
            self._trace = None
            self.inspection_failed.emit(f"trace failed: {message}")
        if kind == "auto-trace" and self._auto_job is not None and self._auto_job.id == job_id:
            self._auto_job = None
        self.failed.emit(tag, message, details)

    @Slot(int, str)
    def _on_finished(self, job_id: int, _tag: str) -> None:
        self._jobs.pop(job_id, None)

    def _engine_done(self, side: str, outcome) -> None:
        self._engine_jobs.pop(side, None)
        self.outcomes[side] = outcome
        self.engine_finished.emit(side, outcome)
        if self._waiting:
            if self._display_busy() and not (self._run_cancel is not None and self._run_cancel.is_set()):
                self._next_held = True        # display_done starts it once the image just shown is drawn
                return
            self._start_next()
            return
        if self._engine_jobs:
            return
        if any(o is not None and o.cancelled for o in self.outcomes.values()):
            self._set_stale("images", STALE_INTERRUPTED)
        self.busy_changed.emit(False)
        self.run_finished.emit(self.run_id)
        if self._display_busy():
            self._metrics_pending = True      # display_done starts them once the images are drawn
        else:
            self.compute_metrics()

    def _display_busy(self) -> bool:
        return self.display_busy is not None and self.display_busy()

    def _start_next(self) -> None:
        """Start the next waiting side (sequential schedule), or end it as cancelled when the run was."""
        nxt = self._waiting.pop(0)
        if self._run_cancel is not None and self._run_cancel.is_set():
            self._engine_done(nxt, EngineOutcome(self.labels[nxt], error="cancelled", cancelled=True, side=nxt,
                                                 log_tail="cancelled before it started"))
            return
        self._start_engine(nxt)

    def display_done(self) -> None:
        """The owner's display has drawn what it was given (display_busy is False): start what waited for it, the
        next side's engine or the run's metrics."""
        if self._next_held:
            self._next_held = False
            if self._waiting:
                self._start_next()
        if self._metrics_pending:
            self._metrics_pending = False
            self.compute_metrics()

    # ---- lifecycle -----------------------------------------------------------------------------------------------
    def shutdown(self, wait_s: float = SHUTDOWN_WAIT_S) -> bool:
        """Cancel every job (C process groups are killed by their drivers), stop relaying, and wait up to `wait_s`
        for the threads; True when all ended. Never blocks on the event loop."""
        if self._run_cancel is not None:
            self._run_cancel.set()
        self._drop_trace()
        self._drop_auto_trace()
        self._waiting = []
        self._metrics_pending = self._next_held = False
        self.runner.close()
        return self.runner.wait_all(wait_s)
