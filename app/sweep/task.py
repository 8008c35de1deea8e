"""One sweep case as a Dask task: both engines, the comparison, the probe traces, the case's bundle on this
worker's disk, and a small `CaseRecord` back to the scheduler (images never leave the worker).

Cancellation: the task registers a threading.Event with the worker's `CancelRegistry` plugin; the sweep's client
sets them all on Ctrl-C (`cancel_running`), so a running C process is killed and torch stops between chunks.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from app.core.auto_trace import AutoTraceOptions, run_on_fail, with_cause
from app.bundle.snapshot import explained_verdict, write_snapshot
from app.sweep.engines import case_session
from app.sweep.matrix import CaseSpec
from app.sweep.record import CaseRecord, ProbeRecord, write_record
from tracing.ledger import load_ledger

log = logging.getLogger(__name__)
PLUGIN_NAME = "nbparity-cancel"


class CancelRegistry(WorkerPlugin):
    """Per-worker table of the running cases' cancel events (the plugin object lives on the worker)."""

    name = PLUGIN_NAME

    def setup(self, worker) -> None:
        self.events: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.cancelled = False

    def add(self, key: str) -> threading.Event:
        ev = threading.Event()
        with self.lock:
            if self.cancelled:
                ev.set()
            self.events[key] = ev
        return ev

    def remove(self, key: str) -> None:
        with self.lock:
            self.events.pop(key, None)

    def cancel_all(self) -> int:
        with self.lock:
            self.cancelled = True
            for ev in self.events.values():
                ev.set()
            return len(self.events)


def cancel_running(dask_worker=None) -> int:
    """Run on every worker by `Client.run`: set the cancel event of each running case; returns how many."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME) if dask_worker is not None else None
    return plugin.cancel_all() if plugin is not None else 0


def run_case(case: CaseSpec, sweep_dir: str, threads: int | None = None,
             auto: AutoTraceOptions | None = None) -> CaseRecord:
    """Run `case`, write its bundle under sweep_dir/cases/<slug>/ and its record.json; return the record.

    threads: OpenMP threads of the C run and torch intra-op threads on this worker (None: engine defaults).
    auto: issue 21's auto-trace of a failing case's worst pixels (None: on, default budget).
    """
    registry, key = _registry(), f"{case.slug}-{os.getpid()}-{threading.get_ident()}"
    cancel = registry.add(key) if registry is not None else threading.Event()
    try:
        return _run(case, Path(sweep_dir), threads, cancel, auto or AutoTraceOptions())
    finally:
        if registry is not None:
            registry.remove(key)


def _registry() -> CancelRegistry | None:
    try:
        from distributed import get_worker
        return get_worker().plugins.get(PLUGIN_NAME)
    except (ImportError, ValueError):  # not on a dask worker (a direct call, e.g. from a test)
        return None


def _run(case: CaseSpec, sweep_dir: Path, threads: int | None, cancel: threading.Event,
         auto_options: AutoTraceOptions) -> CaseRecord:
    t0 = time.monotonic()
    rec = CaseRecord(name=case.name, slug=case.slug, status="error", argv=list(case.argv),
                     engines=list(case.engines), fingerprint=case.fingerprint(), group=case.group,
                     worker=f"{socket.gethostname()} pid {os.getpid()}", thresholds=_thresholds(case))
    if threads:
        import torch
        torch.set_num_threads(threads)
    session = case_session(case, threads)
    rec.labels = [session.label("a"), session.label("b")]
    a, b = session.run_both(cancel=cancel)
    rec.time_a_s = a.result.wall_s if a.ok else None
    rec.time_b_s = b.result.wall_s if b.ok else None
    metrics = verdict = None
    problems = [f"{o.engine}: {o.error}" for o in (a, b) if not o.ok]
    if not problems and a.result.shape != b.result.shape:
        problems.append(f"image shapes differ: {a.engine} {a.result.shape} vs {b.engine} {b.result.shape} "
                        "(slow, fast)")
    if not problems:
        metrics = session.compare(a.result, b.result)
        verdict = session.verdict(metrics)
        _fill_metrics(rec, metrics)
    inspections = []
    if not problems and not cancel.is_set():
        for s, f in case.probes:
            insp = session.inspect_pixel(s, f, cancel)
            inspections.append(insp)
            rec.probes.append(_probe(insp))
    ledger = load_ledger()
    if not problems and not cancel.is_set():   # issue 21: a failing case names its cause
        t1 = time.monotonic()
        auto = run_on_fail(session, a.result, b.result, metrics, verdict, ledger=ledger, options=auto_options,
                           cancel=cancel)
        if auto is not None:
            rec.auto_trace_s = time.monotonic() - t1
            inspections += list(auto.inspections)
            verdict = with_cause(verdict, auto)
            rec.first_quantity, rec.first_where = auto.quantity(), auto.where()
            rec.explained_by, rec.cause = auto.explained_by(), auto.cause()
    if cancel.is_set() or any(o.cancelled for o in (a, b)):
        rec.status, rec.error = "cancelled", "cancelled"
        rec.wall_s = time.monotonic() - t0
        return rec  # a cancelled case leaves no bundle and no record.json: a resumed sweep runs it again
    folder = sweep_dir / "cases" / case.slug
    record = session.record(a, b, metrics, inspections)
    if verdict is not None:
        record = dataclasses.replace(record, verdict=verdict)
    bundle = write_snapshot(record, folder, extra_files={}, png=False, prefix="compare", ledger=ledger)
    rec.bundle = bundle.relative_to(sweep_dir).as_posix()
    if problems:
        rec.error = "; ".join(problems)
    else:
        rec.status = "pass" if verdict.passed else "fail"
        rec.verdict = explained_verdict(record, ledger).sentence()
        from app.sweep.port_metrics import write_port_metrics  # issue 17: the port team's metrics.json
        write_port_metrics(folder, case, a, b, verdict.passed)
    rec.wall_s = time.monotonic() - t0
    write_record(folder, rec)
    log.info("case %s: %s in %.2f s", case.name, rec.status, rec.wall_s)
    return rec


def _thresholds(case: CaseSpec) -> dict:
    return asdict(case.thresholds)


def _fill_metrics(rec: CaseRecord, m) -> None:
    rec.correlation = float(m.correlation)
    rec.max_rel_err = float(m.max_rel_err)
    rec.max_rel_err_pixel = list(m.max_rel_err_pixel) if m.max_rel_err_pixel is not None else None
    rec.sum_ratio = float(m.sum_ratio)
    rec.max_abs_diff = float(m.max_abs_diff)
    rec.n_beyond_tol = int(m.n_beyond_tol)
    rec.shape = list(m.shape)


def _probe(insp) -> ProbeRecord:
    p = ProbeRecord(insp.slow, insp.fast, insp.describe())
    p.error = "; ".join(f"{insp.labels.get(k, k)}: {e}" for k, e in insp.errors.items()) or None
    d = insp.comparison.first_divergence if insp.comparison is not None else None
    if d is not None:
        p.field, p.tick, p.phi_deg, p.delta = d.field, d.phi_tic, d.phi_deg, d.delta
    return p
