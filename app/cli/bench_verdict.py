"""Benchmark: time to a verdict of `nbparity compare` against side A alone + side B alone, in one run.

Run: `python -m app.cli.bench_verdict [--repeat K] [--data DIR] [--a ENGINE] [--b ENGINE]` (or `make bench-verdict`).

On the full CLI-FLAGS-003 case (2463 x 2527, A.mat and scaled.hkl from ../shared/data/cli-flags-003), each
measured as its own process with every core, interleaved K times (A alone, B alone, compare, A alone, ...):
- side A alone: our C reference `c_reference/build/nbref <args>` (OMP_NUM_THREADS = all cores);
- side B alone: `python -m simulator <args> -dtype float64` (imports included, as the compare pays them too);
- `nbparity compare -- <args>`: from its start to the moment its PASS/FAIL verdict line is printed (the bundle it
  writes afterwards is not counted).
It prints each time, the medians, and ratio = compare / (A + B); the issue's target is <= 1.15 (it was 1.44
when the two sides ran at once, oversubscribing the cores). Every run gets its own scratch working folder, so the
case's `-floatfile img.bin` lands there. Exit 0 after printing, 3 when the data or the C build are missing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.core.known_cases import cli_flags_003_args

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cli-flags-003"
C_BIN = REPO / "c_reference" / "build" / "nbref"
TARGET = 1.15


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)
    return env


def time_process(cmd: list[str]) -> float:
    """Wall seconds of cmd run to completion in a fresh folder; raises RuntimeError on a non-zero exit."""
    with tempfile.TemporaryDirectory(prefix="nbparity-bench-") as work:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=work, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {r.returncode}: {r.stderr[-500:]}")
    return wall


def time_to_verdict(cmd: list[str]) -> tuple[float, str]:
    """Seconds from start until cmd prints a line starting with PASS or FAIL, and that line."""
    with tempfile.TemporaryDirectory(prefix="nbparity-bench-") as work:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        found, line = None, ""
        for line in proc.stdout:
            if line.startswith(("PASS", "FAIL")):
                found = time.perf_counter() - t0
                break
        proc.stdout.close()
        proc.wait()
    if found is None:
        raise RuntimeError(f"no verdict line from {' '.join(cmd[:4])} (exit {proc.returncode})")
    return found, line.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.cli.bench_verdict", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=1, metavar="K", help="interleaved repetitions (default 1)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"CLI-FLAGS-003 folder (default {DEFAULT_DATA})")
    opts = p.parse_args(argv)
    if not (opts.data / "A.mat").is_file() or not (opts.data / "scaled.hkl").is_file():
        print(f"bench-verdict: CLI-FLAGS-003 data not found in {opts.data} (A.mat, scaled.hkl)", file=sys.stderr)
        return 3
    if not C_BIN.is_file() or shutil.which(str(C_BIN)) is None:
        print(f"bench-verdict: {C_BIN} missing: run `make c-ref`", file=sys.stderr)
        return 3
    args = cli_flags_003_args(opts.data) + ["-floatfile", "img.bin"]
    runs = {"A": [str(C_BIN), *args],
            "B": [sys.executable, "-m", "simulator", *args, "-dtype", "float64"],
            "compare": [sys.executable, "-m", "app", "compare", "--out", "bundles", "--", *args]}
    times: dict[str, list[float]] = {k: [] for k in runs}
    print(f"CLI-FLAGS-003 2463 x 2527, {os.cpu_count()} cores, {opts.repeat} interleaved run(s)")
    for i in range(opts.repeat):
        times["A"].append(time_process(runs["A"]))
        times["B"].append(time_process(runs["B"]))
        t, verdict = time_to_verdict(runs["compare"])
        times["compare"].append(t)
        print(f"  run {i + 1}: A alone {times['A'][-1]:.2f} s, B alone {times['B'][-1]:.2f} s, compare to verdict "
              f"{t:.2f} s ({verdict[:4]})", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["compare"] / (med["A"] + med["B"])
    print(f"side A alone (nbparity C reference, all cores): {med['A']:.2f} s")
    print(f"side B alone (python -m simulator, float64):     {med['B']:.2f} s")
    print(f"nbparity compare, time to verdict:              {med['compare']:.2f} s")
    print(f"ratio compare / (A + B) = {ratio:.3f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
