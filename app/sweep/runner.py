"""Schedule a matrix's cases on dask.distributed and collect their records.

With no scheduler address a `LocalCluster` of `workers` processes starts on this machine (one thread each, no
dashboard, scratch space in a temporary folder removed afterwards) and is closed however the sweep ends. With an
address (tcp://host:8786) the cases go to that cluster, whose workers need only `pip install nbparity`; the bundles
are then written on the workers' disks at the same `--out` path, and input files named in the command lines (-hkl,
-mat, ...) must exist at the same paths there (a shared file system, or the same layout).

Each case is one task (`app.sweep.task.run_case`, retried `retries` times when it raises); a worker lost while
running a case (killed, out of memory) makes the scheduler run the case again on another worker, up to
`allowed_failures` times. Finished cases of an earlier run with the same fingerprint are skipped (resume).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.auto_trace import AutoTraceOptions
from app.sweep.matrix import CaseSpec, Matrix
from app.sweep.record import CaseRecord
from app.sweep.trust import SweepSetupError, verified_record

log = logging.getLogger(__name__)
CANCEL_GRACE_S = 10.0


@dataclass(frozen=True)
class SweepOptions:
    """out: the sweep folder (cases/<slug>/ bundles, reports). workers: LocalCluster processes (ignored with
    scheduler). threads: per-case engine threads (None: the cores shared out among the local workers; left to
    the engines on a remote cluster). rerun: ignore finished cases."""

    out: Path
    workers: int = 2
    scheduler: str | None = None
    threads: int | None = None
    retries: int = 2
    allowed_failures: int = 3
    rerun: bool = False
    cluster: object | None = None    # app.sweep.cluster.ClusterSpec of kind "slurm" (issue 17), else None
    auto_trace: AutoTraceOptions = AutoTraceOptions()   # issue 21: failing cases trace their worst pixels


@dataclass
class SweepResult:
    """Every case's record in matrix order (resumed ones have resumed=True; cases never started are 'cancelled'),
    whether the sweep was cancelled, and its wall time in s."""

    records: list[CaseRecord]
    cancelled: bool = False
    wall_s: float = 0.0
    cluster: str = ""
    skipped: int = 0


Progress = Callable[[CaseRecord, int, int], None]  # (record just finished, done so far, total)


def run_sweep(matrix: Matrix, options: SweepOptions, progress: Progress | None = None) -> SweepResult:
    """Run every case not finished yet; KeyboardInterrupt cancels the rest (running cases are told to stop, the
    cluster closed) and returns a result with cancelled=True."""
    t0 = time.monotonic()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    done: dict[str, CaseRecord] = {}
    total = len(matrix.cases)
    for case in matrix.cases if not options.rerun else ():
        # A record.json is a claim: believed only as far as its verified bundle supports it (app.sweep.trust).
        checked = verified_record(out, case)
        if checked is not None:
            rec = checked.record
            rec.resumed = True
            done[case.name] = rec
            if progress:
                progress(rec, len(done), total)
    result = SweepResult(records=[], skipped=len(done))
    todo = [c for c in matrix.cases if c.name not in done]
    if todo:
        try:
            with _client(options) as (client, label, threads):
                result.cluster = label
                result.cancelled = _run_on(client, todo, out, threads, options, done, progress, total)
        except KeyboardInterrupt:  # Ctrl-C while the cluster was starting or closing
            result.cancelled = True
    result.records = [done.get(c.name) or _not_run(c) for c in matrix.cases]
    result.wall_s = time.monotonic() - t0
    return result


def _run_on(client, todo: list[CaseSpec], out: Path, threads: int | None, options: SweepOptions,
            done: dict[str, CaseRecord], progress: Progress | None, total: int) -> bool:
    """Submit and gather; returns True when cancelled by KeyboardInterrupt."""
    from distributed import as_completed

    from app.sweep.task import run_case
    futures = {}
    for case in todo:
        fut = client.submit(run_case, case, str(out.resolve()), threads, options.auto_trace,
                            key=f"nbparity-{case.slug}-{case.fingerprint()[:12]}-{os.getpid()}",
                            retries=options.retries, pure=False)
        futures[fut] = case
    try:
        for fut in as_completed(list(futures)):
            case = futures[fut]
            rec = _gather_one(fut, case)
            done[case.name] = rec
            if progress:
                progress(rec, len(done), total)
    except KeyboardInterrupt:
        _cancel(client, list(futures))
        for fut, case in futures.items():  # keep what finished while we were stopping
            if case.name not in done and fut.status == "finished":
                done[case.name] = _gather_one(fut, case)
        return True
    return False


def _gather_one(fut, case: CaseSpec) -> CaseRecord:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - the case failed after its retries; the sweep goes on
        rec = _not_run(case)
        rec.status, rec.error = "error", f"{type(exc).__name__}: {exc}"
        return rec


def _cancel(client, futures: list) -> None:
    """Tell running cases to stop (their C processes are killed), drop the queued ones, wait a little."""
    from app.sweep.task import cancel_running
    try:
        client.cancel(futures)
        client.run(cancel_running)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while time.monotonic() < deadline and any(p for p in client.processing().values()):
            time.sleep(0.1)
    except Exception as exc:  # noqa: BLE001 - closing the cluster still ends every worker
        log.warning("could not cancel the running cases cleanly: %s", exc)


def _not_run(case: CaseSpec) -> CaseRecord:
    from app.sweep.task import _thresholds
    return CaseRecord(name=case.name, slug=case.slug, status="cancelled", argv=list(case.argv),
                      engines=list(case.engines), fingerprint=case.fingerprint(), group=case.group,
                      error="not run (the sweep was cancelled)", thresholds=_thresholds(case))


@contextlib.contextmanager
def _client(options: SweepOptions) -> Iterator[tuple[object, str, int | None]]:
    """(client, description, per-case threads); the LocalCluster and its scratch folder end with the block."""
    import dask
    from distributed import Client, LocalCluster

    from app.sweep.task import CancelRegistry
    logging.getLogger("distributed").setLevel(logging.ERROR)
    scratch = tempfile.mkdtemp(prefix="nbparity-dask-")  # every dask scratch file goes here; removed at the end
    cluster = client = None
    # The scheduler's HTTP routes on a free port: two sweeps (or another cluster) never fight over :8787.
    with dask.config.set({"distributed.scheduler.allowed-failures": options.allowed_failures,
                          "temporary-directory": scratch, "distributed.scheduler.dashboard.address": ":0"}):
        try:
            if getattr(options.cluster, "kind", None) == "slurm":  # issue 17: workers are batch jobs
                from dataclasses import replace

                from app.sweep.cluster import slurm_cluster
                spec = options.cluster
                if not spec.log_directory:  # job output files beside the bundles, not in the current folder
                    spec = replace(spec, log_directory=str(Path(options.out).resolve() / "slurm-logs"))
                with slurm_cluster(spec) as batch:
                    client = Client(batch)
                    try:
                        client.register_plugin(CancelRegistry(), name="nbparity-cancel")
                        yield client, options.cluster.describe(), options.threads or 1
                    finally:
                        client.close()
                return
            if options.scheduler:
                try:
                    client = Client(options.scheduler, timeout="30s")
                except (OSError, TimeoutError, ValueError) as exc:
                    raise SweepSetupError(f"--scheduler {options.scheduler}: not a dask scheduler, or it does not "
                                          f"answer ({type(exc).__name__}: {exc})") from None
                client.register_plugin(CancelRegistry(), name="nbparity-cancel")
                yield client, f"scheduler {options.scheduler}", options.threads
                return
            # The workers ignore SIGINT (app.sweep.worker_setup): a terminal's Ctrl-C reaches the whole process
            # group, and only this process may act on it, stopping the cases and closing the workers in order.
            with dask.config.set({"distributed.worker.preload": ["app.sweep.worker_setup"]}):
                cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, local_directory=scratch, silence_logs=logging.ERROR)
            client = Client(cluster)
            client.register_plugin(CancelRegistry(), name="nbparity-cancel")
            threads = options.threads or max(1, (os.cpu_count() or 1) // options.workers)
            yield client, f"LocalCluster of {options.workers} worker(s), {threads} thread(s) per case", threads
        finally:
            for closing in (client, cluster):
                if closing is not None:
                    with contextlib.suppress(Exception):
                        closing.close()
            shutil.rmtree(scratch, ignore_errors=True)

