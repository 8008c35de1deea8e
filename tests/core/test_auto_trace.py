"""Issue 21: a FAIL that names its cause with no click (app/core/auto_trace.py) — the pixels chosen from the images,
the bounded loop of traces, the sentence in the verdict, and `nbparity compare`'s use of it.

Engines here are ours (our C reference `cref`, φ=0 carry-over on as the real C; our PyTorch engine, off): on a
command line whose first φ tick is exactly 0 they differ at tick 0 only (spec 8.3, decisions D3), which the
shipped known-divergence ledger explains.
"""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from app.core.auto_trace import (REASONS, AutoTraceOptions, auto_trace, choose_pixels, run_on_fail, with_cause)
from app.core.session import ComparisonSession, SessionOptions, SideOptions
from tracing.ledger import load_ledger

# Five φ ticks from exactly 0: the carry-over trigger. 48 x 48 pixels: seconds per run.
CARRY = ("-cell 70 80 90 90 90 90 -default_F 100 -N 5 -lambda 1 -distance 100 -detpixels 48 -pixel 0.4 -phi 0 "
         "-osc 0.5 -phisteps 5 -oversample 1 -nonoise").split()
CARRY_TITLE = "C φ=0 carry-over"


# ---- choosing pixels (synthetic images: the figures are set by hand) -----------------------------------------------
def test_three_distinct_pixels_in_the_order_of_the_issue():
    a = np.full((8, 8), 10.0, dtype=np.float32)
    a[2, 3] = 100.0                      # the peak
    b = a.copy()
    b[5, 5] = 15.0                       # |Δ| 5, rel 0.5: the worst relative error
    b[2, 3] = 108.0                      # |Δ| 8, rel 0.08: the worst absolute difference (and the peak)
    px = choose_pixels(a, b)
    assert [(p.slow, p.fast, p.reason) for p in px] == [
        (5, 5, REASONS[0]), (2, 3, REASONS[1]),
        (0, 0, REASONS[2])]              # the peak is taken: the next brightest (all 10: the first by index)
    assert (px[0].a, px[0].b) == (10.0, 15.0)


def test_a_criterion_with_no_difference_left_chooses_nothing():
    a = np.arange(16, dtype=np.float64).reshape(4, 4) + 1
    b = a.copy()
    b[3, 3] *= 1.01                      # the only difference, at the brightest pixel
    px = choose_pixels(a, b)
    assert [(p.slow, p.fast, p.reason) for p in px] == [(3, 3, REASONS[0]), (3, 2, REASONS[2])]


def test_roi_and_non_finite_pixels_are_never_chosen():
    a = np.ones((10, 10))
    b = np.ones((10, 10))
    b[0, 0] = 50.0                       # the largest difference, outside the ROI
    b[6, 6] = np.nan                     # inside, but not finite
    b[7, 4] = 2.0                        # inside: rel 1.0
    px = choose_pixels(a, b, roi=(3, 8, 5, 9))   # fast 3..8, slow 5..9
    assert all(5 <= p.slow <= 9 and 3 <= p.fast <= 8 for p in px)
    assert (px[0].slow, px[0].fast) == (7, 4)
    assert (6, 6) not in {(p.slow, p.fast) for p in px}


def test_budget_must_be_positive():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number of seconds"):
            AutoTraceOptions(True, bad).validate()


# ---- real engines: cref vs torch on the carry-over case ----------------------------------------------------------
@pytest.fixture(scope="module")
def carry_run(c_binary):
    session = ComparisonSession(list(CARRY), SessionOptions(SideOptions("cref"), SideOptions("torch")))
    a, b = session.run_both()
    assert a.ok and b.ok, (a.error, b.error)
    metrics = session.compare(a.result, b.result)
    return session, a, b, metrics, session.verdict(metrics)


