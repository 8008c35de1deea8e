"""Benchmark: the same configurations on both engines, time ratio torch/C and peak memory of each.

Run: `python -m app.bench [--threads N] [--repeat K] [--case NAME ...] [--cli-flags-003 DIR]` (or `make bench`).

For every case it measures, each in a separate child process so that peak RSS belongs to one engine alone:
- the C reference (or NB_C_BIN) as a process, OMP_NUM_THREADS=threads;
- the PyTorch engine as a whole process (`python -m simulator ... -dtype D`), imports included;
- the PyTorch engine in-process after one warm-up render (how the app uses it: the engine stays alive), median of K.
torch uses the same thread count as the C. Peak RSS comes from wait4() of each child (ru_maxrss, KiB on Linux).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.known_cases import argv, cli_flags_003_args

REPO = Path(__file__).resolve().parents[1]

CASES: dict[str, list[str]] = {
    "cubic_1024_phi10": argv(
        "-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 6.2 -detpixels 1024 -distance 100 -phi 0 "
        "-osc 1 -phisteps 10 -phi0_carryover off"
    ),
    "triclinic_512_mosaic": argv(
        "-cell 70 80 90 75 85 95 -misset 10 5 3 -default_F 100 -N 8 -lambda 1.5 -detpixels 512 -distance "
        "100 -mosaic 0.3 -mosaic_dom 5 -phi0_carryover off"
    ),
}


@dataclass
class Measure:
    wall_s: float
    peak_rss_mb: float
    extra: dict


def _run_child(cmd: list[str], env: dict, cwd: str) -> tuple[Measure, str]:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit {proc.returncode}:\n{out[-2000:]}")
    return Measure(wall, usage.ru_maxrss / 1024.0, {}), out


def c_binary() -> str:
    return os.environ.get("NB_C_BIN") or str(REPO / "c_reference" / "build" / "nbref")


def measure_c(args: list[str], threads: int) -> Measure:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        m, _ = _run_child([c_binary(), *args, "-floatfile", "c.bin", "-nopgm", "-nonoise"], env, tmp)
    return m


def measure_torch_process(args: list[str], dtype: str, threads: int) -> Measure:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        m, _ = _run_child([sys.executable, "-m", "simulator", *args, "-floatfile", "t.bin", "-nopgm", "-nonoise",
                           "-dtype", dtype], env, tmp)
    return m


def measure_torch_inprocess(args: list[str], dtype: str, threads: int, repeat: int) -> Measure:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    payload = json.dumps({"args": args, "dtype": dtype, "threads": threads, "repeat": repeat})
    with tempfile.TemporaryDirectory() as tmp:
        m, out = _run_child([sys.executable, "-m", "app.bench", "--worker", payload], env, tmp)
    line = [ln for ln in out.splitlines() if ln.startswith("BENCH_WORKER ")][-1]
    times = json.loads(line.split(" ", 1)[1])
    m.wall_s = statistics.median(times)
    m.extra = {"times": times}
    return m


def _worker(payload: str) -> int:
    """Child process: warm-up render, then `repeat` timed renders; prints the times as JSON."""
    import torch
    from simulator.engine import render

    from simulator.argv import parse_argv

    spec = json.loads(payload)
    torch.set_num_threads(spec["threads"])
    cfg = parse_argv(spec["args"]).config
    render(cfg, dtype=spec["dtype"])  # warm-up: allocator, kernels, thread pool
    times = []
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        render(cfg, dtype=spec["dtype"])
        times.append(time.perf_counter() - t0)
    print("BENCH_WORKER " + json.dumps(times), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for both engines")
    ap.add_argument("--repeat", type=int, default=3, help="timed in-process renders (median reported)")
    ap.add_argument("--case", action="append", choices=list(CASES), help="cases to run (default: all)")
    ap.add_argument("--cli-flags-003", metavar="DIR", help="also run the full 2463x2527 CLI-FLAGS-003 case "
                    "(folder with A.mat and scaled.hkl)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.worker:
        return _worker(ns.worker)

    cases = {k: CASES[k] for k in (ns.case or CASES)}
    if ns.cli_flags_003:
        cases["cli_flags_003_full"] = cli_flags_003_args(Path(ns.cli_flags_003)) + ["-phi0_carryover", "on"]
    print(f"threads: {ns.threads} (C: OMP_NUM_THREADS, torch: set_num_threads); C binary: {c_binary()}")
    header = (f"{'case':24s} {'dtype':8s} {'C s':>8s} {'torch proc s':>13s} {'torch inproc s':>15s} "
              f"{'torch/C':>8s} {'C/torch':>8s} {'C RSS MB':>9s} {'torch RSS MB':>13s}")
    print(header)
    print("-" * len(header))
    rows = []
    for name, args in cases.items():
        c = measure_c(args, ns.threads)
        for dtype in ("float32", "float64"):
            proc = measure_torch_process(args, dtype, ns.threads)
            inproc = measure_torch_inprocess(args, dtype, ns.threads, ns.repeat)
            ratio = inproc.wall_s / c.wall_s
            torch_rss = max(proc.peak_rss_mb, inproc.peak_rss_mb)
            print(f"{name:24s} {dtype:8s} {c.wall_s:8.3f} {proc.wall_s:13.3f} {inproc.wall_s:15.3f} "
                  f"{ratio:8.3f} {1 / ratio:8.2f} {c.peak_rss_mb:9.1f} {torch_rss:13.1f}", flush=True)
            rows.append({"case": name, "dtype": dtype, "c_s": c.wall_s, "torch_process_s": proc.wall_s,
                         "torch_inprocess_s": inproc.wall_s, "torch_over_c": ratio, "c_rss_mb": c.peak_rss_mb,
                         "torch_process_rss_mb": proc.peak_rss_mb, "torch_inprocess_rss_mb": inproc.peak_rss_mb})
    print("BENCH_JSON " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
