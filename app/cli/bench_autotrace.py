"""Benchmark: the time issue 21's auto-trace adds to a failing comparison, per case and as a share of it.

Run: `python -m app.cli.bench_autotrace [--data DIR] [--budget S] [--skip-cli-flags-003] [--only TEXT]` (or
`make bench-autotrace`). In one process, per case: side A and side B rendered by the session (the schedule of
`nbparity compare`), the image metrics and verdict (the comparison, timed), then the auto-trace of its chosen pixels
(pixels chosen, both sides traced, pipeline diffs, the shipped ledger tested; timed). A case that passes is still
auto-traced (marked "forced") on three pixels (the next brightest stand in for the worst, which identical images
lack), so every case reports what a FAIL of its size would add.

Cases: CLI-FLAGS-003 (2463 x 2527, ../shared/data/cli-flags-003) with the default sides — our C reference
(φ=0 carry-over on, the real C's behaviour) against our PyTorch engine (off) — which fails on the carry-over; and
every case of the built-in matrix (resources/sweeps/at-parallel.toml) with its own engines. Prints one line per
case and the totals; exit 0, 3 when the C build is missing.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from app.core.auto_trace import AutoTraceOptions, auto_trace, choose_pixels
from app.cli.bench_verdict import C_BIN, DEFAULT_DATA
from app.core.known_cases import cli_flags_003_args
from tracing.ledger import load_ledger

MATRIX = Path(__file__).resolve().parents[2] / "resources" / "sweeps" / "at-parallel.toml"


def measure(name: str, session, budget_s: float, ledger) -> dict:
    """One case: {'name', 'compare_s', 'trace_s', 'share', 'pixels', 'verdict', 'sentence'}."""
    t0 = time.perf_counter()
    a, b = session.run_both()
    if not (a.ok and b.ok):
        raise RuntimeError(f"{name}: {a.error or b.error}")
    metrics = session.compare(a.result, b.result)
    verdict = session.verdict(metrics)
    compare_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pixels = list(choose_pixels(a.result.image, b.result.image, metrics, session.config.output.roi))
    if verdict.passed:   # identical images leave no "worst" pixel: trace the next brightest, as many as a FAIL
        pixels += _brightest(a.result.image, {(p.slow, p.fast) for p in pixels}, 3 - len(pixels))
    res = auto_trace(session, pixels, ledger=ledger, options=AutoTraceOptions(True, budget_s))
    trace_s = time.perf_counter() - t1
    return {"name": name, "compare_s": compare_s, "trace_s": trace_s, "share": trace_s / compare_s,
            "pixels": len(res.traced), "cut": res.cut_short, "verdict": "FAIL" if not verdict.passed else
            "PASS (forced)", "sentence": res.sentence()}


def _brightest(img, taken: set, n: int) -> list:
    """n more pixels of `img`, brightest first, not in `taken` (a passing case's stand-ins for the worst)."""
    from app.core.auto_trace import ChosenPixel
    out = []
    for i in np.argsort(-np.nan_to_num(img, nan=-np.inf), axis=None)[:n + len(taken)]:
        s, f = divmod(int(i), img.shape[1])
        if (s, f) not in taken and len(out) < n:
            out.append(ChosenPixel(s, f, "brightest peak", float(img[s, f]), float(img[s, f])))
    return out


def _line(r: dict) -> str:
    return (f"  {r['name']:<44} compare {r['compare_s']:7.2f} s  auto-trace +{r['trace_s']:6.2f} s "
            f"({r['share']:6.1%}), {r['pixels']} px{' CUT SHORT' if r['cut'] else ''}  {r['verdict']}: "
            f"{r['sentence'][7:]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.cli.bench_autotrace", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"CLI-FLAGS-003 folder (default {DEFAULT_DATA})")
    p.add_argument("--budget", type=float, default=120.0, metavar="S", help="auto-trace budget per case (s)")
    p.add_argument("--skip-cli-flags-003", action="store_true", help="only the built-in matrix")
    p.add_argument("--only", default="", metavar="TEXT", help="only matrix cases whose name contains TEXT")
    opts = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not C_BIN.is_file():
        print(f"bench-autotrace: {C_BIN} missing: run `make c-ref`", file=sys.stderr)
        return 3
    from app.core.session import ComparisonSession, SessionOptions, SideOptions
    from app.sweep.engines import case_session
    from app.sweep.matrix import load_matrix

    ledger = load_ledger()
    load = os.getloadavg()
    print(f"auto-trace cost, {os.cpu_count()} cores, load average {load[0]:.1f} at the start (the machine is "
          "shared: figures move with the load)")
    rows = []
    if not opts.skip_cli_flags_003:
        if (opts.data / "A.mat").is_file():
            s = ComparisonSession(cli_flags_003_args(opts.data), SessionOptions(SideOptions("cref"),
                                                                               SideOptions("torch")))
            rows.append(measure("CLI-FLAGS-003 (cref vs torch)", s, opts.budget, ledger))
            print(_line(rows[-1]), flush=True)
        else:
            print(f"  CLI-FLAGS-003: data not found in {opts.data}; skipped")
    matrix = load_matrix(MATRIX)
    m_rows = []
    for case in matrix.cases:
        if opts.only and opts.only not in case.name:
            continue
        m_rows.append(measure(case.name, case_session(case, None), opts.budget, ledger))
        print(_line(m_rows[-1]), flush=True)
    if m_rows:
        c = sum(r["compare_s"] for r in m_rows)
        t = sum(r["trace_s"] for r in m_rows)
        print(f"built-in matrix, {len(m_rows)} cases: compare {c:.2f} s, auto-trace +{t:.2f} s ({t / c:.1%}); "
              f"per case median +{sorted(r['trace_s'] for r in m_rows)[len(m_rows) // 2]:.2f} s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
