"""A sweep through dask-jobqueue's SLURMCluster on a real single-node SLURM (slurm_local.py: munge, slurmctld
and slurmd started as root on localhost, everything in a scratch folder, every daemon stopped afterwards) gives the
same report.csv as the same sweep on a LocalCluster, case for case. Skipped, with the reason, where SLURM cannot
start (not root, slurm-wlm/munge not installed, the node does not come up)."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from slurm_local import LocalSlurm, SlurmUnavailable, _alive

pytestmark = pytest.mark.slow
# Columns that are measurements or paths of one run (times, the bundle's timestamped folder), not results.
RUN_COLUMNS = {"time_a_s", "time_b_s", "bundle"}
SIX = """\
cases:
  - id: SMALL-CUBIC
    base_args: -default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 3 -pixel 0.1 -distance 100 -mosflm -seed 1
    thresholds: {corr_min: 0.9999, sum_ratio_min: 0.9, sum_ratio_max: 1.1, max_abs_max: 500}
    runs:
      - {name: det-32, extra_args: -detpixels 32 -Xbeam 1.6 -Ybeam 1.6}
      - {name: det-48, extra_args: -detpixels 48 -Xbeam 2.4 -Ybeam 2.4}
      - {name: det-64, extra_args: -detpixels 64 -Xbeam 3.2 -Ybeam 3.2}
  - id: SMALL-TRICLINIC
    base_args: -default_F 100 -cell 70 80 90 75 85 95 -lambda 1.0 -N 5 -pixel 0.1 -distance 100 -detpixels 48 -mosflm
    thresholds: {corr_min: 0.99, sum_ratio_min: 0.9, sum_ratio_max: 1.1, max_abs_max: 1000}
    runs:
      - {name: misset-0, extra_args: ""}
      - {name: misset-15, extra_args: -misset 15 25 35}
      - {name: phi-3, extra_args: -phi 0 -osc 0.3 -phisteps 3}
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        try:
            cluster.start()
        except SlurmUnavailable as exc:
            pytest.skip(f"single-node SLURM cannot start here: {exc}")
        yield cluster
    finally:
        pids = dict(cluster.pids)
        cluster.stop()
        assert not [n for n, p in pids.items() if _alive(p)], "a SLURM daemon outlived the test"


def _rows(report: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    return [{k: v for k, v in r.items() if k not in RUN_COLUMNS} for r in rows]


def _sweep(matrix: Path, out: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "sweep", "--matrix", str(matrix), "--out", str(out),
                           "--a", "cref", "--b", "torch", *extra], env=env, capture_output=True, text=True,
                          timeout=900, cwd=matrix.parent)


def test_slurm_sweep_same_csv_as_local(slurm, tmp_path):
    matrix = tmp_path / "six.yaml"
    matrix.write_text(SIX)
    shared = tmp_path / "shared"          # the folder every node sees (here: one node)
    local = _sweep(matrix, shared / "local", slurm.env, "--workers", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    batch = _sweep(matrix, shared / "slurm", slurm.env, "--cluster", "slurm", "--queue", slurm.partition,
                   "--cores", "1", "--memory", "1GB", "--walltime", "00:15:00", "--jobs", "2",
                   "--scheduler-host", "127.0.0.1")
    assert batch.returncode == 0, batch.stderr[-3000:] + slurm.log_tail("slurmctld.log")
    assert "SLURM queue debug" in batch.stderr      # the plan line names the batch system
    want, got = _rows(shared / "local" / "report.csv"), _rows(shared / "slurm" / "report.csv")
    assert len(want) == 6
    assert got == want
    assert all(r["status"] == "PASS" for r in got)
    # every case ran in a SLURM job's worker, not in this process: the records name the worker processes
    records = (shared / "slurm" / "records.json").read_text()
    assert records.count('"worker"') == 6
    assert not slurm.jobs(), "the sweep left SLURM jobs behind"
    assert not list(tmp_path.glob("slurm-*.out"))   # the jobs' output goes beside the bundles, not in the cwd
    assert len(list((shared / "slurm" / "slurm-logs").glob("*.out"))) >= 2
    # the two worker jobs were allocated by SLURM's scheduler (SLURMCluster submits one sbatch per worker)
    assert slurm.log_tail("slurmctld.log", 10**6).count("sched: Allocate JobId=") >= 2


def test_dry_run_prints_the_job_script_and_submits_nothing(slurm, tmp_path):
    matrix = tmp_path / "six.yaml"
    matrix.write_text(SIX)
    out = _sweep(matrix, tmp_path / "o", slurm.env, "--cluster", "slurm", "--queue", "debug", "--cores", "2",
                 "--memory", "3GB", "--walltime", "00:20:00", "--dry-run")
    assert out.returncode == 0, out.stderr[-2000:]
    for line in ("#SBATCH -p debug", "#SBATCH --cpus-per-task=2", "#SBATCH -t 00:20:00", "--preload",
                 "app.sweep.worker_setup", "SMALL-CUBIC/det-32"):
        assert line in out.stdout, line
    assert not slurm.jobs()
    assert not (tmp_path / "o").exists()            # nothing run, nothing written
