"""Benchmark: wall time of a sweep matrix (default the built-in at-parallel) on a LocalCluster of 1 and of 2
workers, interleaved (1, 2, 1, 2, ... for --rounds), each from scratch in its own temporary folder; prints the
times, their medians and the speed-up. `python -m app.sweep.bench [--builtin NAME | MATRIX] [--rounds N]`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from app.sweep.cli import BUILTIN_DIR
from app.sweep.matrix import load_matrix
from app.sweep.report import summary_line
from app.sweep.runner import SweepOptions, run_sweep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.sweep.bench", description=__doc__)
    p.add_argument("matrix", nargs="?", type=Path)
    p.add_argument("--builtin", default="at-parallel")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    opts = p.parse_args(argv)
    matrix = load_matrix(opts.matrix or BUILTIN_DIR / f"{opts.builtin}.toml")
    times: dict[int, list[float]] = {n: [] for n in opts.workers}
    for r in range(opts.rounds):
        for n in opts.workers:
            with tempfile.TemporaryDirectory(prefix="nbparity-bench-") as out:
                t0 = time.monotonic()
                result = run_sweep(matrix, SweepOptions(out=Path(out), workers=n))
                wall = time.monotonic() - t0
            times[n].append(wall)
            print(f"round {r + 1}: {n} worker(s): {wall:.1f} s ({summary_line(result.records)}; "
                  f"{result.cluster})", flush=True)
    base = statistics.median(times[opts.workers[0]])
    for n in opts.workers:
        med = statistics.median(times[n])
        print(f"{matrix.name}, {len(matrix.cases)} cases, {n} worker(s): median {med:.1f} s, speed-up over "
              f"{opts.workers[0]} worker(s) {base / med:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