def test_the_verdict_names_quantity_tick_pixel_and_the_ledger(carry_run):
    session, a, b, metrics, verdict = carry_run
    assert not verdict.passed
    auto = run_on_fail(session, a.result, b.result, metrics, verdict, ledger=load_ledger(),
                       options=AutoTraceOptions())
    px = [t.pixel for t in auto.traced]
    assert [p.reason for p in px] == list(REASONS) and len({(p.slow, p.fast) for p in px}) == 3
    # the worst relative error is the metrics' own figure (same bright threshold, same formula)
    assert (px[0].slow, px[0].fast) == tuple(metrics.max_rel_err_pixel)
    assert not auto.cut_short and auto.elapsed_s <= auto.budget_s
    pixel, row = auto.first()
    assert row.tick == 0 or row.stage == "lattice"   # the carry-over: the tick-0 lattice, nothing later
    assert auto.where() == f"φ tick 0 at ({pixel.slow}, {pixel.fast})"
    assert auto.explained_by() == f"{CARRY_TITLE} (known)"
    v = with_cause(verdict, auto)
    s = v.sentence()
    assert s.startswith(f"FAIL — first divergent quantity: {row.name} at φ tick 0 at ({pixel.slow}, {pixel.fast}) "
                        f"(Δ{row.name} ")
    assert f"; explained: {CARRY_TITLE} (known) [" in s
    assert "auto-trace: worst relative error" in s
    # every per-φ row beyond tick 0 agrees on every traced pixel: the cause is tick 0 alone
    for t in auto.traced:
        assert not [r for r in t.diff.rows if r.diverged and r.tick not in (None, 0)], t.pixel


def test_the_budget_cuts_the_loop_short_and_says_so(carry_run):
    """A clock that jumps past the budget once the first pixel is traced (no sleeping, no timing)."""
    session, a, b, metrics, verdict = carry_run
    now = [0.0]

    class Jump:
        def __getattr__(self, name):
            return getattr(session, name)

        def inspect_pixel(self, s, f, cancel=None):
            out = session.inspect_pixel(s, f, cancel)
            now[0] += 11.0
            return out
    pixels = choose_pixels(a.result.image, b.result.image, metrics)
    auto = auto_trace(Jump(), pixels, ledger=load_ledger(), options=AutoTraceOptions(True, 10.0),
                      clock=lambda: now[0])
    assert len(auto.traced) == 1 and [p.reason for p in auto.skipped] == list(REASONS[1:])
    assert auto.cut_short and auto.elapsed_s == 11.0
    s = with_cause(verdict, auto).sentence()
    assert (f"auto-trace: cut short by its budget of 10 s; not traced: worst absolute difference "
            f"({pixels[1].slow}, {pixels[1].fast}), brightest peak ({pixels[2].slow}, {pixels[2].fast})") in s
    assert "first divergent quantity:" in s      # the one traced pixel still names the cause


def test_a_pass_is_not_traced(carry_run):
    session, a, b, metrics, verdict = carry_run
    same = session.verdict(session.compare(a.result, a.result))
    assert same.passed
    assert run_on_fail(session, a.result, a.result, metrics, same, ledger=None, options=AutoTraceOptions()) is None
    assert run_on_fail(session, a.result, b.result, metrics, verdict, ledger=None,
                       options=AutoTraceOptions(enabled=False)) is None


# ---- nbparity compare ---------------------------------------------------------------------------------------------
def _compare(tmp_path, *flags):
    return subprocess.run([sys.executable, "-m", "app", "compare", "--out", str(tmp_path), *flags, "--", *CARRY],
                          capture_output=True, text=True, timeout=600)


def test_compare_prints_the_cause_and_writes_it_to_the_bundle(tmp_path, c_binary):
    r = _compare(tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("FAIL"))
    m = re.match(r"FAIL — first divergent quantity: (\w+) at φ tick 0 at \((\d+), (\d+)\) \(Δ\w+ [0-9.e+-]+\); "
                 rf"explained: {CARRY_TITLE} \(known\) \[", line)
    assert m, line
    assert r.stdout.count("auto-trace, ") == 3
    from app.bundle.bundle_reader import read_bundle
    folder = next(tmp_path.glob("compare-*"))
    back = read_bundle(folder)
    assert back.verdict.cause.startswith(f"first divergent quantity: {m.group(1)} at φ tick 0")
    assert len(back.inspections) == 3
    assert (folder / f"pipeline_s{m.group(2)}_f{m.group(3)}.md").is_file()


def test_compare_no_auto_trace_and_a_bad_budget(tmp_path, c_binary):
    r = _compare(tmp_path, "--no-auto-trace")
    assert r.returncode == 1
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("FAIL"))
    assert "first divergent quantity" not in line and "auto-trace" not in r.stdout
    bad = _compare(tmp_path, "--auto-trace-budget", "-3")
    assert bad.returncode == 3
    assert "--auto-trace-budget" in bad.stderr and "expected a positive number of seconds" in bad.stderr
