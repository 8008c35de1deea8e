"""Where a sweep runs: a cluster spec, from a laptop to a batch system.

- local: a LocalCluster of N worker processes on this machine (the default; app.sweep.runner starts it);
- scheduler: a running Dask scheduler (tcp://host:8786) whose workers someone else started;
- slurm: dask-jobqueue's SLURMCluster: each worker is a SLURM batch job (`sbatch`) on the queue, with `cores`
  cores, `memory` and `walltime` per job, `jobs` jobs at most. The scheduler runs in this process; the workers
  write the bundles under the sweep's --out, which must be a folder every node sees at the same path (a shared
  file system), and run this machine's Python (`python`, default: the one running nbparity), which must exist
  at the same path on the nodes. `--dry-run` prints the job script and submits nothing.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from simulator.config import ConfigError

KINDS = ("local", "scheduler", "slurm")
WORKER_PRELOAD = "app.sweep.worker_setup"   # workers ignore SIGINT (see app.sweep.worker_setup)
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B)\s*$", re.IGNORECASE)
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")


@dataclass(frozen=True)
class ClusterSpec:
    """kind: local | scheduler | slurm. workers: local processes; scheduler: its address. For slurm: queue
    (partition; None = the system's default), cores and memory (e.g. "2GB") per job, walltime ("HH:MM:SS"), jobs
    (workers, one per job), python (the workers' interpreter), job_extra (more #SBATCH directives, e.g.
    "--account=xyz"), host (the scheduler's listen address the workers connect to; None = dask's choice),
    log_directory (where the jobs' output files go)."""

    kind: str = "local"
    workers: int = 2
    scheduler: str | None = None
    queue: str | None = None
    cores: int = 1
    memory: str = "2GB"
    walltime: str = "01:00:00"
    jobs: int = 2
    python: str | None = None
    job_extra: tuple[str, ...] = field(default_factory=tuple)
    host: str | None = None
    log_directory: str | None = None   # the jobs' stdout/stderr (the runner: <out>/slurm-logs, never the cwd)

    def validate(self, require_sbatch: bool = True) -> None:
        """ConfigError naming the option and what was expected (for slurm: dask-jobqueue importable, and `sbatch`
        on PATH unless require_sbatch is False, as for --dry-run)."""
        if self.kind not in KINDS:
            raise ConfigError(f"--cluster {self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.kind == "scheduler" and not (self.scheduler or "").strip():
            raise ConfigError("--scheduler: expected an address such as tcp://host:8786")
        if self.kind != "slurm":
            return
        if self.cores < 1 or self.jobs < 1:
            raise ConfigError(f"--cores {self.cores} / --jobs {self.jobs}: expected positive integers")
        if not _MEMORY.match(self.memory):
            raise ConfigError(f"--memory {self.memory!r}: expected an amount such as 2GB or 500MiB")
        if not _WALLTIME.match(self.walltime):
            raise ConfigError(f"--walltime {self.walltime!r}: expected [D-]HH:MM:SS, MM:SS or minutes")
        if importlib.util.find_spec("dask_jobqueue") is None:
            raise ConfigError("--cluster slurm needs dask-jobqueue (pip install dask-jobqueue)")
        if require_sbatch and shutil.which("sbatch") is None:
            raise ConfigError("--cluster slurm: sbatch not found on PATH (run the sweep where jobs can be submitted; "
                              "--dry-run shows the job script anywhere)")

    def describe(self) -> str:
        if self.kind == "scheduler":
            return f"scheduler {self.scheduler}"
        if self.kind == "slurm":
            return (f"SLURM queue {self.queue or '(default)'}: {self.jobs} job(s) of {self.cores} core(s), "
                    f"{self.memory}, walltime {self.walltime}")
        return f"a local cluster of {self.workers} worker(s)"

    def slurm_kwargs(self) -> dict:
        """Keyword arguments of dask_jobqueue.SLURMCluster: one worker process per job, all its cores as threads,
        the workers preloading app.sweep.worker_setup."""
        kw = dict(cores=self.cores, processes=1, memory=self.memory, walltime=self.walltime,
                  python=self.python or sys.executable, job_extra_directives=list(self.job_extra),
                  worker_extra_args=["--preload", WORKER_PRELOAD], name="nbparity-sweep")
        if self.queue:
            kw["queue"] = self.queue
        if self.host:
            kw["scheduler_options"] = {"host": self.host}
        if self.log_directory:
            kw["log_directory"] = self.log_directory
        return kw


def job_script(spec: ClusterSpec) -> str:
    """The batch script one worker job would run (`--dry-run`): nothing is submitted; the in-process scheduler
    that rendering it needs is closed again."""
    from dask_jobqueue import SLURMCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with SLURMCluster(**spec.slurm_kwargs()) as cluster:
        return cluster.job_script()


@contextlib.contextmanager
def slurm_cluster(spec: ClusterSpec) -> Iterator[object]:
    """A SLURMCluster scaled to spec.jobs worker jobs; every job is cancelled (scancel) and the scheduler closed
    when the block ends, however it ends."""
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(**spec.slurm_kwargs())
    try:
        cluster.scale(jobs=spec.jobs)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.close()
