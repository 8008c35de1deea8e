"""`nbparity sweep`: run a matrix of nanoBragg command lines on a Dask cluster and write one report.

    nbparity sweep MATRIX.toml [--out DIR] [--workers N | --scheduler tcp://HOST:8786] [--only TEXT ...] [--rerun]
    nbparity sweep --builtin at-parallel [...]
    nbparity sweep --matrix parity_cases.yaml [--a ENGINE] [--b ENGINE] [--cluster slurm --queue Q --cores N
                   --memory 2GB --walltime HH:MM:SS --jobs N] [--dry-run]     (issue 17: app/sweep/cli_port.py)

The sweep folder (default nbparity-out/sweep-<matrix name>) holds report.csv, report.md, report.html,
records.json, the matrix as read (matrix.toml) and cases/<case>/ with each case's comparison bundle. Running the
same command again resumes: cases whose bundle is finished (same command line, engines, thresholds and probes)
are skipped; --rerun runs them all again (new bundles beside the old ones).

Exit codes: 0 every case passed; 1 some case failed its parity thresholds; 2 an engine failed or a case could not
run; 3 usage error (a bad flag; a bad matrix file: the message names the case and flag, or the TOML line; --out
holding something that is not a sweep; a scheduler that does not answer; an engine binary missing);
129/130/143 stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM (128 + the signal): running cases stopped, the cluster
closed, the report of the finished cases written (run the same command again to resume).
"""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from app.cli_args import EXIT_ENGINE, EXIT_OK, EXIT_PARITY, UsageError, _Parser, _positive_int
from app.sweep.matrix import CaseSpec, Matrix, slugify
from app.sweep.record import CaseRecord
from app.sweep.trust import SweepSetupError, check_engines, check_out_folder, check_scheduler
from app.sweep.report import counts, summary_line, write_reports

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "resources" / "sweeps"
BAR_WIDTH = 28


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def cmd_sweep(args: list[str]) -> int:
    """Entry point of `nbparity sweep` (app.cli dispatches here); returns the exit code."""
    from simulator.config import ConfigError

    p = _Parser(prog="nbparity sweep", description=__doc__.split("\n\n")[0],
                epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter,
                allow_abbrev=False)
    p.add_argument("matrix", nargs="?", type=Path, help="the matrix TOML file")
    p.add_argument("--builtin", metavar="NAME", help=f"a matrix shipped with nbparity ({', '.join(builtin_names())})")
    p.add_argument("--out", type=Path, metavar="DIR", help="sweep folder (default nbparity-out/sweep-<name>)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=2, metavar="N",
                       help="worker processes of the local cluster (default 2)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="engine threads per case (default: the cores shared among the local workers)")
    p.add_argument("--only", nargs="+", default=[], metavar="TEXT", help="run only cases whose name contains TEXT")
    from app.auto_trace import add_cli_options
    add_cli_options(p)   # issue 21
    p.add_argument("--rerun", action="store_true", help="run finished cases again instead of resuming")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="retries of a case that raises (default 2)")
    from app.sweep import cli_port  # issue 17: --matrix (their YAML), --a/--b, --cluster slurm, --dry-run
    cli_port.add_options(p)
    opts = p.parse_args(args)
    if opts.matrix_file is not None:
        if opts.matrix is not None:
            raise UsageError("give the matrix once: MATRIX or --matrix FILE")
        opts.matrix = opts.matrix_file
    if (opts.matrix is None) == (opts.builtin is None):
        raise UsageError("give a matrix file or --builtin NAME (not both)")
    if opts.builtin is not None and opts.builtin not in builtin_names():
        raise UsageError(f"--builtin {opts.builtin!r}: expected one of {', '.join(builtin_names())}")
    if opts.retries < 0:
        raise UsageError(f"--retries {opts.retries}: expected 0 or more")
    if opts.scheduler is not None and not opts.scheduler.strip():
        raise UsageError("--scheduler: expected an address such as tcp://host:8786")
    path = BUILTIN_DIR / f"{opts.builtin}.toml" if opts.builtin else opts.matrix
    try:
        matrix = cli_port.load(path, opts).select(opts.only)
        cluster = cli_port.cluster_spec(opts)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if cluster is not None and opts.scheduler is not None:
        raise UsageError("give either --cluster slurm or --scheduler ADDRESS, not both")
    if opts.dry_run:
        where = opts.scheduler or (cluster.describe() if cluster else None)
        return cli_port.dry_run(matrix, cluster, plan_text(matrix, where, opts.workers))
    out = opts.out or Path("nbparity-out") / f"sweep-{slugify(matrix.name)}"
    try:  # checked before anything is written or started (app.sweep.trust)
        check_out_folder(out)
        if opts.scheduler is not None:
            check_scheduler(opts.scheduler)
        else:  # a remote cluster's binaries live on its workers' disks: checked there, per case
            check_engines({e for c in matrix.cases for e in c.engines})
    except SweepSetupError as exc:
        raise UsageError(str(exc)) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-test").write_text("")
        (out / ".write-test").unlink()
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    _write_matrix_copy(out, matrix)
    print(plan_text(matrix, opts.scheduler or (cluster.describe() if cluster else None), opts.workers),
          file=sys.stderr)
    return _run(matrix, out, opts, cluster)


