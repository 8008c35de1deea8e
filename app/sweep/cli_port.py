"""`nbparity sweep`'s options for the port team's matrix and for clusters (issue 17), kept out of app.sweep.cli:
`--matrix FILE` (TOML, or their parity_cases.yaml), `--a/--b ENGINE` (for a YAML matrix defaulting to $NB_C_BIN /
$NB_PY_BIN as their tools do), `--cluster local|slurm` with `--queue/--cores/--memory/--walltime/--jobs`, and
`--dry-run` (print the plan, and for SLURM the job script, then stop)."""
from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from app.sweep.cluster import ClusterSpec
from app.sweep.matrix import DEFAULT_ENGINES, Matrix, load_matrix
from app.sweep.yaml_matrix import is_yaml, load_yaml_matrix


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--matrix", dest="matrix_file", type=Path, metavar="FILE",
                   help="the matrix: TOML, or the port team's YAML (parity_cases.yaml); same as MATRIX")
    p.add_argument("--a", metavar="ENGINE", help="side A of every case (YAML default: bin:$NB_C_BIN, else cref)")
    p.add_argument("--b", metavar="ENGINE", help="side B of every case (YAML default: cmd:$NB_PY_BIN, else torch)")
    p.add_argument("--cluster", choices=("local", "slurm"), default="local",
                   help="local processes (default; or --scheduler ADDRESS), or SLURM batch jobs via dask-jobqueue")
    p.add_argument("--queue", metavar="PARTITION", help="slurm: the partition (default: the system's)")
    p.add_argument("--cores", type=int, default=1, metavar="N", help="slurm: cores per job (default 1)")
    p.add_argument("--memory", default="2GB", metavar="AMOUNT", help="slurm: memory per job (default 2GB)")
    p.add_argument("--walltime", default="01:00:00", metavar="HH:MM:SS", help="slurm: per job (default 1 h)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="slurm: worker jobs (default 2)")
    p.add_argument("--scheduler-host", metavar="HOST", help="slurm: address the workers reach the scheduler at")
    p.add_argument("--dry-run", action="store_true", help="print the plan (and the SLURM job script); run nothing")


def engines(opts: argparse.Namespace, env: Mapping[str, str], yaml_matrix: bool) -> tuple[str | None, str | None]:
    """(A, B) spellings to impose on every case, None = the matrix's own. A YAML matrix names no engines: its
    defaults are the port team's variables (NB_PY_BIN run as nb-compare runs it), then cref / torch."""
    from app.nb_compare.locate import py_command
    a, b = opts.a, opts.b
    if yaml_matrix:
        if a is None:
            a = f"bin:{env['NB_C_BIN']}" if env.get("NB_C_BIN") else DEFAULT_ENGINES[0]
        if b is None:
            b = "cmd:" + shlex.join(py_command(env["NB_PY_BIN"])) if env.get("NB_PY_BIN") else DEFAULT_ENGINES[1]
    return a, b


def load(path: Path, opts: argparse.Namespace, env: Mapping[str, str] | None = None) -> Matrix:
    """The matrix at `path` (by its suffix), with --a/--b (and for YAML the env defaults) applied; ConfigError."""
    from app.engines.spec import check_engine
    env = os.environ if env is None else env
    yaml_matrix = is_yaml(path)
    a, b = engines(opts, env, yaml_matrix)
    for flag, spec in (("--a", a), ("--b", b)):
        if spec is not None:
            check_engine(spec, flag)
    if yaml_matrix:
        return load_yaml_matrix(path, (a, b))
    matrix = load_matrix(path)
    if a is None and b is None:
        return matrix
    cases = tuple(replace(c, engines=(a or c.engines[0], b or c.engines[1])) for c in matrix.cases)
    return replace(matrix, cases=cases)


def cluster_spec(opts: argparse.Namespace) -> ClusterSpec | None:
    """The --cluster slurm spec (validated; ConfigError), None for the local cluster or --scheduler."""
    if opts.cluster != "slurm":
        return None
    spec = ClusterSpec("slurm", queue=opts.queue, cores=opts.cores, memory=opts.memory, walltime=opts.walltime,
                       jobs=opts.jobs, host=opts.scheduler_host)
    spec.validate(require_sbatch=not opts.dry_run)
    return spec


def dry_run(matrix: Matrix, cluster: ClusterSpec | None, plan: str) -> int:
    """--dry-run: the plan line, the cases with their engines, and for SLURM the job script; nothing runs."""
    from app.sweep.cluster import job_script
    print(plan)
    for c in matrix.cases:
        print(f"  {c.name}: {c.engines[0]} vs {c.engines[1]}: {' '.join(c.argv)}")
    if cluster is not None:
        print("\nSLURM job script (one per worker job):\n" + job_script(cluster))
    return 0