def _run(matrix: Matrix, out: Path, opts: argparse.Namespace, cluster=None) -> int:
    from app.auto_trace import options_from_args
    from app.sweep.runner import SweepOptions, run_sweep

    options = SweepOptions(out=out, workers=opts.workers, scheduler=opts.scheduler, threads=opts.threads,
                           retries=opts.retries, rerun=opts.rerun, cluster=cluster,
                           auto_trace=options_from_args(opts))
    bar = ProgressBar(len(matrix.cases), sys.stderr)
    t0 = time.monotonic()
    stopped_by: list[int] = []
    with _signals_interrupt(stopped_by):
        try:
            result = run_sweep(matrix, options, progress=bar.update)
        except SweepSetupError as exc:
            bar.close()
            raise UsageError(str(exc)) from None
    bar.close()
    facts = {"matrix": matrix.source, "cluster": result.cluster or "none (every case was already finished)",
             "cases resumed from an earlier run": str(result.skipped),
             "wall time": f"{time.monotonic() - t0:.1f} s", "sweep folder": str(out.resolve())}
    if result.cancelled:
        how = signal.Signals(stopped_by[0]).name if stopped_by else "Ctrl-C"
        facts["cancelled"] = f"yes ({how}); run the same command again to resume"
    paths = write_reports(out, result.records, title=f"nbparity sweep: {matrix.name}", facts=facts)
    print(summary_line(result.records) + (" (cancelled)" if result.cancelled else ""))
    print(f"report: {paths[2]}")
    c = counts(result.records)
    if result.cancelled:
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)
    if c["error"] or c["cancelled"]:
        return EXIT_ENGINE
    return EXIT_PARITY if c["fail"] else EXIT_OK


class ProgressBar:
    """Cases finished out of total on a terminal line (redrawn in place on a TTY, one line per case otherwise)."""

    def __init__(self, total: int, stream) -> None:
        self.total, self.stream = total, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.tally = {"pass": 0, "fail": 0, "error": 0, "cancelled": 0}
        self.t0 = time.monotonic()

    def update(self, rec: CaseRecord, done: int, total: int) -> None:
        self.tally[rec.status] = self.tally.get(rec.status, 0) + 1
        filled = int(BAR_WIDTH * done / max(1, total))
        how = "resumed" if rec.resumed else f"{rec.wall_s:.1f} s" if rec.wall_s is not None else rec.status
        line = (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}  pass {self.tally['pass']} "
                f"fail {self.tally['fail']} error {self.tally['error']}  {time.monotonic() - self.t0:.0f} s  "
                f"last: {rec.name} {rec.status.upper()} ({how})")
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def plan_text(matrix: Matrix, scheduler: str | None, workers: int) -> str:
    """What the sweep is about to spend: cases, pixels x phi ticks x mosaic domains x sub-pixels, image memory."""
    work = mem = 0
    for case in matrix.cases:
        w, m = estimate(case)
        work, mem = work + w, max(mem, m)
    where = f"scheduler {scheduler}" if scheduler else f"a local cluster of {workers} worker(s)"
    return (f"sweep {matrix.name}: {len(matrix.cases)} case(s) on {where}; about {work / 1e6:.3g} M pixel-paths "
            f"(pixels x phi ticks x mosaic domains x sub-pixels, before sources and layers), up to "
            f"{mem / 2**20:.3g} MiB of images per running case")


def estimate(case: CaseSpec) -> tuple[int, int]:
    """(pixel-paths, bytes of the images one case holds: A and B float32, their difference, SMV copies,
    and torch's float64 working image) of one case; a lower bound where nanoBragg chooses counts itself."""
    from simulator.argv import parse_argv
    from simulator.config import phi_ticks

    cfg = parse_argv(list(case.argv), check_files=False).config
    s_n, f_n = cfg.pixel_counts()
    pixels = s_n * f_n
    try:
        ticks = max(1, phi_ticks(cfg.sampling).n)
    except Exception:  # noqa: BLE001 - already validated at load; an estimate is best effort
        ticks = 1
    domains = max(1, cfg.crystal.mosaic_domains or 1)
    sub = max(1, cfg.sampling.oversample or 1) ** 2
    return pixels * ticks * domains * sub, pixels * (4 * 3 + 2 * 2 + 8)


def _write_matrix_copy(out: Path, matrix: Matrix) -> None:
    """The matrix as read, beside the report (a sweep folder says what it ran)."""
    tmp = out / ".matrix.toml.tmp"
    tmp.write_text(f"# copied from {matrix.source}\n" + matrix.text, encoding="utf-8")
    tmp.replace(out / "matrix.toml")


@contextlib.contextmanager
def _signals_interrupt(stopped_by: list[int]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP stop the sweep as Ctrl-C does (the runner cancels the running cases and closes
    the cluster; the report is still written); the signal's number is appended to `stopped_by`."""
    def handler(signum, frame):
        stopped_by.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
